"""Statutes (code sections) in every written form, as Polars expressions.

Public API (shared by the DOJ reader, the court extracts and the eligibility rules):

- ``parse_statute(expr) -> pl.Expr``: the first statute named in a text, as a struct
  ``{code, section, subsection, attempted, statute}`` (all null when the text names none).
- ``find_statutes(expr) -> pl.Expr``: every statute named anywhere in a free text (a DOJ
  comment, a court charge description) as ``List[String]`` of canonical statute strings.
- ``parse_statute_text(text) -> Statute | None`` and ``find_statutes_text(text)``: the same for
  one Python string (tests, configs, policy files). They run the very same expressions.
- ``CODES``: canonical code -> the written forms recognised for it.

Canonical form:

- ``code``: ``"HS"``, ``"PC"``, ``"VC"``, ``"BP"``, ``"WI"``, ``"MV"``, ``"GC"``, ``"FG"``; null when
  the text gives a section without code letters (``"11359 - SALE"``).
- ``section``: digits with any decimal part kept (``"288.5"``) and a lower-case letter suffix
  (``"288a"``, ``"273ab"``).
- ``subsection``: every parenthesised part, lower-case, no spaces (``"(a)(3)(c)"``); ``""`` when
  none.
- ``attempted``: the section was written as an attempt, ``664/187 PC`` (also ``664-``, ``664.``);
  ``section`` is then the attempted section (``"187"``), so statute tables match it directly.
- ``statute``: ``"<code> [664/]<section><subsection>"``, e.g. ``"HS 11360(a)(3)(c)"``,
  ``"PC 664/187"``; just ``"11359"`` when there is no code.

Written forms handled: code before or after the section, with or without spaces
(``11357(C)HS``, ``11357(c) HS``, ``HS 11357(c)``, ``11357 H&S``, ``H&S11359``, ``11359HS``),
trailing descriptions (``11359 HS-MARIJUANA POSSESION FOR SALE``), statutes inside a comment
(``:CHRG 11358 HS``), and code spellings ``HS H&S H&SC HSC H & S H.&S.``, ``PC P.C. PEN PENAL``,
``VC V.C. VEH``, ``BP B&P BPC B&PC``, ``WI W&I WIC``, ``MV``, ``GC GOV``, ``FG F&G FGC``.

In free text (``find_statutes``) a section without code letters is only taken when it has 3 to 5
digits and is not followed by a word (``"180 DAYS"``, ``"$500"`` and ``"#12345"`` are not statutes):
DOJ comments often name the cannabis section bare (``"11359 - SHOULD BE FLAGGED"``).
Not handled: an attempt written without a separator (``66411357``).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

# Canonical code -> written forms, as they look after `_prepare` (upper case, "&" without
# spaces around it, dots after letters removed: "P.C." -> "PC", "H. & S." -> "H&S").
CODES: dict[str, tuple[str, ...]] = {
    "HS": ("HS", "HSC", "H&S", "H&SC"),
    "PC": ("PC", "PEN", "PENAL"),
    "VC": ("VC", "VEH"),
    "BP": ("BP", "BPC", "B&P", "B&PC"),
    "WI": ("WI", "WIC", "W&I", "W&IC"),
    "MV": ("MV",),
    "GC": ("GC", "GOV"),
    "FG": ("FG", "FGC", "F&G", "F&GC"),
}
_ALIAS = {written: code for code, forms in CODES.items() for written in forms}
# Longest first so that "H&SC" wins over "H&S" in the alternation.
_CODE_RE = "|".join(sorted(_ALIAS, key=len, reverse=True))
_CODE = f"(?:{_CODE_RE})"
_SEC = r"\d{1,5}(?:\.\d{1,4})?"
_SUB = r"(?:\s*\(\s*[0-9A-Z]{1,4}\s*\))*"
_ATTEMPT = r"664\s*[/.\-]\s*"

# Three alternatives, tried left to right at each position (leftmost-first semantics):
#  1. code first:            HS 11357(C), H&S11359, PC 664/187
#  2. attempt, section first: 664/187 PC, 664.11357(C) HS
#  3. section first:         11357(C)HS, 11359 HS, 288A PC, 11359 (bare)
# After the section digits comes either code letters, suffix letters or a word boundary, so
# digits never match inside a longer number. `tail` captures a following word or a "$"/"#" in
# front: find_statutes uses them to reject bare numbers such as "180 DAYS" or "$500".
_PATTERN = (
    rf"\b(?P<c1>{_CODE})\s*(?P<a1>{_ATTEMPT})?(?P<s1>{_SEC})(?:(?P<x1>[A-Z]{{1,2}})\b|\b)(?P<b1>{_SUB})"
    rf"|\b{_ATTEMPT}\b(?P<s2>\d{{2,5}}(?:\.\d{{1,4}})?)(?:(?P<k2>{_CODE})\b|(?P<x2>[A-Z]{{1,2}})\b|\b)"
    rf"(?P<b2>{_SUB})(?:\s*(?P<c2>{_CODE})\b)?"
    rf"|(?P<p3>[$#]\s*)?\b(?P<s3>{_SEC})(?:(?P<k3>{_CODE})\b|(?P<x3>[A-Z]{{1,2}})\b|\b)"
    rf"(?P<b3>{_SUB})(?:\s*(?P<c3>{_CODE})\b|(?P<t3>\s+[A-Z]))?"
)
_GROUPS = ("c1", "a1", "s1", "x1", "b1", "s2", "k2", "x2", "b2", "c2", "p3", "s3", "k3", "x3", "b3", "c3", "t3")


@dataclass(frozen=True)
class Statute:
    """One statute in canonical form (see the module docstring)."""

    code: str | None
    section: str
    subsection: str
    attempted: bool
    statute: str


STATUTE_STRUCT = pl.Struct(
    {
        "code": pl.String,
        "section": pl.String,
        "subsection": pl.String,
        "attempted": pl.Boolean,
        "statute": pl.String,
    }
)


def _prepare(expr: pl.Expr) -> pl.Expr:
    """Upper-case; "H & S" -> "H&S"; "P. C." -> "PC"; other dots after a letter dropped."""
    return (
        expr.str.to_uppercase()
        .str.replace_all(r"\s*&\s*", "&")
        .str.replace_all(r"([A-Z])\.\s*([A-Z])\.", "${1}${2}")
        .str.replace_all(r"([A-Z])\.", "${1}")
    )


def _fields(groups: pl.Expr) -> dict[str, pl.Expr]:
    """Canonical fields from the struct of named groups of one match of _PATTERN."""
    g = {name: groups.struct.field(name) for name in _GROUPS}
    written_code = pl.coalesce(g["c1"], g["k2"], g["c2"], g["k3"], g["c3"])
    code = written_code.replace_strict(_ALIAS, default=None, return_dtype=pl.String)
    suffix = pl.coalesce(g["x1"], g["x2"], g["x3"]).str.to_lowercase().fill_null("")
    number = pl.coalesce(g["s1"], g["s2"], g["s3"])
    section = pl.when(number.is_not_null()).then(number + suffix)
    sub = pl.coalesce(
        pl.when(g["s1"].is_not_null()).then(g["b1"]),
        pl.when(g["s2"].is_not_null()).then(g["b2"]),
        pl.when(g["s3"].is_not_null()).then(g["b3"]),
    )
    subsection = pl.when(number.is_not_null()).then(
        sub.fill_null("").str.replace_all(r"\s+", "").str.to_lowercase()
    )
    attempted = pl.when(number.is_not_null()).then(g["a1"].is_not_null() | g["s2"].is_not_null())
    statute = pl.when(number.is_not_null()).then(
        pl.concat_str(
            pl.when(code.is_not_null()).then(code + " ").otherwise(pl.lit("")),
            pl.when(attempted).then(pl.lit("664/")).otherwise(pl.lit("")),
            section,
            subsection,
        )
    )
    # A bare section in free text: 3-5 digits, no "$"/"#" in front, no word after it.
    bare_ok = (
        number.str.replace(r"\..*", "").str.len_chars().is_between(3, 5)
        & g["p3"].is_null()
        & g["t3"].is_null()
    )
    return {
        "code": code,
        "section": section,
        "subsection": subsection,
        "attempted": attempted,
        "statute": statute,
        "_free_text_ok": code.is_not_null() | bare_ok,
    }


def parse_statute(expr: pl.Expr) -> pl.Expr:
    """The first statute named in a text, as a struct {code, section, subsection, attempted, statute}.

    All fields are null when the text names no statute. Example: ``"11357(C)HS"`` ->
    ``{"HS", "11357", "(c)", False, "HS 11357(c)"}``.
    """
    f = _fields(_prepare(expr).str.extract_groups(_PATTERN))
    return pl.struct(
        f["code"].alias("code"),
        f["section"].alias("section"),
        f["subsection"].alias("subsection"),
        f["attempted"].alias("attempted"),
        f["statute"].alias("statute"),
    )


def find_statutes(expr: pl.Expr) -> pl.Expr:
    """Every statute named anywhere in a free text, as a list of canonical statute strings.

    In order of appearance, duplicates kept once. Bare sections (no code letters) count only
    with 3 to 5 digits and no word after them. Null text gives an empty list.
    """
    matches = _prepare(expr).str.extract_all(_PATTERN).fill_null([])
    f = _fields(pl.element().str.extract_groups(_PATTERN))
    return matches.list.eval(f["statute"].filter(f["_free_text_ok"]).unique(maintain_order=True))


def parse_statute_text(text: str | None) -> Statute | None:
    """parse_statute for one string (tests, configs): a Statute, or None when none is named."""
    value = pl.select(parse_statute(pl.lit(text, dtype=pl.String))).item()
    if value is None or value["section"] is None:
        return None
    return Statute(**value)


def find_statutes_text(text: str | None) -> list[str]:
    """find_statutes for one string."""
    return pl.select(find_statutes(pl.lit(text, dtype=pl.String))).item().to_list()
