"""The validation tables' fast paths give exactly what the plain formulations give.

Each shortcut in pipelines/validation/tables.py (a null check instead of trimming, one regex
instead of trim-then-match, a join on hashed ids) and the GX helper patch
(pipelines/validation/gx_speedups.py) is compared here with the slower formulation it replaced,
on values chosen to hit the edges: blanks, whitespace of every kind, non-ASCII, nulls, duplicate
and missing ids.
"""

from __future__ import annotations

import json

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipelines.validation import gx_speedups, run_checkpoint
from pipelines.validation.sample import clean_county
from pipelines.validation.tables import _agrees_with_determinations, matches, missing_fields, present

# Characters that sort around the fast path's bounds ("!" and "\x7f") and every kind of blank.
EDGE = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1f", "\x85", "\xa0", "\u2003", "\u3000", "!", "~", "\x7f",
        "A", "z", "0", "é", "Ñ", "字", "-", "_"]
# Mostly printable ASCII and spaces, so that columns often take the fast path's test to its edge.
PRINTABLE = st.text(alphabet=st.sampled_from([" ", "!", "~", "A", "z", "0", "-"]), max_size=4)
values = st.lists(st.one_of(st.none(), PRINTABLE, st.text(alphabet=st.sampled_from(EDGE), max_size=4),
                            st.text(max_size=6)), min_size=1, max_size=8)  # "" included (size 0)


def _exact_present(name: str) -> pl.Expr:
    return (pl.col(name).cast(pl.String).str.strip_chars().str.len_bytes() > 0).fill_null(False)


@settings(max_examples=300, deadline=None)
@given(values)
@example([" "])
@example(["A", "\u3000"])
@example(["", "A"])
def test_present_takes_the_null_check_only_when_no_value_can_be_blank(column):
    frame = pl.DataFrame({"v": column}, schema={"v": pl.String})
    fast = frame.select(present("v", frame))["v"].to_list()
    assert fast == frame.select(_exact_present("v"))["v"].to_list()


def test_present_fast_path_is_taken_on_clean_strings_and_typed_columns():
    frame = pl.DataFrame({"s": ["A1", None, "~x"], "n": [1, None, 3], "blank": ["A", " ", "B"]})
    assert str(present("s", frame)) == str(pl.col("s").is_not_null())
    assert str(present("n", frame)) == str(pl.col("n").is_not_null())
    assert frame.select(present("blank", frame))["blank"].to_list() == [True, False, True]
    assert frame.select(present("n", frame))["n"].to_list() == [True, False, True]


@settings(max_examples=200, deadline=None)
@given(values)
def test_missing_fields_names_blank_and_null_fields(column):
    frame = pl.DataFrame({"a": column, "b": list(reversed(column)), "n": list(range(len(column)))},
                         schema={"a": pl.String, "b": pl.String, "n": pl.Int64})
    got = frame.select(missing_fields(frame, ["a", "n", "b"]).alias("m"))["m"].to_list()
    blank = frame.select(~_exact_present("a"), ~_exact_present("b"))
    want = [",".join(name for name, is_blank in (("a", a), ("b", b)) if is_blank) for a, b in blank.iter_rows()]
    assert got == want


PATTERNS = [r"\d{3}", r"(BA|CC)\d{2}", r"doj:[^:]+:\d{2}", r"[A-Z]\d?"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PATTERNS),
       st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from(
           [" ", "\t", "\xa0", "\u2003", "1", "2", "B", "A", "C", "d", "o", "j", ":", "x", "é"]), max_size=9)),
           min_size=1, max_size=40))
def test_matches_equals_trim_then_match(pattern, column):
    frame = pl.DataFrame({"v": column}, schema={"v": pl.String})
    text = pl.col("v").str.strip_chars()
    trimmed = (text.str.contains(f"^(?:{pattern})$") | (text.str.len_bytes() == 0)).fill_null(True)
    assert frame.select(matches("v", pattern))["v"].to_list() == frame.select(trimmed)["v"].to_list()


def _agrees_on_strings(rows: pl.DataFrame, det: pl.DataFrame) -> list[bool]:
    first = det.unique("count_id", keep="first", maintain_order=True).rename(
        {"determination": "_d", "relief": "_r"})
    joined = rows.join(first, on="count_id", how="left", maintain_order="left")
    return joined.select(((pl.col("_d") == pl.col("determination")) & (pl.col("_r") == pl.col("relief")))
                         .fill_null(False))["_d"].to_list()


ids = st.one_of(st.none(), st.sampled_from(["c1", "c2", "c3", "c4", "c5"]))
decisions = st.sampled_from(["Eligible for Dismissal", "Not eligible", None])
reliefs = st.sampled_from(["dismiss_and_seal", "none", None])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(ids, decisions, reliefs), max_size=12),
       st.lists(st.tuples(ids, decisions, reliefs), max_size=12))
def test_delivery_rows_agree_with_the_first_determination_of_their_count(delivered, decided):
    schema = {"count_id": pl.String, "determination": pl.String, "relief": pl.String}
    rows = pl.DataFrame(delivered, schema=schema, orient="row")
    det = pl.DataFrame(decided, schema=schema, orient="row")
    assert _agrees_with_determinations(rows, det).to_list() == _agrees_on_strings(rows, det)


# ---------------------------------------------------------------------------------------------
# GX helper patch


def test_gx_helpers_return_what_gx_returns():
    from great_expectations.expectations.expectation import Expectation
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    from pipelines.validation import CHECKPOINTS
    from pipelines.validation.suites import gx_kwargs, load_suite

    expectations = [
        ExpectationConfiguration(type=exp.type, kwargs=gx_kwargs(exp.kwargs), severity=exp.severity,
                                 meta={"id": exp.id}).to_domain_obj()
        for checkpoint in CHECKPOINTS for _, exp in load_suite(checkpoint).expectations()
    ]
    was_installed = gx_speedups._installed
    gx_speedups.uninstall()
    try:
        runtime = {"result_format": {"result_format": "SUMMARY", "partial_unexpected_count": 7}}
        original = [(e._get_domain_kwargs(), e._get_success_kwargs(), e._get_runtime_kwargs(runtime),
                     e._get_runtime_kwargs()) for e in expectations]
        if not gx_speedups.install():
            pytest.skip(f"GX is not {gx_speedups.PATCHED_VERSION}: the patch is not applied")
        assert Expectation._get_domain_kwargs is gx_speedups._get_domain_kwargs
        patched = [(e._get_domain_kwargs(), e._get_success_kwargs(), e._get_runtime_kwargs(runtime),
                    e._get_runtime_kwargs()) for e in expectations]
    finally:
        gx_speedups.uninstall()
        if was_installed:
            gx_speedups.install()
    assert len(expectations) > 50
    assert patched == original


def _results(tmp_path, county, checkpoint: str, frames: dict, name: str) -> list[dict]:
    result = run_checkpoint(checkpoint, frames, context={**county.context[checkpoint], "build_docs": False},
                            out_dir=tmp_path / name)
    payload = json.loads(result.summary_path.read_text())
    return payload["results"]


@pytest.mark.parametrize("checkpoint", ["determinations", "delivery"])
def test_validation_results_are_the_same_with_and_without_the_gx_patch(checkpoint, tmp_path, monkeypatch):
    county = clean_county(40)
    frames = dict(county.frames[checkpoint])
    # A failing expectation too, so the failing-rows (SUMMARY) path is compared as well.
    key = "determinations" if checkpoint == "determinations" else "delivery"
    frames[key] = frames[key].with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("Unknown")).otherwise(pl.col("determination"))
        .alias("determination"))
    was_installed = gx_speedups._installed
    try:
        gx_speedups.uninstall()
        monkeypatch.setenv("AUTOCLEAR_GX_SPEEDUPS", "0")
        plain = _results(tmp_path, county, checkpoint, frames, "plain")
        assert not gx_speedups._installed
        monkeypatch.setenv("AUTOCLEAR_GX_SPEEDUPS", "1")
        fast = _results(tmp_path, county, checkpoint, frames, "fast")
        assert gx_speedups._installed or not gx_speedups.install()
    finally:
        if not was_installed:
            gx_speedups.uninstall()
    assert any(not r["success"] for r in plain)
    assert fast == plain
