"""The files of one delivery: the court's bulk-upload file, the judge's printable bulk order, the
clerk's per-case checklist, and the DOJ disposition update (PC 13151).

Every writer is deterministic (same rows -> same bytes: sorted rows, no clock inside the files)
and writes with owner+group permissions, fsync'd, so the publisher can rename a complete folder.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

import pipelines.runs  # noqa: F401  (sets the umask: files are not world-readable)
from pipelines import model
from pipelines.delivery.faults import crash_point
from pipelines.delivery.layouts import DeliveryLayout, fixed_width_lines, format_rows, load_layout

FILE_MODE = 0o640

RELIEF_LABELS: dict[str, str] = {
    "dismiss_and_seal": "Dismiss and seal",
    "redesignate_misdemeanor": "Redesignate as misdemeanor",
    "redesignate_infraction": "Redesignate as infraction",
    "recall_and_resentence": "Recall and resentence",
    "review": "Review",
    "none": "No relief",
}
# What DOJ records as the new disposition of the count.
DOJ_DISPOSITIONS: dict[str, str] = {
    "dismiss_and_seal": "DISMISSED AND SEALED",
    "redesignate_misdemeanor": "REDESIGNATED MISDEMEANOR",
    "redesignate_infraction": "REDESIGNATED INFRACTION",
    "recall_and_resentence": "RECALLED AND RESENTENCED",
}

CLERK_CHECKLIST = "clerk_checklist.csv"
JUDGE_SUMMARY = "bulk_order_summary.pdf"
DOJ_UPDATE = "doj_update.csv"
MANIFEST = "manifest.json"

# The DOJ update file, one row per count (documented in docs/delivery.md).
DOJ_UPDATE_FIELDS: tuple[str, ...] = (
    "DELIVERY_ID", "ACTION", "COUNTY", "COURT_CASE_NUMBER", "COUNT_NUMBER", "CII_NUMBER",
    "SUBJECT_ID", "CNT_ORDER", "ORIGINAL_OFFENSE", "ORIGINAL_LEVEL", "CONVICTION_DATE",
    "NEW_DISPOSITION", "NEW_OFFENSE", "NEW_LEVEL", "STATUTORY_BASIS", "ORDER_DATE", "SOURCE",
)


@dataclass(frozen=True)
class DeliveryFile:
    """A file written into a delivery folder, with the number of data rows in it."""

    path: Path
    kind: str  # "court_upload" | "clerk_checklist" | "judge_summary" | "doj_update"
    rows: int


def write_bytes(path: Path, data: bytes) -> Path:
    """Create `path` (it must not exist), write, fsync. Owner and group only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sorted(rows: pl.DataFrame) -> pl.DataFrame:
    return model.conform(rows, model.DELIVERY_ROW, extra=False).sort(
        "court_case_number", "count_number", "delivery_id", "action", nulls_last=True
    )


# ------------------------------------------------------------------------------------------------
# Court bulk-upload file


def write_court_file(rows: pl.DataFrame, layout: DeliveryLayout, directory: Path) -> DeliveryFile:
    """The court's bulk-upload file in the court's layout."""
    rows = _sorted(rows)
    formatted = format_rows(rows, layout)
    path = Path(directory) / layout.file_name
    if layout.kind == "delimited":
        text = formatted.write_csv(
            include_header=layout.header,
            separator=layout.delimiter,
            line_terminator=layout.line_terminator,
            quote_style=layout.quote_style,
            null_value=layout.null_value,
        )
        data = _encode(text, layout)
    elif layout.kind == "fixed_width":
        records = fixed_width_lines(formatted, layout, rows.get_column("delivery_id"))
        text = "".join(record + layout.line_terminator for record in records.to_list())
        data = _encode(text, layout)
    else:
        data = _excel_bytes(formatted, layout)
    write_bytes(path, data)
    return DeliveryFile(path, "court_upload", rows.height)


def _encode(text: str, layout: DeliveryLayout) -> bytes:
    try:
        return text.encode(layout.encoding)
    except UnicodeEncodeError as e:
        from pipelines.errors import AutoclearError  # noqa: PLC0415

        raise AutoclearError(
            f"layout {layout.name!r}: a value cannot be written in {layout.encoding} "
            f"(character {text[e.start]!r}); use an encoding such as utf-8 or clean the names upstream"
        ) from None


def _excel_bytes(formatted: pl.DataFrame, layout: DeliveryLayout) -> bytes:
    import xlsxwriter  # noqa: PLC0415

    buffer = io.BytesIO()
    # Text stays text: never let a value become a formula or a link in the clerk's spreadsheet.
    workbook = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                 "strings_to_numbers": False},
    )
    # A fixed creation date keeps the bytes the same for the same rows.
    workbook.set_properties({"created": datetime(2000, 1, 1, tzinfo=UTC), "title": layout.name})
    formatted.write_excel(
        workbook, worksheet=layout.sheet_name, include_header=layout.header, autofilter=layout.header,
        autofit=False, table_style=None,
    )
    workbook.close()
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------
# Clerk's checklist


def write_clerk_checklist(rows: pl.DataFrame, directory: Path) -> DeliveryFile:
    """Per-case list a clerk works through, one line per count, with an empty CHECKED column."""
    rows = _sorted(rows)
    table = rows.select(
        pl.col("court_case_number").alias("COURT_CASE_NUMBER"),
        pl.col("count_number").alias("COUNT"),
        pl.col("courthouse").alias("COURTHOUSE"),
        pl.col("defendant_name").alias("DEFENDANT"),
        pl.col("dob").dt.strftime("%m/%d/%Y").alias("DOB"),
        pl.col("statute_as_convicted").alias("STATUTE_AS_CONVICTED"),
        pl.col("level_as_convicted").alias("LEVEL"),
        pl.col("conviction_date").dt.strftime("%m/%d/%Y").alias("CONVICTION_DATE"),
        pl.col("action").str.to_uppercase().alias("ACTION"),
        pl.col("relief").replace_strict(RELIEF_LABELS, default=pl.col("relief")).alias("RELIEF"),
        pl.concat_str(pl.col("resulting_section"), pl.col("resulting_level"), separator=" ", ignore_nulls=True)
        .alias("RESULT"),
        pl.col("statutory_basis").alias("STATUTORY_BASIS"),
        pl.when(pl.col("da_challenged")).then(pl.lit("YES")).alias("DA_CHALLENGED"),
        pl.col("delivery_id").alias("DELIVERY_ID"),
        pl.lit(None, pl.String).alias("CHECKED"),
    ).with_columns(pl.col(pl.String).str.replace_all(r"[\x00-\x1f\x7f]", " "))
    path = Path(directory) / CLERK_CHECKLIST
    write_bytes(path, table.write_csv(line_terminator="\r\n").encode())
    return DeliveryFile(path, "clerk_checklist", rows.height)


# ------------------------------------------------------------------------------------------------
# DOJ disposition update (PC 13151)


def doj_update_frame(rows: pl.DataFrame, order_dates: pl.DataFrame | None = None) -> pl.DataFrame:
    """The DOJ update rows: counts the court orders on, with the new disposition.

    Counts the DA challenged are left out (no order without a hearing). ``order_dates``
    (delivery_id, order_date) fills ORDER_DATE once the court has ruled; until then it is blank.
    """
    rows = _sorted(rows).filter(~pl.col("da_challenged").fill_null(False))
    if order_dates is not None:
        rows = rows.join(
            order_dates.select("delivery_id", pl.col("order_date").cast(pl.Date)), on="delivery_id", how="left"
        )
    else:
        rows = rows.with_columns(pl.lit(None, pl.Date).alias("order_date"))
    doj = pl.col("count_id").str.starts_with("doj:")
    parts = pl.col("count_id").str.split(":")
    return rows.select(
        pl.col("delivery_id").alias("DELIVERY_ID"),
        pl.col("action").str.to_uppercase().alias("ACTION"),
        pl.col("county").alias("COUNTY"),
        pl.col("court_case_number").alias("COURT_CASE_NUMBER"),
        pl.col("count_number").alias("COUNT_NUMBER"),
        pl.col("cii").alias("CII_NUMBER"),
        pl.when(doj).then(parts.list.get(1, null_on_oob=True)).alias("SUBJECT_ID"),
        pl.when(doj).then(parts.list.get(2, null_on_oob=True)).alias("CNT_ORDER"),
        pl.col("statute_as_convicted").alias("ORIGINAL_OFFENSE"),
        pl.col("level_as_convicted").alias("ORIGINAL_LEVEL"),
        pl.col("conviction_date").dt.strftime("%Y%m%d").alias("CONVICTION_DATE"),
        pl.col("relief").replace_strict(DOJ_DISPOSITIONS, default=None, return_dtype=pl.String)
        .alias("NEW_DISPOSITION"),
        pl.col("resulting_section").alias("NEW_OFFENSE"),
        pl.col("resulting_level").alias("NEW_LEVEL"),
        pl.col("statutory_basis").alias("STATUTORY_BASIS"),
        pl.col("order_date").dt.strftime("%Y%m%d").alias("ORDER_DATE"),
        pl.col("source").str.to_uppercase().alias("SOURCE"),
    )


def write_doj_update(
    rows: pl.DataFrame, directory: Path, order_dates: pl.DataFrame | None = None, *, name: str = DOJ_UPDATE
) -> DeliveryFile:
    """Write the DOJ disposition update (see `doj_update_frame`)."""
    table = doj_update_frame(rows, order_dates)
    path = Path(directory) / name
    write_bytes(path, table.write_csv(line_terminator="\r\n").encode())
    return DeliveryFile(path, "doj_update", table.height)


# ------------------------------------------------------------------------------------------------
# The judge's printable bulk order summary


def _latin1(value: object) -> str:
    # The PDF core fonts are Latin-1; names were transliterated upstream, this only guards.
    return ("" if value is None else str(value)).encode("latin-1", "replace").decode("latin-1")


def write_judge_summary(
    rows: pl.DataFrame,
    directory: Path,
    *,
    county: str | None = None,
    delivery_name: str = "",
    document_date: date | None = None,
) -> DeliveryFile:
    """A PDF for the presiding judge: totals by relief, then every case, grouped by relief.

    Counts the DA challenged and withdrawals of earlier requests are listed in their own
    sections, outside the proposed order.
    """
    from fpdf import FPDF  # noqa: PLC0415
    from fpdf.fonts import FontFace  # noqa: PLC0415

    rows = _sorted(rows)
    county = county or (rows.get_column("county").drop_nulls().first() if rows.height else "") or ""
    title = f"Superior Court of California, County of {str(county).title()}"
    subtitle = "Bulk order: Health and Safety Code section 11361.9 (Proposition 64, AB 1793)"
    stamp = datetime.combine(document_date or date(2000, 1, 1), datetime.min.time(), tzinfo=UTC)

    class Summary(FPDF):
        def header(self) -> None:
            self.set_font("Helvetica", "", 8)
            self.cell(0, 5, _latin1(f"{title}  |  {subtitle}  |  delivery {delivery_name}"), align="L")
            self.ln(7)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("Helvetica", "", 8)
            self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")

    pdf = Summary(orientation="L", unit="mm", format="Letter")
    pdf.set_creation_date(stamp)
    pdf.set_title(_latin1(subtitle))
    pdf.set_creator("autoclear")
    pdf.set_producer("autoclear")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 6, _latin1(subtitle), new_x="LMARGIN", new_y="NEXT")
    if document_date:
        pdf.cell(0, 6, f"Determinations as of {document_date:%B %d, %Y}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(
        0, 5,
        "The counts below were identified under Health and Safety Code section 11361.9 and were not "
        "challenged by the prosecution unless listed under 'Challenged by the District Attorney'. "
        "Each count carries a delivery id that matches the court's bulk-upload file and the clerk's checklist.",
        new_x="LMARGIN", new_y="NEXT",
    )
    pdf.ln(3)

    ordered = rows.filter((pl.col("action") != "withdrawal") & ~pl.col("da_challenged").fill_null(False))
    challenged = rows.filter((pl.col("action") != "withdrawal") & pl.col("da_challenged").fill_null(False))
    withdrawn = rows.filter(pl.col("action") == "withdrawal")

    totals = (
        ordered.group_by("relief")
        .agg(
            pl.len().alias("counts"),
            pl.col("court_case_number").n_unique().alias("cases"),
            pl.struct("defendant_name", "dob").n_unique().alias("defendants"),
        )
        .sort("relief")
    )
    head = FontFace(emphasis="BOLD", fill_color=(230, 230, 230))
    pdf.set_font("Helvetica", "", 10)
    with pdf.table(col_widths=(80, 30, 30, 30), width=170, align="LEFT", headings_style=head,
                   text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT")) as table:
        table.row(["Relief", "Counts", "Cases", "Defendants"])
        for relief, n_counts, n_cases, n_people in totals.iter_rows():
            table.row([_latin1(RELIEF_LABELS.get(relief, relief)), str(n_counts), str(n_cases), str(n_people)])
        table.row(["Challenged by the District Attorney", str(challenged.height),
                   str(challenged.get_column("court_case_number").n_unique()), ""])
        table.row(["Withdrawn from earlier deliveries", str(withdrawn.height),
                   str(withdrawn.get_column("court_case_number").n_unique()), ""])

    def case_table(frame: pl.DataFrame, heading: str) -> None:
        if frame.height == 0:
            return
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(0, 7, _latin1(f"{heading} ({frame.height} counts)"), new_x="LMARGIN", new_y="NEXT")
        # One monospaced line per count, laid out by Polars: tens of thousands of rows render in
        # seconds (fpdf2's table() lays out every cell and takes minutes).
        columns = (  # (heading, width in characters, right-aligned)
            ("Case number", 16, False), ("Count", 5, True), ("Defendant", 32, False), ("As convicted", 15, False),
            ("Lvl", 3, False), ("Convicted", 10, False), ("Result", 18, False), ("Action", 10, False),
            ("Delivery id", 26, False),
        )
        values = frame.select(
            pl.col("court_case_number"),
            pl.col("count_number").cast(pl.String),
            pl.col("defendant_name"),
            pl.col("statute_as_convicted"),
            pl.col("level_as_convicted"),
            pl.col("conviction_date").dt.strftime("%m/%d/%Y"),
            pl.when(pl.col("resulting_section").is_null() & (pl.col("relief") == "dismiss_and_seal"))
            .then(pl.lit("dismissed, sealed"))
            .otherwise(pl.concat_str(pl.col("resulting_section"), pl.col("resulting_level"), separator=" ",
                                     ignore_nulls=True)),
            pl.col("action"),
            pl.col("delivery_id"),
        ).fill_null("")
        lines = values.select(
            pl.concat_str(
                [
                    (pl.col(c).str.slice(0, w).str.pad_start(w) if right else pl.col(c).str.slice(0, w).str.pad_end(w))
                    for c, (_, w, right) in zip(values.columns, columns, strict=True)
                ],
                separator=" ",
            ).alias("line")
        ).get_column("line")
        heading = " ".join(h.rjust(w) if right else h.ljust(w) for h, w, right in columns)
        height = 4.2

        def heading_row() -> None:
            pdf.set_font("Courier", "B", 7.5)
            pdf.cell(0, height, heading, border="B", new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Courier", "", 7.5)

        pdf.set_fill_color(242, 242, 242)
        heading_row()
        # Each line is placed as cell(0, height, line, fill=odd) would place it, but with text()
        # and rect(): cell() lays out every line (fragments, widths) and costs 4x as much.
        left, width = pdf.l_margin, pdf.epw
        for i, line in enumerate(lines.to_list()):
            if pdf.get_y() + height > pdf.page_break_trigger:
                pdf.add_page()
                heading_row()
            y = pdf.get_y()
            if i % 2 == 1:
                pdf.rect(left, y, width, height, style="F")
            pdf.text(left + pdf.c_margin, y + 0.5 * height + 0.3 * pdf.font_size, _latin1(line))
            pdf.set_y(y + height)

    for relief in [r for r in RELIEF_LABELS if r in set(ordered.get_column("relief").to_list())]:
        case_table(ordered.filter(pl.col("relief") == relief), RELIEF_LABELS[relief])
    case_table(challenged, "Challenged by the District Attorney (not part of this order)")
    case_table(withdrawn, "Withdrawn: earlier requests the court should not act on")

    pdf.ln(12)
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 8, "Date: ____________________        Judge of the Superior Court: ______________________________")
    path = Path(directory) / JUDGE_SUMMARY
    write_bytes(path, bytes(pdf.output()))
    return DeliveryFile(path, "judge_summary", ordered.height + challenged.height + withdrawn.height)


# ------------------------------------------------------------------------------------------------


def write_all(
    rows: pl.DataFrame,
    layout: DeliveryLayout | str | None,
    directory: Path,
    *,
    county: str | None = None,
    delivery_name: str = "",
    document_date: date | None = None,
) -> list[DeliveryFile]:
    """Write every data file of one delivery into `directory` (which must exist)."""
    layout = load_layout(layout)
    directory = Path(directory)
    files = [write_court_file(rows, layout, directory)]
    crash_point("mid_write")
    files.append(write_clerk_checklist(rows, directory))
    files.append(write_doj_update(rows, directory))
    files.append(
        write_judge_summary(rows, directory, county=county, delivery_name=delivery_name,
                            document_date=document_date)
    )
    return files


def write_delivery_files(
    rows: pl.DataFrame, layout: DeliveryLayout | str | None, staging_dir: str | os.PathLike, **kwargs
) -> list[Path]:
    """Write the court file (in `layout`), the clerk checklist, the DOJ update and the judge's PDF.

    Returns the paths written. `kwargs`: county, delivery_name, document_date (see `write_all`).
    """
    return [f.path for f in write_all(rows, layout, Path(staging_dir), **kwargs)]


# ------------------------------------------------------------------------------------------------
# Reading a delivery's files back (what the validation gate compares with the ledger)


def read_back(directory: str | os.PathLike, layout: DeliveryLayout | str | None) -> pl.DataFrame:
    """The data rows of a delivery's court file (in its layout) and clerk checklist, as they are on
    disk: one row per data row, with ``file``, ``action`` and ``delivery_id`` (null where the file
    does not carry them). Read from the bytes written, not from the frame they were written from,
    so a writer that drops or repeats a row is seen."""
    layout = load_layout(layout)
    directory = Path(directory)
    court = _read_court_file(directory / layout.file_name, layout)
    field_of = {f.column: f for f in layout.fields if f.column}

    def value(column: str) -> pl.Expr:
        f = field_of.get(column)
        if f is None:
            return pl.lit(None, pl.String)
        text = pl.col(f.name).cast(pl.String).str.strip_chars()
        if f.codes:  # the code as written back to our value (codes may have been upper-cased)
            text = text.str.to_uppercase().replace({code.upper(): v for v, code in f.codes.items()})
        return text

    court = court.with_columns(  # with_columns: a layout without action or id still has its rows
        pl.lit(layout.file_name).alias("_file"),
        value("action").str.to_lowercase().alias("_action"),
        value("delivery_id").alias("_delivery_id"),
    ).select(pl.col("_file").alias("file"), pl.col("_action").alias("action"), pl.col("_delivery_id").alias("delivery_id"))
    clerk = pl.read_csv(directory / CLERK_CHECKLIST, infer_schema=False, columns=["DELIVERY_ID", "ACTION"]).select(
        pl.lit(CLERK_CHECKLIST).alias("file"),
        pl.col("ACTION").str.to_lowercase().alias("action"),
        pl.col("DELIVERY_ID").alias("delivery_id"),
    )
    return pl.concat([court, clerk])


def _read_court_file(path: Path, layout: DeliveryLayout) -> pl.DataFrame:
    """The court file's records, every field as text, columns named as the layout's fields."""
    names = [f.name for f in layout.fields]
    if layout.kind == "excel":
        return pl.read_excel(path, sheet_name=layout.sheet_name, infer_schema_length=0)
    text = path.read_bytes().decode(layout.encoding)
    if layout.kind == "delimited":
        return pl.read_csv(
            text.encode(), has_header=layout.header, new_columns=None if layout.header else names,
            separator=layout.delimiter, infer_schema=False, quote_char=None if layout.quote_style == "never" else '"',
        )
    records = pl.Series("record", text.split(layout.line_terminator)[:-1] if text else [], pl.String)
    parts, start = [], 0
    for f in layout.fields:
        parts.append(pl.col("record").str.slice(start, f.width).alias(f.name))
        start += f.width or 0
    return records.to_frame().select(parts)
