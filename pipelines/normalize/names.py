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

NAME_FORMATS = ("LAST/FIRST/MIDDLE", "LAST, FIRST MIDDLE", "LAST,FIRST M", "LAST FIRST MIDDLE", "FIRST MIDDLE LAST")
SUFFIXES = ("JR", "SR", "II", "III", "IV")
PARTICLES = ("DE", "DEL", "LA", "LAS", "LOS", "DA", "DAS", "DO", "DOS", "DI", "DU", "VAN", "VON", "DER", "DEN", "LE")
NAME_PARTS = ("last_name", "first_name", "middle_name", "name_suffix")

_SUFFIX_RE = r"(?:^|\s)(" + "|".join(SUFFIXES) + r")(?:\s|$)"


def clean_name(raw: pl.Expr, *, keep: str = "/,") -> pl.Expr:
    """Upper case, accents and apostrophes removed, other punctuation blanked, blanks collapsed.

    Characters in ``keep`` (separators) and hyphens survive; everything else outside A-Z becomes a
    blank.
    """
    kept = "".join("\\" + c for c in keep)
    return (
        raw.cast(pl.String)
        .str.to_uppercase()
        .str.normalize("NFKD")
        .str.replace_all(r"[\p{M}'’`]", "")
        .str.replace_all(rf"[^A-Z{kept}\-]+", " ")
        .str.replace_all(r"\s*([/,])\s*", "$1")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars(" -")
    )


def _blank_to_null(e: pl.Expr) -> pl.Expr:
    e = e.str.strip_chars(" ")
    return pl.when(e == "").then(None).otherwise(e)


def _surname(last: pl.Expr) -> pl.Expr:
    """Hyphens -> blanks, connector Y dropped between two surnames, blanks collapsed."""
    spaced = (" " + last.str.replace_all("-", " ", literal=True) + " ").str.replace_all(r"\s+", " ")
    dropped = spaced.str.replace_all(" Y ", " ", literal=True)
    # Keep a surname that is only "Y" (or starts/ends with it) intact: drop only between words.
    has_inner_y = spaced.str.contains(r"\S Y \S")
    return _blank_to_null(pl.when(has_inner_y).then(dropped).otherwise(spaced))


def _split(last: pl.Expr, given: pl.Expr) -> pl.Expr:
    given = given.str.replace_all(r"[/,]", " ")
    suffix = pl.coalesce(last.str.extract(_SUFFIX_RE, 1), given.str.extract(_SUFFIX_RE, 1))
    # Remove the suffix word (padding lets it match at either end).
    last = (" " + last + " ").str.replace_all(_SUFFIX_RE, " ").str.strip_chars(" ")
    given = (" " + given + " ").str.replace_all(_SUFFIX_RE, " ").str.strip_chars(" ")
    words = given.str.replace_all(r"\s+", " ").str.strip_chars(" ").str.split(" ")
    return pl.struct(
        _surname(last).alias("last_name"),
        _blank_to_null(words.list.first()).alias("first_name"),
        _blank_to_null(words.list.slice(1).list.join(" ")).alias("middle_name"),
        suffix.alias("name_suffix"),
    )


def parse_name(raw: pl.Expr, fmt: str = "LAST, FIRST MIDDLE") -> pl.Expr:
    """A struct of ``last_name``, ``first_name``, ``middle_name``, ``name_suffix`` (nulls when absent).

    ``fmt`` matters only for names with neither ``/`` nor ``,`` (see the module docstring).
    """
    if fmt not in NAME_FORMATS:
        raise ValueError(f"unknown name format {fmt!r}; known: {', '.join(NAME_FORMATS)}")
    s = clean_name(raw)
    has_slash = s.str.contains("/", literal=True)
    has_comma = s.str.contains(",", literal=True)
    slash = s.str.splitn("/", 2)
    comma = s.str.splitn(",", 2)
    words = s.str.replace_all(r"[/,]", " ").str.split(" ")
    if fmt == "FIRST MIDDLE LAST":
        plain_last, plain_given = words.list.last(), words.list.slice(0, words.list.len() - 1).list.join(" ")
    else:
        plain_last, plain_given = words.list.first(), words.list.slice(1).list.join(" ")
    last = (
        pl.when(has_slash).then(slash.struct.field("field_0"))
        .when(has_comma).then(comma.struct.field("field_0"))
        .otherwise(plain_last)
    )
    given = (
        pl.when(has_slash).then(slash.struct.field("field_1"))
        .when(has_comma).then(comma.struct.field("field_1"))
        .otherwise(plain_given)
        .fill_null("")
    )
    return _split(last.fill_null(""), given)


def name_from_parts(last: pl.Expr, first: pl.Expr, middle: pl.Expr | None = None) -> pl.Expr:
    """The same struct as ``parse_name`` from separate last / first / middle fields."""
    given = pl.concat_str(
        [clean_name(first, keep="").fill_null(""), clean_name(middle, keep="").fill_null("") if middle is not None
         else pl.lit("")],
        separator=" ",
    )
    return _split(clean_name(last, keep="").fill_null(""), given)


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


def name_keys(last_name: pl.Expr, first_name: pl.Expr) -> list[pl.Expr]:
    """Match-key columns from normalized parts: last_tokens, last_compact, first_initial, soundexes."""
    tokens = last_name.str.split(" ").list.eval(pl.element().filter(~pl.element().is_in(list(PARTICLES))))
    return [
        tokens.alias("last_tokens"),
        last_name.str.replace_all(" ", "", literal=True).alias("last_compact"),
        first_name.str.slice(0, 1).alias("first_initial"),
        soundex(tokens.list.join("")).alias("last_soundex"),
        soundex(first_name).alias("first_soundex"),
    ]
