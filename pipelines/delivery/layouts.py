"""Court bulk-upload layouts: how one court wants the delivery rows written.

A layout is a YAML file in ``config/delivery/<name>.yaml`` (or any path): the file kind
(delimited, fixed_width, excel), the fields in order (each a DELIVERY_ROW column or a constant),
header, widths, date format, and codes for values (a legacy system that wants ``DS`` for a
dismissal). Adding a court is adding a file; nothing in Python changes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipelines import model
from pipelines.config import read_yaml
from pipelines.errors import AutoclearError, ConfigError

LAYOUT_DIR = Path(__file__).resolve().parents[2] / "config" / "delivery"  # the shipped layouts
DEFAULT_LAYOUT = "delimited"
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Control characters would break a record apart in a delimited or fixed-width file.
_CONTROL = r"[\x00-\x1f\x7f]"


class LayoutField(BaseModel):
    """One field of the court file."""

    model_config = ConfigDict(extra="forbid")

    name: str  # the header (delimited, Excel) or the field's name in the record spec (fixed width)
    column: str | None = None  # a DELIVERY_ROW column ...
    value: str | None = None  # ... or a constant
    width: int | None = Field(default=None, gt=0)  # fixed width only
    align: Literal["left", "right"] = "left"
    pad: str = " "
    overflow: Literal["error", "truncate"] = "error"  # truncate only where a short value is still right
    codes: dict[str, str] | None = None  # value -> code the court's system expects; every value needs one
    date_format: str | None = None  # overrides the layout's
    uppercase: bool | None = None  # overrides the layout's

    @model_validator(mode="after")
    def _one_source(self) -> LayoutField:
        if (self.column is None) == (self.value is None):
            raise ValueError(f"field {self.name!r}: give exactly one of 'column' or 'value'")
        if self.column is not None and self.column not in model.DELIVERY_ROW:
            raise ValueError(
                f"field {self.name!r}: unknown column {self.column!r}; "
                f"columns are {', '.join(model.DELIVERY_ROW)}"
            )
        if len(self.pad) != 1:
            raise ValueError(f"field {self.name!r}: pad must be one character")
        return self


class DeliveryLayout(BaseModel):
    """A court's bulk-upload layout."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Literal["delimited", "fixed_width", "excel"] = "delimited"
    description: str = ""
    file_name: str = "court_upload.csv"
    delimiter: str = ","
    header: bool = True
    quote_style: Literal["necessary", "always", "non_numeric", "never"] = "necessary"
    line_terminator: str = "\r\n"
    encoding: str = "utf-8"
    date_format: str = "%Y-%m-%d"
    true_value: str = "Y"
    false_value: str = "N"
    null_value: str = ""
    uppercase: bool = False
    sheet_name: str = "Counts"
    fields: list[LayoutField]

    @field_validator("file_name")
    @classmethod
    def _plain_file_name(cls, v: str) -> str:
        # The name lands inside the delivery folder: no separators, no "..", no hidden files.
        if not _PLAIN_NAME.match(v) or ".." in v or v.lower() == "manifest.json":
            raise ValueError(f"file_name {v!r} must be a plain file name (letters, digits, _ . -)")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> DeliveryLayout:
        if not self.fields:
            raise ValueError("a layout needs at least one field")
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError("field names must be unique")
        if self.kind == "fixed_width":
            no_width = [f.name for f in self.fields if f.width is None]
            if no_width:
                raise ValueError(f"fixed_width layout: fields without width: {', '.join(no_width)}")
        if self.kind == "delimited" and len(self.delimiter) != 1:
            raise ValueError("delimiter must be one character")
        try:
            "x".encode(self.encoding)
        except LookupError as e:
            raise ValueError(f"unknown encoding {self.encoding!r}") from e
        return self

    @property
    def record_width(self) -> int | None:
        return sum(f.width or 0 for f in self.fields) if self.kind == "fixed_width" else None


def layout_dirs() -> list[Path]:
    """Where layouts are looked up by name: ``$AUTOCLEAR_CONFIG_DIR/delivery`` first, then the shipped ones."""
    dirs = []
    if os.environ.get("AUTOCLEAR_CONFIG_DIR"):
        dirs.append(Path(os.environ["AUTOCLEAR_CONFIG_DIR"]) / "delivery")
    dirs.append(LAYOUT_DIR)
    return dirs


def load_layout(name_or_path: str | Path | DeliveryLayout | None = None) -> DeliveryLayout:
    """A layout by name (``config/delivery/<name>.yaml``) or by path to a YAML file."""
    if isinstance(name_or_path, DeliveryLayout):
        return name_or_path
    ref = str(name_or_path or DEFAULT_LAYOUT)
    if _PLAIN_NAME.match(ref) and not ref.endswith((".yaml", ".yml")):
        dirs = layout_dirs()
        path = next((d / f"{ref}.yaml" for d in dirs if (d / f"{ref}.yaml").is_file()), dirs[-1] / f"{ref}.yaml")
        if not path.is_file():
            known = ", ".join(sorted({p.stem for d in dirs for p in d.glob("*.yaml")})) or "none"
            raise ConfigError(
                f"delivery layout {ref!r} not found in {', '.join(map(str, dirs))} (known: {known})"
            )
    else:
        path = Path(ref)
        if path.suffix not in (".yaml", ".yml"):  # a name with a path in it: refused, never read
            raise ConfigError(f"{ref!r}: a delivery layout is a name in {LAYOUT_DIR} or the path of a .yaml file")
        if not path.is_file():
            raise ConfigError(f"{path}: delivery layout file not found")
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a delivery layout is a mapping (name, kind, fields, ...)")
    data.setdefault("name", path.stem)
    try:
        return DeliveryLayout.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'layout'}: {err['msg']}" for err in e.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None


def _field_expr(layout: DeliveryLayout, field: LayoutField, schema: dict[str, pl.DataType]) -> pl.Expr:
    if field.value is not None:
        text = pl.lit(field.value, pl.String)
    else:
        col = pl.col(field.column)
        dtype = schema[field.column]
        if field.codes is not None:
            # codes map the stored value ("dismiss_and_seal", "true", "2023-03-01") to the court's code
            text = col.cast(pl.String).replace_strict(field.codes, default=None, return_dtype=pl.String)
        elif dtype == pl.Date:
            text = col.dt.strftime(field.date_format or layout.date_format)
        elif dtype == pl.Boolean:
            text = pl.when(col).then(pl.lit(layout.true_value)).when(~col).then(pl.lit(layout.false_value))
        else:
            text = col.cast(pl.String)
    text = text.str.replace_all(_CONTROL, " ")
    upper = layout.uppercase if field.uppercase is None else field.uppercase
    if upper:
        text = text.str.to_uppercase()
    return text.alias(field.name)


def format_rows(rows: pl.DataFrame, layout: DeliveryLayout) -> pl.DataFrame:
    """The court file's fields as strings (nulls kept), in layout order, before widths are applied."""
    rows = model.conform(rows, model.DELIVERY_ROW, extra=False)
    for f in layout.fields:
        if f.codes is None or f.column is None:
            continue
        values = rows.get_column(f.column).cast(pl.String)
        unmapped = values.filter(values.is_not_null() & ~values.is_in(list(f.codes)))
        if unmapped.len():
            missing = sorted(unmapped.unique().to_list())
            raise ConfigError(
                f"layout {layout.name!r}, field {f.name!r}: no code for value(s) {', '.join(missing)} "
                f"({unmapped.len()} row(s)); add them under 'codes'"
            )
    return rows.select(*[_field_expr(layout, f, model.DELIVERY_ROW) for f in layout.fields])


def fixed_width_lines(formatted: pl.DataFrame, layout: DeliveryLayout, delivery_ids: pl.Series) -> pl.Series:
    """One record per row: every field padded (or, where allowed, cut) to its width."""
    parts: list[pl.Expr] = []
    for f in layout.fields:
        col = pl.col(f.name)
        too_long = formatted.filter(col.str.len_chars() > f.width)
        if too_long.height and f.overflow == "error":
            ids = delivery_ids.filter(formatted.get_column(f.name).str.len_chars() > f.width).head(5).to_list()
            raise AutoclearError(
                f"layout {layout.name!r}: field {f.name!r} is wider than {f.width} characters in "
                f"{too_long.height} row(s) (delivery ids {', '.join(ids)}); widen the field or allow "
                "'overflow: truncate' for it"
            )
        cut = col.fill_null(layout.null_value).str.slice(0, f.width)
        parts.append(cut.str.pad_start(f.width, f.pad) if f.align == "right" else cut.str.pad_end(f.width, f.pad))
    return formatted.select(pl.concat_str(parts).alias("record")).get_column("record")
