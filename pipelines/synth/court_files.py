"""Write the court view as files in a court-extract layout (config/layouts/<name>.yaml).

The layout, loaded and validated by the court reader's own `load_layout`, is the contract: its
kind, encoding, delimiter, quoting, header, record length, end marker, and for each canonical
field its column(s), index(es) or fixed positions and its date or name format decide what is
written where. Nothing about a layout's positions or column names is hard-coded here, so a court
added as YAML can be generated as well as read. A field mapped to several columns (SF's
``[Current Charge, Booked Charge]``) is written to each of them. The only layout-specific
knowledge is the real San Francisco extract's column order and its columns that carry no
canonical field (DOMAIN.md section 4), so an ``sf_cms`` file looks like the real one.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import polars as pl

from pipelines.errors import ConfigError
from pipelines.sources.court import Layout, load_layout
from pipelines.synth.court_view import ExtractRows
from pipelines.synth.tables import date_text

WRITE_CHUNK = 250_000  # rows formatted and written at a time
EXCEL_MAX_ROWS = 1_000_000  # one sheet holds 1,048,576 rows, and the reader reads the first sheet
DATE_FORMATS = {"YYYYMMDD": "%Y%m%d", "MMDDYY": "%m%d%y", "MM/DD/YYYY": "%m/%d/%Y", "YYYY-MM-DD": "%Y-%m-%d"}
DATE_FIELDS = ("dob", "offense_date", "filed_date", "disposition_date")
WRITABLE_KINDS = ("delimited", "fixed_width", "excel", "parquet")

# The real San Francisco extract's columns, in order (the sample's header).
SF_COLUMNS = (
    "Court Number", "Ind", "Incident Number", "Truename", "Case Level", "Case Dispo", "Case Disposition Description",
    "Dispo Date", "Action Number", "1st Filed", "Charge Level", "Charge Date", "Current Charge", "Current Level",
    "Current Charge Description", "Chg Disp", "Charge Disposition Description", "Ch Dispo Date", "Booked Charge",
    "Booked Charge Level", "Booked Charge Date", "Race", "Sex", "DOB", "SFNO", "CII", "FBI", "SSN", "DL Number",
)


def _norm(name: str) -> str:
    return " ".join(name.split()).lower()


def _date(col: str, fmt: str | None) -> pl.Expr:
    return date_text(pl.col(col), DATE_FORMATS.get(fmt or "YYYY-MM-DD", "%Y-%m-%d"))


def _full_name(fmt: str | None) -> pl.Expr:
    """The defendant's name in one field, in the layout's declared form."""
    last, first, middle, suffix = (pl.col(c).fill_null("") for c in ("last_name", "first_name", "middle_name", "name_suffix"))

    def words(*parts: pl.Expr) -> pl.Expr:
        return pl.concat_str(*parts, separator=" ").str.replace_all(r"\s+", " ").str.strip_chars()

    fmt = (fmt or "LAST, FIRST MIDDLE").upper()
    if fmt == "LAST/FIRST/MIDDLE":
        tail = words(middle, suffix)
        return pl.concat_str(last, pl.lit("/"), first, pl.when(tail != "").then(pl.lit("/") + tail).otherwise(pl.lit("")))
    if fmt == "LAST,FIRST M":
        return pl.concat_str(last, pl.lit(","), words(first, middle.str.slice(0, 1), suffix))
    if fmt == "LAST FIRST MIDDLE":
        return words(last, first, middle, suffix)
    if fmt == "FIRST MIDDLE LAST":
        return words(first, middle, last, suffix)
    return pl.concat_str(last, pl.lit(", "), words(first, middle, suffix))


def _value(field: str, fmt: str | None) -> pl.Expr:
    """A canonical field of the court view, formatted as text for the layout."""
    if field == "name":
        return _full_name(fmt)
    if field == "case_number":
        return pl.col("court_case_number")
    if field in DATE_FIELDS:
        return _date(field, fmt)
    if field == "count_number":
        return pl.col("count_number").cast(pl.String)
    if field == "middle_name":  # separate name fields: a suffix rides with the middle name
        middle = pl.concat_str(pl.col("middle_name").fill_null(""), pl.col("name_suffix").fill_null(""), separator=" ").str.strip_chars()
        return pl.when(middle != "").then(middle)
    return pl.col(field).cast(pl.String)


def _sf_unmapped() -> dict[str, pl.Expr]:
    """Values for the SF columns that carry no canonical field."""
    digits = pl.col("court_case_number").str.replace_all(r"\D", "")
    return {
        "ind": pl.lit(None, pl.String),
        "incident number": pl.concat_str(pl.lit("A"), digits.str.slice(0, 7).str.zfill(7)),
        "action number": pl.concat_str(pl.lit("M"), digits.str.slice(-5).str.zfill(5)),
        "1st filed": date_text(pl.col("filed_date"), "%m%d%y"),
    }


def format_rows(rows: pl.DataFrame | ExtractRows, layout: Layout) -> tuple[list[str], pl.DataFrame]:
    """(file column names, frame of text columns in file order) for a delimited, Excel or
    Parquet layout; for fixed width, one column per field keyed by its position."""
    exprs: dict[str, pl.Expr] = {}
    names: dict[str, str] = {}  # key -> header name
    for field, spec in layout.fields.items():
        if spec.value is not None:
            continue  # a constant the reader supplies itself
        if field not in rows.columns and field not in ("name", "case_number"):
            continue  # a field the generator does not produce
        value = _value(field, spec.format)
        if layout.name == "sf_cms" and field == "name":
            value = value.str.pad_end(16)  # SF pads Truename to 16 characters
        if spec.start is not None:
            exprs[f"pos:{spec.start}:{spec.end}"] = value
        for col in spec.columns:
            exprs.setdefault(f"col:{_norm(col)}", value)
            names.setdefault(f"col:{_norm(col)}", col)
        for i in spec.indexes:
            exprs.setdefault(f"idx:{i}", value)
    if layout.name == "sf_cms":
        for col in SF_COLUMNS:
            key = f"col:{_norm(col)}"
            if key not in exprs:
                exprs[key] = _sf_unmapped().get(_norm(col), pl.lit(None, pl.String))
                names[key] = col
        sf_order = [f"col:{_norm(c)}" for c in SF_COLUMNS]
        order = sf_order + [k for k in exprs if k not in sf_order]
    elif layout.kind == "fixed_width":
        order = sorted(exprs, key=lambda k: int(k.split(":")[1]))
    elif any(k.startswith("idx:") for k in exprs):  # headerless: every position up to the last
        top = max(int(k.split(":")[1]) for k in exprs if k.startswith("idx:"))
        if layout.end_marker is not None:
            at = layout.end_marker.index if layout.end_marker.index is not None else top + 1
            exprs[f"idx:{at}"] = pl.lit(layout.end_marker.value)
            top = max(top, at)
        order = [f"idx:{i}" for i in range(top + 1)]
        for k in order:
            exprs.setdefault(k, pl.lit(None, pl.String))
    else:
        order = list(exprs)
        if layout.end_marker is not None and layout.kind == "delimited":
            exprs["marker"] = pl.lit(layout.end_marker.value)
            names["marker"] = ""  # SF's marker column has an empty header
            order.insert(layout.end_marker.index if layout.end_marker.index is not None else len(order), "marker")
    if layout.name == "sf_cms" and layout.end_marker is not None and "marker" not in order:
        exprs["marker"] = pl.lit(layout.end_marker.value)
        order.append("marker")
    frame = rows.select([exprs[k].alias(k) for k in order])
    return [names.get(k, "") for k in order], frame


def write_extract(rows: pl.DataFrame | ExtractRows, layout: Layout | str | os.PathLike, base: Path) -> list[Path]:
    """Write `rows` (the court view's canonical columns: a frame, or an extract of a CourtView,
    formatted a slice at a time) in `layout` as `base`.<ext>: .csv,
    .txt (fixed width), .xlsx (several files past one sheet's rows) or .parquet. Returns the
    paths written (mode 0o660)."""
    if not isinstance(layout, Layout):
        layout = load_layout(layout)
    if layout.kind not in WRITABLE_KINDS:
        raise ConfigError(
            f"layout {layout.name!r} is of kind {layout.kind!r}, which cannot be generated as a file; "
            "generate generic_csv or generic_parquet and load it into the database"
        )
    header, _ = format_rows(rows.slice(0, 0), layout)

    def chunks():
        # Format and write a bounded number of rows at a time (memory stays flat on large extracts).
        for offset in range(0, max(rows.height, 1), WRITE_CHUNK):
            yield format_rows(rows.slice(offset, WRITE_CHUNK), layout)[1]

    # Blank fields are nulls, written bare (an empty string would be written as "").
    base.parent.mkdir(parents=True, exist_ok=True, mode=0o770)
    encoding = layout.encoding
    paths: list[Path] = []
    if layout.kind == "delimited":
        path = base.with_suffix(".csv")
        sep, quote = layout.delimiter, layout.quote_char
        utf8 = encoding.replace("-", "") == "utf8"
        with open(path, "wb") as f:
            buf = f if utf8 else io.BytesIO()
            if layout.header:
                quoted = [f'"{n}"' if quote and (sep in n or quote in n) else n for n in header]
                buf.write((sep.join(quoted) + "\n").encode("utf-8"))
            for frame in chunks():
                frame.write_csv(buf, separator=sep, quote_char=quote or '"', quote_style="necessary" if quote else "never",
                                include_header=False)
            if not utf8:
                f.write(buf.getvalue().decode("utf-8").encode(encoding, errors="replace"))
        paths.append(path)
    elif layout.kind == "fixed_width":
        path = base.with_suffix(".txt")
        segments: list[pl.Expr] = []
        cursor = 1
        keys = sorted(format_rows(rows.slice(0, 0), layout)[1].columns, key=lambda k: int(k.split(":")[1]))
        for key in keys:
            start, end = (int(x) for x in key.split(":")[1:])
            if start < cursor:
                continue  # overlapping positions: the earlier field wins
            if start > cursor:
                segments.append(pl.lit(" " * (start - cursor)))
            width = end - start + 1
            segments.append(pl.col(key).fill_null("").str.slice(0, width).str.pad_end(width))
            cursor = end + 1
        if layout.record_length and layout.record_length >= cursor:
            segments.append(pl.lit(" " * (layout.record_length - cursor + 1)))
        line = (pl.concat_str(segments) if segments else pl.lit("")).alias("line")
        with open(path, "wb") as f:
            for frame in chunks():
                buf = io.BytesIO()
                frame.select(line).write_csv(buf, include_header=False, quote_style="never")
                f.write(buf.getvalue() if encoding.replace("-", "") == "utf8"
                        else buf.getvalue().decode("utf-8").encode(encoding, errors="replace"))
        paths.append(path)
    elif layout.kind == "parquet":
        path = base.with_suffix(".parquet")
        frame = pl.concat(list(chunks()))
        frame.rename(dict(zip(frame.columns, header, strict=True))).write_parquet(path, compression="zstd", statistics=False)
        paths.append(path)
    else:  # excel
        frame = pl.concat(list(chunks()))
        named = frame.rename(dict(zip(frame.columns, header, strict=True)))
        n_files = max(1, -(-named.height // EXCEL_MAX_ROWS))
        for i in range(n_files):
            path = base.with_name(f"{base.name}_part{i + 1:02d}" if n_files > 1 else base.name).with_suffix(".xlsx")
            _write_excel(named.slice(i * EXCEL_MAX_ROWS, EXCEL_MAX_ROWS), path, layout.sheet or "extract")
            paths.append(path)
    for p in paths:
        os.chmod(p, 0o660)
    return paths


def _write_excel(frame: pl.DataFrame, path: Path, sheet: str) -> None:
    """An .xlsx with a fixed creation date, so the same rows give the same bytes."""
    import datetime as dt

    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"created": dt.datetime(2020, 1, 1)})
    frame.write_excel(workbook=wb, worksheet=sheet, autofit=False, table_style=None, header_format=None)
    wb.close()
