"""The statute normalizer: every written form of a code section to one canonical statute."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.normalize.sections import (
    CODES,
    Statute,
    find_statutes,
    find_statutes_text,
    parse_statute,
    parse_statute_text,
)

WRITTEN = [
    ("11357(C)HS", "HS 11357(c)"),
    ("11357(c) HS", "HS 11357(c)"),
    ("HS 11357(c)", "HS 11357(c)"),
    ("11357 H&S", "HS 11357"),
    ("H&S11359", "HS 11359"),
    ("11359HS", "HS 11359"),
    ("11359 HS-MARIJUANA POSSESION FOR SALE", "HS 11359"),
    ("H&S 11360(a)(3)(C)", "HS 11360(a)(3)(c)"),
    (":CHRG 11358 HS", "HS 11358"),
    ("11357 HS-NO SPECIFIED SUBSECTION", "HS 11357"),
    ("187 PC", "PC 187"),
    ("288.5(A) PC", "PC 288.5(a)"),
    ("314(1) PC", "PC 314(1)"),
    ("664/187 PC", "PC 664/187"),
    ("664-11357(c) HS", "HS 664/11357(c)"),
    ("664.11357(c) HS", "HS 664/11357(c)"),
    ("PC 664/187", "PC 664/187"),
    ("23152(A) VC", "VC 23152(a)"),
    ("4060 BP", "BP 4060"),
    ("4060    BP", "BP 4060"),
    ("B&P 4060", "BP 4060"),
    ("B & P 4060", "BP 4060"),
    ("647(F) PC", "PC 647(f)"),
    ("H&SC 11357", "HS 11357"),
    ("HSC 11357(b)", "HS 11357(b)"),
    ("H & S 11359", "HS 11359"),
    ("H. & S. 11359", "HS 11359"),
    ("11359 H.S.", "HS 11359"),
    ("P.C. 187", "PC 187"),
    ("PEN 211", "PC 211"),
    ("VEH 23152(a)", "VC 23152(a)"),
    ("BPC 4060", "BP 4060"),
    ("288A(C)(1) PC", "PC 288a(c)(1)"),
    ("273AB PC", "PC 273ab"),
    ("11366.5  (B) HS", "HS 11366.5(b)"),
    ("/11357 HS", "HS 11357"),
    ("32 PC-ACCESSORY", "PC 32"),
    ("W&I 602", "WI 602"),
    ("664.5 PC", "PC 664.5"),
    ("11359", "11359"),
    ("11357(D)", "11357(d)"),
]


@pytest.mark.parametrize(("written", "statute"), WRITTEN)
def test_written_forms(written: str, statute: str) -> None:
    parsed = parse_statute_text(written)
    assert parsed is not None
    assert parsed.statute == statute


def test_fields() -> None:
    assert parse_statute_text("H&S 11360(a)(3)(C)") == Statute("HS", "11360", "(a)(3)(c)", False, "HS 11360(a)(3)(c)")
    assert parse_statute_text("664/187 PC") == Statute("PC", "187", "", True, "PC 664/187")
    assert parse_statute_text("11359 - SALE") == Statute(None, "11359", "", False, "11359")


@pytest.mark.parametrize("text", ["", None, "SEE COMMENT FOR CHARGE", "20140512", "ACCESSORY", "   "])
def test_no_statute(text: str | None) -> None:
    assert parse_statute_text(text) is None


def test_expressions_on_a_frame() -> None:
    frame = pl.DataFrame({"text": ["11357(C)HS", None, "NONE", "187 PC"]})
    out = frame.select(parse_statute(pl.col("text")).alias("s")).unnest("s")
    assert out.columns == ["code", "section", "subsection", "attempted", "statute"]
    assert out["statute"].to_list() == ["HS 11357(c)", None, None, "PC 187"]
    assert out["subsection"].to_list() == ["(c)", None, None, ""]
    found = frame.select(find_statutes(pl.col("text"))).to_series().to_list()
    assert found == [["HS 11357(c)"], [], [], ["PC 187"]]


@pytest.mark.parametrize(
    ("comment", "statutes"),
    [
        (":CHRG 11358 HS", ["HS 11358"]),
        ("11358 HS-CULTIVATE CANNABIS", ["HS 11358"]),
        ("11359 - Should be flagged as 11359 != 11358", ["11359", "11358"]),
        ("11357(D) - Should be flagged as we distinguish (B) from (D)", ["11357(d)"]),
        ("ORIG CHG 11359(A) H&S AMENDED TO 11357 HS; PRIOR PC 664/187", ["HS 11359(a)", "HS 11357", "PC 664/187"]),
        ("PROB 3 YRS, 180 DAYS JAIL, FINE $500, CASE #12345 DOCKET 93WF1745 ON 20140512", []),
        ("", []),
        (None, []),
    ],
)
def test_find_statutes_in_comments(comment: str | None, statutes: list[str]) -> None:
    assert find_statutes_text(comment) == statutes


# ---------------------------------------------------------------------------------------------
# Property: every written variant of a statute normalizes back to it.

_SPELLINGS = {
    "HS": ["HS", "H&S", "H&SC", "HSC", "H & S", "H.&S.", "H. & S.", "h&s"],
    "PC": ["PC", "P.C.", "PEN", "pc", "PENAL"],
    "VC": ["VC", "V.C.", "VEH"],
    "BP": ["BP", "B&P", "BPC", "B & P", "B&PC"],
    "WI": ["WI", "W&I", "WIC"],
    "MV": ["MV"],
    "GC": ["GC", "GOV"],
    "FG": ["FG", "F&G", "FGC"],
}
assert set(_SPELLINGS) == set(CODES)


@st.composite
def statutes(draw):
    code = draw(st.sampled_from(sorted(_SPELLINGS)))
    attempted = draw(st.booleans())
    digits = draw(st.integers(min_value=2 if attempted else 1, max_value=5))
    number = str(draw(st.integers(min_value=10 ** (digits - 1), max_value=10**digits - 1)))
    if attempted and number == "664":
        number = "187"
    decimal = draw(st.sampled_from(["", "", ".5", ".1", ".22", ".55"]))
    suffix = draw(st.sampled_from(["", "", "", "a", "ab", "h"]))
    parts = draw(st.lists(st.one_of(st.sampled_from("abcdefghij"), st.integers(1, 20).map(str)), max_size=3))
    section = number + decimal + suffix
    subsection = "".join(f"({p})" for p in parts)
    statute = f"{code} {'664/' if attempted else ''}{section}{subsection}"
    return code, attempted, section, subsection, statute


@st.composite
def written_variants(draw):
    code, attempted, section, subsection, statute = draw(statutes())
    spelling = draw(st.sampled_from(_SPELLINGS[code]))
    sep = draw(st.sampled_from(["/", "-", ".", " / "])) if attempted else ""
    attempt = f"664{sep}" if attempted else ""
    upper_sub = draw(st.booleans())
    sub_space = draw(st.sampled_from(["", " "]))
    sub = "".join(f"{sub_space}({p.upper() if upper_sub else p})" for p in subsection.strip("()").split(")(") if p)
    sec = section.upper() if draw(st.booleans()) else section
    code_first = draw(st.booleans())
    if code_first:
        gap = draw(st.sampled_from(["", " ", "  "])) if spelling[-1].isalpha() or spelling[-1] == "." else " "
        text = f"{spelling}{gap}{attempt}{sec}{sub}"
    else:
        # Code letters glued to a letter suffix would be ambiguous ("288APC"): keep a space then.
        glue = [" ", "  "] if (section[-1].isalpha() and not sub) else ["", " ", "  "]
        text = f"{attempt}{sec}{sub}{draw(st.sampled_from(glue))}{spelling}"
    tail = draw(st.sampled_from(["", "-POSSESS MARIJUANA", " - SALE", "-"]))
    return text + tail, statute


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(written_variants())
def test_every_written_variant_normalizes_to_its_statute(variant) -> None:
    text, statute = variant
    parsed = parse_statute_text(text)
    assert parsed is not None, text
    assert parsed.statute == statute, text


@settings(max_examples=150, deadline=None)
@given(written_variants(), st.sampled_from([":CHRG ", "CHARGE AMENDED TO ", "ORIG ", "PRIOR: "]))
def test_statutes_inside_a_comment_are_found(variant, prefix: str) -> None:
    text, statute = variant
    assert statute in find_statutes_text(f"{prefix}{text} PER DA")
