"""Write the court view as files in a court-extract layout (config/layouts/<name>.yaml).

The layout YAML is the contract shared with the court reader (pipelines/sources/court.py): its
``kind``, ``encoding``, ``delimiter``, ``quote_char``, ``header`` and each canonical field's
``column`` / ``index`` / ``start``-``end`` and ``format`` decide what is written where. Nothing
about a layout's positions or column names is hard-coded here, so a layout added as YAML can be
generated as well as read. Only the columns of the real San Francisco extract that its layout does
not map (markers such as ``EOR``) are added from the SF header in DOMAIN.md section 4.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from pipelines.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
LAYOUT_DIR = ROOT / "config" / "layouts"
EXCEL_MAX_ROWS = 1_000_000  # one sheet holds 1,048,576 rows; the reader reads the first sheet only

DATE_FORMATS = {"YYYYMMDD": "%Y%m%d", "MMDDYY": "%m%d%y", "MM/DD/YYYY": "%m/%d/%Y", "YYYY-MM-DD": "%Y-%m-%d"}
DATE_FIELDS = ("dob", "offense_date", "filed_date", "disposition_date")
NAME_FIELDS = ("last_name", "first_name", "middle_name")
EXTENSIONS = {"delimited": "csv", "fixed_width": "txt", "excel": "xlsx", "parquet": "parquet"}

# The real San Francisco extract (DOMAIN.md section 4; ../shared/fixtures/court_cms_sf/): its
# columns in order, the marker values of columns a layout has no field for, and derived columns.
SF_COLUMNS = (
    "Court Number", "Ind", "Incident Number", "Truename", "Case Level", "Case Dispo", "Case Disposition Description",
    "Dispo Date", "Action Number", "1st Filed", "Charge Level", "Charge Date", "Current Charge", "Current Level",
    "Current Charge Description", "Chg Disp", "Charge Disposition Description", "Ch Dispo Date", "Booked Charge",
    " Booked Charge Level", " Booked Charge Date", " Race", "Sex", "DOB", "SFNO", "CII", "FBI", "SSN", "DL Number", "",
)


def layout_path(layout: str | os.PathLike) -> Path:
    """A layout name (``generic_csv``) or a path to a layout YAML file."""
    p = Path(layout)
    if p.suffix in (".yaml", ".yml"):
        return p
    return LAYOUT_DIR / f"{layout}.yaml"


def load_layout_spec(layout: str | os.PathLike) -> dict[str, Any]:
    """The layout YAML as a dict (the shape of the court-extract layout contract)."""
    path = layout_path(layout)
    if not path.is_file():
        known = sorted(p.stem for p in LAYOUT_DIR.glob("*.yaml")) if LAYOUT_DIR.is_dir() else []
        raise ConfigError(f"court layout {str(layout)!r} not found at {path}; known layouts: {', '.join(known) or 'none'}")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(spec, dict) or not isinstance(spec.get("fields"), dict):
        raise ConfigError(f"{path}: a layout needs a 'fields' mapping")
    spec.setdefault("name", path.stem)
    return spec


def _date(col: str, fmt: str | None) -> pl.Expr:
    return pl.col(col).dt.strftime(DATE_FORMATS.get(fmt or "YYYY-MM-DD", "%Y-%m-%d"))


def _full_name(fmt: str | None) -> pl.Expr:
    """The defendant's name in one field, in the layout's declared form."""
    last, first, middle, suffix = (pl.col(c).fill_null("") for c in ("last_name", "first_name", "middle_name", "name_suffix"))
    given = pl.concat_str(first, middle, suffix, separator=" ").str.replace_all(r"\s+", " ").str.strip_chars()
    fmt = (fmt or "LAST, FIRST MIDDLE").upper()
    if fmt == "LAST/FIRST/MIDDLE":
        tail = pl.concat_str(middle, suffix, separator=" ").str.strip_chars()
        return pl.concat_str(last, pl.lit("/"), first, pl.when(tail != "").then(pl.lit("/") + tail).otherwise(pl.lit("")))
    if fmt == "LAST,FIRST M":
        return pl.concat_str(last, pl.lit(","), pl.concat_str(first, middle.str.slice(0, 1), suffix, separator=" ")
                             .str.replace_all(r"\s+", " ").str.strip_chars())
    if fmt == "LAST FIRST MIDDLE":
        return pl.concat_str(last, given, separator=" ").str.strip_chars()
    if fmt == "FIRST MIDDLE LAST":
        return pl.concat_str(first, middle, last, suffix, separator=" ").str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.concat_str(last, pl.lit(", "), given)


def _field_value(field: str, spec: dict[str, Any]) -> pl.Expr:
    fmt = spec.get("format")
    if field == "name":
        return _full_name(fmt)
    if field == "case_number":
        return pl.col("court_case_number")
    if field in DATE_FIELDS:
        return _date(field, fmt)
    if field == "count_number":
        return pl.col("count_number").cast(pl.String)
    if field == "middle_name":
        return pl.concat_str(pl.col("middle_name").fill_null(""), pl.col("name_suffix").fill_null(""), separator=" ").str.strip_chars()
    return pl.col(field).cast(pl.String)


def format_rows(rows: pl.DataFrame, spec: dict[str, Any]) -> tuple[list[str], pl.DataFrame]:
    """(file column names, frame of strings in file order) for a layout."""
    fields: dict[str, dict] = spec["fields"]
    sf = spec.get("name") == "sf_cms"
    exprs: dict[str, pl.Expr] = {}
    positions: dict[str, tuple] = {}
    for field, fspec in fields.items():
        if not isinstance(fspec, dict):
            continue
        if field not in rows.columns and field not in ("name", "case_number") and field not in NAME_FIELDS:
            continue  # a field the generator does not produce (e.g. a court's own flags)
        col = fspec.get("column")
        idx = fspec.get("index")
        key = col if col is not None else f"__index_{idx}" if idx is not None else f"__pos_{fspec.get('start')}"
        value = _field_value(field, fspec)
        if sf and field == "name":
            value = value.str.pad_end(16)  # SF pads Truename to 16 characters
        exprs[key] = value.fill_null("")
        positions[key] = (idx if idx is not None else 10**6, fspec.get("start") or 0, len(positions), fspec)
    if sf:
        for extra, value in _sf_extras(fields).items():
            exprs.setdefault(extra, value)
        order = [c for c in SF_COLUMNS if c in exprs] + [c for c in exprs if c not in SF_COLUMNS]
    else:
        order = sorted(exprs, key=lambda k: positions[k][:3])
        if any(k.startswith("__index_") for k in order):  # headerless by index: fill the gaps
            top = max(int(k.rsplit("_", 1)[1]) for k in order if k.startswith("__index_"))
            for i in range(top + 1):
                exprs.setdefault(f"__index_{i}", pl.lit(""))
            order = [f"__index_{i}" for i in range(top + 1)]
    frame = rows.select([exprs[k].alias(k) for k in order])
    return order, frame


def _sf_extras(fields: dict[str, dict]) -> dict[str, pl.Expr]:
    """SF columns a layout does not map: case-level values, booked charge, and the EOR marker."""
    level = pl.col("charge_level").replace({"F": "FEL", "M": "MISD", "I": "INF"})
    return {
        "Ind": pl.lit(""),
        "Incident Number": pl.concat_str(pl.lit("A"), pl.col("court_case_number").str.replace_all(r"\D", "").str.slice(0, 7).str.zfill(7)),
        "Case Level": level,
        "Action Number": pl.concat_str(pl.lit("M"), pl.col("court_case_number").str.replace_all(r"\D", "").str.slice(-5).str.zfill(5)),
        "1st Filed": pl.col("filed_date").dt.strftime("%m%d%y").fill_null(""),
        "Booked Charge": pl.col("charge").fill_null(""),
        " Booked Charge Level": pl.col("charge_level").fill_null(""),
        " Booked Charge Date": pl.col("offense_date").dt.strftime("%m%d%y").fill_null(""),
        "": pl.lit("EOR"),
    }


def _encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


def write_extract(rows: pl.DataFrame, spec: dict[str, Any], base: Path) -> list[Path]:
    """Write `rows` (the court view's canonical columns) in the layout `spec` as `base`.<ext>
    (several files for Excel past one sheet's rows). Returns the paths written (mode 0o660)."""
    kind = spec.get("kind", "delimited")
    if kind not in EXTENSIONS:
        raise ConfigError(
            f"layout {spec.get('name')!r} is of kind {kind!r}, which the generator cannot write as a file; "
            "generate generic_csv or generic_parquet and load it into the database instead"
        )
    columns, frame = format_rows(rows, spec)
    frame = frame.with_columns(pl.all().replace("", None))  # blank fields bare, not ""
    header_names = [("" if c.startswith("__") else c) for c in columns]
    base.parent.mkdir(parents=True, exist_ok=True, mode=0o770)
    encoding = str(spec.get("encoding") or "utf-8").lower()
    paths: list[Path] = []
    if kind == "delimited":
        path = base.with_suffix(".csv")
        sep = spec.get("delimiter", ",")
        quote = spec.get("quote_char", '"')
        buf = io.BytesIO()
        if spec.get("header", True):
            quoted = [f'"{n}"' if quote and (sep in n or '"' in n) else n for n in header_names]
            buf.write((sep.join(quoted) + "\n").encode("utf-8"))
        frame.write_csv(buf, separator=sep, quote_char=quote or '"', quote_style="necessary" if quote else "never",
                        include_header=False)
        data = buf.getvalue()
        path.write_bytes(data if encoding in ("utf-8", "utf8") else _encode(data.decode("utf-8"), encoding))
        paths.append(path)
    elif kind == "fixed_width":
        path = base.with_suffix(".txt")
        segments: list[pl.Expr] = []
        cursor = 1
        specs = sorted(((spec["fields"][f], f) for f in spec["fields"] if isinstance(spec["fields"][f], dict)
                        and spec["fields"][f].get("start") is not None), key=lambda t: t[0]["start"])
        by_key = {c: c for c in columns}
        for fspec, _field in specs:
            key = f"__pos_{fspec['start']}"
            if key not in by_key:
                continue
            start, end = int(fspec["start"]), int(fspec["end"])
            if start > cursor:
                segments.append(pl.lit(" " * (start - cursor)))
            width = end - start + 1
            segments.append(pl.col(key).str.slice(0, width).str.pad_end(width))
            cursor = end + 1
        lines = frame.select(pl.concat_str(segments).alias("line") if segments else pl.lit("").alias("line"))
        buf = io.BytesIO()
        lines.write_csv(buf, include_header=False, quote_style="never")
        path.write_bytes(_encode(buf.getvalue().decode("utf-8"), encoding))
        paths.append(path)
    elif kind == "parquet":
        path = base.with_suffix(".parquet")
        frame.rename(dict(zip(columns, header_names, strict=True))).write_parquet(path, compression="zstd", statistics=False)
        paths.append(path)
    else:  # excel
        renamed = frame.rename(dict(zip(columns, header_names, strict=True)))
        n_files = max(1, -(-renamed.height // EXCEL_MAX_ROWS))
        for i in range(n_files):
            path = base.with_name(f"{base.name}_part{i + 1:02d}" if n_files > 1 else base.name).with_suffix(".xlsx")
            _write_excel(renamed.slice(i * EXCEL_MAX_ROWS, EXCEL_MAX_ROWS), path, spec.get("sheet") or "extract")
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
