"""Linkage building blocks on small hand-made frames: preparation, the deterministic pass,
dedupe of counts, clusters and unified persons. (Splink itself: test_linkage_synth.py.)"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines.linkage import dedupe_counts, merged_count_rows, unify_persons
from pipelines.linkage.clusters import cluster_persons
from pipelines.linkage.deterministic import deterministic_links
from pipelines.linkage.nicknames import build_nickname_table, name_groups, nickname_table
from pipelines.linkage.prepare import case_keys, prepare_persons
from pipelines.model import COUNT, PERSON, conform


def persons(*rows: dict) -> pl.DataFrame:
    base = {"source": "doj", "source_file": "f.dat", "source_line": 1}
    frame = pl.DataFrame([{**base, **r} for r in rows], infer_schema_length=None)
    return conform(frame, PERSON)


def counts(*rows: dict) -> pl.DataFrame:
    base = {"source": "court", "source_file": "x.csv", "source_line": 1, "step_type": "COURT", "code": "HS"}
    return conform(pl.DataFrame([{**base, **r} for r in rows], infer_schema_length=None), COUNT)


def prepared(*rows: dict, counts_frame: pl.DataFrame | None = None) -> pl.DataFrame:
    return prepare_persons(persons(*rows), counts_frame)


# ---------------------------------------------------------------------------------------------
# Preparation


def test_compound_surnames_written_four_ways_share_a_token():
    p = prepared(
        {"person_id": "a", "last_name": "GARCIA-LOPEZ", "first_name": "ANA"},
        {"person_id": "b", "last_name": "GARCIA LOPEZ", "first_name": "ANA"},
        {"person_id": "c", "last_name": "GARCIALOPEZ", "first_name": "ANA"},
        {"person_id": "d", "last_name": "LOPEZ", "first_name": "ANA"},
        {"person_id": "e", "last_name": "DE LA CRUZ", "first_name": "ANA"},
    ).sort("unique_id")
    tokens = dict(zip(p["unique_id"], p["last_name_tokens"].to_list(), strict=True))
    assert tokens["a"] == tokens["b"] == ["GARCIA", "LOPEZ"]
    assert "LOPEZ" in tokens["d"]
    assert tokens["e"] == ["CRUZ"]  # particles are not distinctive
    flat = dict(zip(p["unique_id"], p["last_name_flat"], strict=True))
    assert flat["a"] == flat["b"] == flat["c"] == "GARCIALOPEZ"


def test_order_free_keys_survive_swapped_names_and_transposed_dates():
    p = prepared(
        {"person_id": "a", "last_name": "NGUYEN", "first_name": "MINH", "dob": date(1980, 3, 7)},
        {"person_id": "b", "last_name": "MINH", "first_name": "NGUYEN", "dob": date(1980, 7, 3)},
    )
    assert p["name_key"][0] == p["name_key"][1]
    assert p["initials_key"][0] == p["initials_key"][1]
    assert p["dob_key"][0] == p["dob_key"][1]
    assert p["dob_str"][0] != p["dob_str"][1]


def test_nickname_groups_include_english_and_spanish_diminutives():
    groups = dict(zip(*name_groups().select("name", "groups").to_dict(as_series=False).values(), strict=True))
    assert "ROBERT" in groups["BOB"]
    assert "FRANCISCO" in groups["PACO"]
    assert "JESUS" in groups["CHUY"]
    assert "BOB" in groups["BOB"]  # a name stands for itself
    p = prepared({"person_id": "a", "last_name": "X", "first_name": "PACO"})
    assert "FRANCISCO" in p["first_name_groups"][0]


def test_packaged_nickname_table_is_what_the_builder_derives():
    # The committed table must be regenerated when the package or the Spanish table changes.
    assert build_nickname_table().equals(nickname_table())


def test_placeholder_identifiers_are_not_evidence():
    p = prepared(
        {"person_id": "a", "last_name": "X", "first_name": "Y", "ssn": "000000000", "cii": "0"},
        {"person_id": "b", "last_name": "X", "first_name": "Y", "ssn": "666123456", "cii": "A12345678"},
    ).sort("unique_id")
    assert p["ssn"].to_list() == [None, None]
    assert p["cii"].to_list() == [None, "012345678"]


def test_a_person_in_two_files_is_prepared_once_from_its_first_line():
    p = prepare_persons(persons(
        {"person_id": "a", "last_name": "LATER", "first_name": "X", "source_file": "b.dat", "source_line": 1},
        {"person_id": "a", "last_name": "FIRST", "first_name": "X", "source_file": "a.dat", "source_line": 9},
    ))
    assert p.height == 1 and p["last_name"][0] == "FIRST"


def test_case_keys_keep_county_base_and_suffix_apart():
    keys = case_keys(counts(
        {"count_id": "1", "person_id": "p", "county": "LOS ANGELES", "case_numbers": "GA039399-01; GA 039399",
         "case_number": "GA039399-01"},
        {"count_id": "2", "person_id": "p", "county": "ORANGE", "case_number": "ga039399"},
        {"count_id": "3", "person_id": "q", "county": "LOS ANGELES", "case_number": "NULL"},
    ))
    row = keys.filter(pl.col("person_id") == "p").row(0, named=True)
    assert row["case_keys"] == ["LOS ANGELES|GA039399", "ORANGE|GA039399"]
    assert row["case_keys_full"] == ["LOS ANGELES|GA039399", "LOS ANGELES|GA039399-01", "ORANGE|GA039399"]
    assert row["case_keys_unsuffixed"] == ["LOS ANGELES|GA039399", "ORANGE|GA039399"]
    assert keys.filter(pl.col("person_id") == "q").height == 0  # placeholders carry no case


# ---------------------------------------------------------------------------------------------
# Deterministic pass


def _links(left_rows, right_rows, left_counts=None, right_counts=None) -> pl.DataFrame:
    return deterministic_links(prepare_persons(persons(*left_rows), left_counts),
                               prepare_persons(persons(*right_rows), right_counts))


def test_an_identifier_links_when_some_part_of_the_name_or_the_dob_agrees():
    found = _links(
        [{"person_id": "d1", "last_name": "LUGO", "first_name": "ROSA", "cii": "427656571"},
         {"person_id": "d2", "last_name": "SMITH", "first_name": "JOHN", "cii": "111111111", "dob": date(1970, 1, 1)}],
        [{"person_id": "c1", "last_name": "LUGO", "first_name": "ROSIE", "cii": "A427656571"},
         # Same CII, nothing else agrees: a mistyped id, not a link.
         {"person_id": "c2", "last_name": "JONES", "first_name": "MARY", "cii": "111111111", "dob": date(1990, 5, 5)}],
    )
    assert found.select("left_id", "right_id", "rules").rows() == [("d1", "c1", "cii")]


def test_a_case_number_links_with_agreeing_name_but_not_co_defendants_or_jr_sr():
    doj_counts = counts(
        {"count_id": "d1:1", "person_id": "d1", "county": "LOS ANGELES", "case_number": "BA100000-01"},
        {"count_id": "d2:1", "person_id": "d2", "county": "LOS ANGELES", "case_number": "BA200000"},
        {"count_id": "d3:1", "person_id": "d3", "county": "LOS ANGELES", "case_number": "BA300000"},
    )
    court_counts = counts(
        {"count_id": "c1:1", "person_id": "c1", "county": "LOS ANGELES", "case_number": "BA100000-01"},
        {"count_id": "c9:1", "person_id": "c9", "county": "LOS ANGELES", "case_number": "BA100000-02"},
        {"count_id": "c2:1", "person_id": "c2", "county": "LOS ANGELES", "case_number": "BA200000-01"},
        {"count_id": "c3:1", "person_id": "c3", "county": "LOS ANGELES", "case_number": "BA300000"},
    )
    found = _links(
        [{"person_id": "d1", "last_name": "PEREZ", "first_name": "JOSE"},
         {"person_id": "d2", "last_name": "RUIZ", "first_name": "ANA", "dob": date(1980, 1, 2)},
         {"person_id": "d3", "last_name": "KIM", "first_name": "LEE", "name_suffix": "SR"}],
        [{"person_id": "c1", "last_name": "PEREZ", "first_name": "PEPE"},  # nickname, same suffix -01
         {"person_id": "c9", "last_name": "PEREZ", "first_name": "JOSE"},  # co-defendant -02
         {"person_id": "c2", "last_name": "RUIZ", "first_name": "ANA"},  # DOJ omitted the suffix
         {"person_id": "c3", "last_name": "KIM", "first_name": "LEE", "name_suffix": "JR"}],  # the son
        doj_counts, court_counts,
    )
    assert found.select("left_id", "right_id").rows() == [("d1", "c1"), ("d2", "c2")]
    assert set(found["rules"]) == {"case_number"}


def test_a_placeholder_identifier_shared_by_many_records_links_nobody():
    rows = [{"person_id": f"c{i}", "last_name": "DOE", "first_name": "JOHN", "ssn": "123456789"} for i in range(30)]
    found = _links([{"person_id": "d", "last_name": "DOE", "first_name": "JOHN", "ssn": "123456789"}], rows)
    assert found.height == 0


def test_deterministic_dedupe_lists_each_pair_once():
    p = prepared(
        {"person_id": "b", "last_name": "SOTO", "first_name": "LUIS", "cii": "123456789"},
        {"person_id": "a", "last_name": "SOTO", "first_name": "LUIS", "cii": "123456789", "ssn": "212345678"},
        {"person_id": "c", "last_name": "SOTO", "first_name": "LUIS", "ssn": "212345678"},
    )
    found = deterministic_links(p)
    assert found.select("left_id", "right_id", "rules").rows() == [("a", "b", "cii"), ("a", "c", "ssn")]


# ---------------------------------------------------------------------------------------------
# Counts repeated by overlapping extracts


def test_dedupe_counts_keeps_the_latest_extract_and_reports_merges():
    c = counts(
        {"count_id": "k:1", "person_id": "p", "section": "11357", "disposition": "convicted",
         "source_file": "extract_2023-01.csv", "source_line": 5},
        {"count_id": "k:1", "person_id": "p", "section": "11357", "disposition": "dismissed",
         "source_file": "extract_2023-06.csv", "source_line": 2},
        {"count_id": "k:1", "person_id": "p", "section": "11357", "disposition": "convicted",
         "source_file": "extract_2023-03.csv", "source_line": 7},
        {"count_id": "k:2", "person_id": "p", "section": "11359", "source_file": "extract_2023-01.csv", "source_line": 6},
    )
    out = dedupe_counts(c)
    assert out.height == 2 and merged_count_rows(out) == 2
    kept = out.filter(pl.col("count_id") == "k:1").row(0, named=True)
    assert kept["source_file"] == "extract_2023-06.csv" and kept["disposition"] == "dismissed"
    assert kept["copies"] == 3 and kept["conflicting_copies"] is True
    assert out.filter(pl.col("count_id") == "k:2")["conflicting_copies"].to_list() == [False]
    assert dedupe_counts(c.sample(fraction=1.0, shuffle=True, seed=3)).equals(out)


# ---------------------------------------------------------------------------------------------
# Clusters and unified persons


def test_clusters_are_connected_components_named_by_smallest_id():
    ids = pl.Series(["d", "a", "c", "b", "e"])
    out = cluster_persons(ids, pl.DataFrame({"left_id": ["b", "c"], "right_id": ["c", "d"]}))
    assert dict(out.select("person_id", "cluster_id").iter_rows()) == {
        "a": "a", "b": "b", "c": "b", "d": "b", "e": "e"}
    assert dict(out.select("person_id", "cluster_size").iter_rows())["c"] == 3


def test_unified_persons_prefer_a_doj_key_and_follow_duplicates():
    doj = persons({"person_id": "doj:2"}, {"person_id": "doj:1"}, {"person_id": "doj:3"})
    court = persons({"person_id": "court:X:9"}, {"person_id": "court:X:8"}, {"person_id": "court:X:7"})
    links = pl.DataFrame({"left_id": ["doj:2"], "right_id": ["court:X:9"], "is_match": [True]})
    doj_clusters = pl.DataFrame({"person_id": ["doj:1", "doj:2", "doj:3"], "cluster_id": ["doj:1", "doj:1", "doj:3"]})
    court_clusters = pl.DataFrame({"person_id": ["court:X:7", "court:X:8", "court:X:9"],
                                   "cluster_id": ["court:X:7", "court:X:8", "court:X:8"]})
    u = unify_persons(doj, court, links, doj_clusters=doj_clusters, court_clusters=court_clusters)
    key = dict(u.select("person_id", "person_key").iter_rows())
    assert key["court:X:8"] == key["court:X:9"] == key["doj:2"] == "doj:1"
    assert key["court:X:7"] == "court:X:7" and key["doj:3"] == "doj:3"
    known = dict(u.select("person_id", "known_to_doj").iter_rows())
    assert known["court:X:8"] and not known["court:X:7"]


@pytest.mark.parametrize("bad", [(0.9, 0.5), (0.5, 1.5)])
def test_settings_reject_an_impossible_review_band(bad):
    from pipelines.linkage import LinkageSettings

    with pytest.raises(ValueError, match="review_band"):
        LinkageSettings(review_band=bad)
