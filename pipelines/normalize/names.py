"""Personal names as courts and DOJ write them -> parts (last, first, middle, suffix) + match keys.

Written forms (``fmt`` is the layout's declared form; a ``/`` or ``,`` in the value always wins,
so an extract that mixes forms still reads correctly):

- ``LAST/FIRST/MIDDLE``  San Francisco CMS: ``GARCIA LOPEZ/MARIA/ELENA``, padded with blanks
- ``LAST, FIRST MIDDLE`` and DOJ's ``LAST,FIRST M``: everything before the first comma is the
  surname
- ``LAST FIRST MIDDLE``  no separator: the first word is the surname (compound surnames cannot be
  recognised without a separator)
- ``FIRST MIDDLE LAST``  no separator: the last word is the surname
- separate fields: ``name_from_parts(last, first, middle)``

Normalized parts (the canonical form):

- upper case; accents removed (``MUÑOZ`` -> ``MUNOZ``); apostrophes removed (``O'BRIEN`` ->
  ``OBRIEN``); dots and other punctuation become blanks; runs of blanks collapse.
- surname: hyphens become blanks and the Spanish connector ``Y`` between two surnames is dropped,
  so ``GARCIA-LOPEZ``, ``GARCIA LOPEZ``, ``GARCIA Y LOPEZ`` and ``garcia - lopez`` all give
  ``GARCIA LOPEZ``; particles stay (``DE LA CRUZ``).
- given names: the first word is the first name, the remaining words the middle name(s);
  hyphenated given names stay whole (``JEAN-PAUL``).
- suffix: a word ``JR``, ``SR``, ``II``, ``III`` or ``IV`` anywhere in the name (``SMITH JR,
  JOHN``, ``SMITH, JOHN A JR``, ``SMITH/JOHN/JR``) is removed from the other parts and becomes
  the suffix. A lone ``V`` is left alone: it is far more often a middle initial.

How it runs: ``parse_names(frame, column, fmt)`` parses the *distinct* values of a column with
cheap literal string operations (a regex only for the few values that need it: accents,
punctuation, suffixes, the connector ``Y``) and joins the parts back; ``parse_name(expr, fmt)``
is the same as an expression (a batch UDF over the column, never a per-row Python loop).

Match keys (``name_keys``), for linkage where the four spellings of a compound surname and
typos must still meet:

- ``last_tokens``: the surname's words without particles (``DE``, ``LA``, ``DEL``, ``VAN`` …):
  ``DE LA CRUZ`` -> ``[CRUZ]``; ``GARCIA LOPEZ`` -> ``[GARCIA, LOPEZ]``. Someone recorded under
  only the first surname (``GARCIA``) still shares a token.
- ``last_compact``: the surname without blanks (``DE LA CRUZ`` and ``DELACRUZ`` -> ``DELACRUZ``).
- ``first_initial``; ``last_soundex`` / ``first_soundex``: American Soundex (letter + 3 digits)
  of the significant surname words joined and of the first name, computed with Polars
  expressions (no per-row Python).
"""

from __future__ import annotations

import polars as pl

from pipelines.normalize.frames import where

NAME_FORMATS = ("LAST/FIRST/MIDDLE", "LAST, FIRST MIDDLE", "LAST,FIRST M", "LAST FIRST MIDDLE", "FIRST MIDDLE LAST")
SUFFIXES = ("JR", "SR", "II", "III", "IV")
PARTICLES = ("DE", "DEL", "LA", "LAS", "LOS", "DA", "DAS", "DO", "DOS", "DI", "DU", "VAN", "VON", "DER", "DEN", "LE")
NAME_PARTS = ("last_name", "first_name", "middle_name", "name_suffix")
NAME_STRUCT = pl.Struct({p: pl.String for p in NAME_PARTS})

_SUFFIX_RE = r"(?:^|\s)(" + "|".join(SUFFIXES) + r")(?:\s|$)"
_HAS_SUFFIX_RE = r"\b(?:" + "|".join(SUFFIXES) + r")\b"


def _squeeze(e: pl.Expr) -> pl.Expr:
    """Collapse runs of blanks and trim."""
    return e.str.replace_all(" {2,}", " ").str.strip_chars(" ")


def _null_if_blank(e: pl.Expr) -> pl.Expr:
    return pl.when(e != "").then(e)


def _heavy_clean(e: pl.Expr) -> pl.Expr:
    """Accents, apostrophes, punctuation, odd blanks: only for the values that have them."""
    return (
        e.str.normalize("NFKD")
        .str.replace_all(r"[\p{M}'’`]", "")
        .str.to_uppercase()
        .str.replace_all(r"[^A-Z/,\-]+", " ")
    )


def _parse_distinct(values: pl.DataFrame, fmt: str) -> pl.DataFrame:
    """Parse a frame of distinct raw names (column ``_raw``) into ``_raw`` + NAME_PARTS.

    Each step materializes its columns (no expression is evaluated twice) and the rare cases
    (accents, punctuation, double blanks, suffixes, the connector Y) run only on their rows.
    """
    s = pl.col("_s")
    frame = values.with_columns(pl.col("_raw").cast(pl.String).str.to_uppercase().alias("_s"))
    frame = where(frame, s.str.contains(r"[^A-Z ,/\-]"), _heavy_clean(s).alias("_s"))
    frame = frame.with_columns(s.str.strip_chars(" -").alias("_s"))
    frame = where(frame, s.str.contains("  ", literal=True), _squeeze(s).alias("_s"))

    # Surname | given names, split at the first "/" (else the first ",").
    frame = frame.with_columns(
        pl.coalesce(s.str.find("/", literal=True), s.str.find(",", literal=True)).alias("_sep"),
        s.str.find(" ", literal=True).alias("_space"),
    )
    sep, space = pl.col("_sep"), pl.col("_space")
    if fmt == "FIRST MIDDLE LAST":
        plain = s.str.extract_groups(r"^(?:(.*) )?(\S+)$")
        plain_last, plain_given = plain.struct.field("2"), plain.struct.field("1")
    else:
        plain_last = pl.when(space.is_null()).then(s).otherwise(s.str.slice(0, space))
        plain_given = pl.when(space.is_null()).then(pl.lit("")).otherwise(s.str.slice(space + 1))
    frame = frame.select(
        "_raw",
        pl.when(sep.is_not_null()).then(s.str.slice(0, sep)).otherwise(plain_last).fill_null("").alias("_last"),
        pl.when(sep.is_not_null()).then(s.str.slice(sep + 1)).otherwise(plain_given).fill_null("").alias("_given"),
    )
    last, given = pl.col("_last"), pl.col("_given")
    frame = frame.with_columns(last.str.strip_chars(" "), given.str.strip_chars(" "))
    # More separators (LAST/FIRST/MIDDLE) and blanks around them; hyphenated surnames.
    frame = where(frame, given.str.contains(r"[/,]"),
                  _squeeze(given.str.replace_many(["/", ","], [" ", " "])).alias("_given"))
    frame = where(frame, last.str.contains(r"[/,\-]"),
                  _squeeze(last.str.replace_many(["/", ",", "-"], [" ", " ", " "])).alias("_last"))

    # Suffix (JR, SR, II, III, IV) anywhere.
    frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("name_suffix"))
    frame = where(
        frame,
        last.str.contains(_HAS_SUFFIX_RE) | given.str.contains(_HAS_SUFFIX_RE),
        pl.coalesce(last.str.extract(_SUFFIX_RE, 1), given.str.extract(_SUFFIX_RE, 1)).alias("name_suffix"),
        (" " + last + " ").str.replace_all(_SUFFIX_RE, " ").str.strip_chars(" ").alias("_last"),
        (" " + given + " ").str.replace_all(_SUFFIX_RE, " ").str.strip_chars(" ").alias("_given"),
    )
    # The connector Y between two surnames goes.
    frame = where(
        frame,
        last.str.contains(" Y ", literal=True),
        _squeeze((" " + last + " ").str.replace_all(" Y ", " ", literal=True)).alias("_last"),
    )
    space = given.str.find(" ", literal=True)
    frame = frame.with_columns(space.alias("_space"))
    space = pl.col("_space")
    return frame.select(
        "_raw",
        _null_if_blank(last).alias("last_name"),
        _null_if_blank(pl.when(space.is_null()).then(given).otherwise(given.str.slice(0, space))).alias("first_name"),
        _null_if_blank(pl.when(space.is_null()).then(pl.lit("")).otherwise(given.str.slice(space + 1))).alias("middle_name"),
        "name_suffix",
    )


def parse_names(frame: pl.DataFrame | pl.LazyFrame, column: str, fmt: str = "LAST, FIRST MIDDLE") -> pl.DataFrame:
    """``frame`` with NAME_PARTS added (parsed from ``column``), in the same row order.

    ``fmt`` matters only for names with neither ``/`` nor ``,`` (see the module docstring).
    """
    if fmt not in NAME_FORMATS:
        raise ValueError(f"unknown name format {fmt!r}; known: {', '.join(NAME_FORMATS)}")
    frame = frame.lazy().collect(engine="in-memory") if isinstance(frame, pl.LazyFrame) else frame
    distinct = frame.select(pl.col(column).cast(pl.String).alias("_raw")).unique()
    parts = _parse_distinct(distinct, fmt)
    mapped = frame.select(pl.col(column).cast(pl.String).alias("_raw")).join(
        parts, on="_raw", how="left", nulls_equal=True, maintain_order="left"
    )
    return pl.concat([frame.drop([p for p in NAME_PARTS if p in frame.columns]), mapped.select(NAME_PARTS).rechunk()],
                     how="horizontal")


def parse_name(raw: pl.Expr, fmt: str = "LAST, FIRST MIDDLE") -> pl.Expr:
    """A struct of ``last_name``, ``first_name``, ``middle_name``, ``name_suffix`` (nulls when absent).

    The expression form of ``parse_names`` (one batch function over the column).
    """
    if fmt not in NAME_FORMATS:
        raise ValueError(f"unknown name format {fmt!r}; known: {', '.join(NAME_FORMATS)}")

    def run(series: pl.Series) -> pl.Series:
        frame = pl.DataFrame({"_in": series.cast(pl.String)})
        return parse_names(frame, "_in", fmt).select(pl.struct(*NAME_PARTS).alias(series.name)).to_series()

    return raw.map_batches(run, return_dtype=NAME_STRUCT, is_elementwise=True)


def join_parts(last: pl.Expr, first: pl.Expr, middle: pl.Expr | None = None) -> pl.Expr:
    """Separate last / first / middle fields as one ``LAST/FIRST MIDDLE`` text (parse it with
    format ``LAST/FIRST/MIDDLE``); null when all are blank."""
    given = pl.concat_str([first, middle if middle is not None else pl.lit(None, dtype=pl.String)],
                          separator=" ", ignore_nulls=True)
    joined = pl.concat_str([last.fill_null(""), given.fill_null("")], separator="/")
    return pl.when(joined.str.strip_chars(" /") != "").then(joined)


def name_from_parts(last: pl.Expr, first: pl.Expr, middle: pl.Expr | None = None) -> pl.Expr:
    """The same struct as ``parse_name`` from separate last / first / middle fields."""
    return parse_name(join_parts(last.cast(pl.String), first.cast(pl.String),
                                 middle.cast(pl.String) if middle is not None else None), "LAST/FIRST/MIDDLE")


def format_name(last: pl.Expr, first: pl.Expr, middle: pl.Expr, suffix: pl.Expr) -> pl.Expr:
    """``LAST, FIRST MIDDLE SUFFIX`` from normalized parts (the form delivery files use)."""
    given = pl.concat_str([first, middle, suffix], separator=" ", ignore_nulls=True)
    return pl.when(last.is_null()).then(None).otherwise(
        pl.when(given == "").then(last).otherwise(pl.concat_str([last, given], separator=", "))
    )


_SOUNDEX_LETTERS = "AEIOUYBFPVCGJKQSXZDTLMNRHW"
_SOUNDEX_CODES = ["0"] * 6 + ["1"] * 4 + ["2"] * 8 + ["3"] * 2 + ["4"] + ["5"] * 2 + ["6"] + [""] * 2


def soundex(raw: pl.Expr) -> pl.Expr:
    """American Soundex (``ROBERT`` -> ``R163``, ``ASHCRAFT`` -> ``A261``); null when no letters."""
    letters = raw.str.to_uppercase().str.replace_all(r"[^A-Z]", "")
    first = letters.str.slice(0, 1)
    codes = letters.str.replace_many(list(_SOUNDEX_LETTERS), _SOUNDEX_CODES)
    for digit in "0123456":
        codes = codes.str.replace_all(f"{digit}+", digit)
    # The first letter's own code is dropped (H and W have none, so nothing to drop for them).
    codes = pl.when(first.is_in(["H", "W"])).then(codes).otherwise(codes.str.slice(1))
    digits = codes.str.replace_all("0", "", literal=True).str.slice(0, 3).str.pad_end(3, "0")
    return pl.when(first == "").then(None).otherwise(first + digits)


def _significant(last_name: pl.Expr) -> pl.Expr:
    return last_name.str.split(" ").list.eval(pl.element().filter(~pl.element().is_in(list(PARTICLES))))


def name_keys(last_name: pl.Expr, first_name: pl.Expr) -> list[pl.Expr]:
    """Match-key columns from normalized parts: last_tokens, last_compact, first_initial, soundexes."""
    tokens = _significant(last_name)
    return [
        tokens.alias("last_tokens"),
        last_name.str.replace_all(" ", "", literal=True).alias("last_compact"),
        first_name.str.slice(0, 1).alias("first_initial"),
        soundex(tokens.list.join("")).alias("last_soundex"),
        soundex(first_name).alias("first_soundex"),
    ]


def with_name_keys(frame: pl.DataFrame, last: str = "last_name", first: str = "first_name") -> pl.DataFrame:
    """``frame`` with the ``name_keys`` columns, computed once per distinct surname / first name."""
    lasts = frame.select(pl.col(last).alias("_l")).unique()
    lasts = lasts.with_columns(
        _significant(pl.col("_l")).alias("last_tokens"),
        pl.col("_l").str.replace_all(" ", "", literal=True).alias("last_compact"),
    ).with_columns(soundex(pl.col("last_tokens").list.join("")).alias("last_soundex"))
    firsts = frame.select(pl.col(first).alias("_f")).unique().with_columns(
        pl.col("_f").str.slice(0, 1).alias("first_initial"), soundex(pl.col("_f")).alias("first_soundex")
    )
    by_last = frame.select(pl.col(last).alias("_l")).join(lasts, on="_l", how="left", nulls_equal=True,
                                                           maintain_order="left")
    by_first = frame.select(pl.col(first).alias("_f")).join(firsts, on="_f", how="left", nulls_equal=True,
                                                             maintain_order="left")
    return pl.concat([frame, by_last.drop("_l").rechunk(), by_first.drop("_f").rechunk()], how="horizontal")
