"""The shipped policies: each one's distinctive rules, relief, and one determination per conviction."""

from __future__ import annotations

from datetime import date

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.eligibility import available_policies, determine, load_policy
from pipelines.eligibility.examples import (
    Event,
    Person,
    charged,
    convicted,
    death,
    person,
    records,
    registration,
)
from pipelines.model import DETERMINATION, DETERMINATIONS, RELIEFS

AT = date(2019, 11, 11)


def decide(policy: str, people, county: str = "LOS ANGELES", **params) -> dict[str, dict]:
    p = load_policy(policy, parameters=params or None)
    counts, persons = records(people)
    out = determine(counts, persons, policy=p, county=county, compute_at=AT)
    return {row["count_id"].removeprefix("ex:"): row for row in out.iter_rows(named=True)}


def outcome(policy: str, people, county: str = "LOS ANGELES", **params) -> dict[str, tuple[str, str]]:
    return {k: (r["determination"], r["reason"]) for k, r in decide(policy, people, county, **params).items()}


# ---------------------------------------------------------------------------------------------
# Los Angeles
def test_los_angeles_misdemeanors_go_to_city_attorneys_even_after_prop64():
    got = outcome("los_angeles", {"a": person("1980-01-01", convicted("2017-03-12", "HS 11358", level="M"))})
    assert got == {"a:0": ("To be reviewed by City Attorneys", "Misdemeanor or Infraction")}


def test_los_angeles_possession_and_prop64_date():
    got = outcome("los_angeles", {"a": person("1980-01-01",
                                              convicted("2016-11-09", "HS 11359"), convicted("1990-01-01", "HS 11357(a)"),
                                              convicted("1990-01-01", "HS 11357(c)"), convicted("1990-01-01", "HS 11357"))})
    assert got == {"a:0": ("Not eligible", "Occurred after 11/09/2016"),
                   "a:1": ("Eligible for Dismissal", "11357(a) or 11357(b)"),
                   "a:2": ("Hand Review", "Other 11357"), "a:3": ("Hand Review", "Other 11357")}


def test_los_angeles_disqualifiers_only_when_prior():
    got = outcome("los_angeles", {
        "strike": person("1980-01-01", convicted("1990-01-01", "PC 187"), convicted("1995-01-01", "HS 11359")),
        "later_strike": person("1980-01-01", convicted("1995-01-01", "HS 11359"), convicted("1996-01-01", "PC 187"),
                               convicted("2015-01-01", "PC 459")),
        "pc290": person("1980-01-01", registration("1990-01-01"), convicted("1995-01-01", "HS 11359")),
        "priors": person("1980-01-01", convicted("1990-01-01", "HS 11359"), convicted("1991-01-01", "HS 11359"),
                         convicted("1995-01-01", "HS 11359")),
    })
    assert got["strike:1"] == ("Not eligible", "PC 667(e)(2)(c)(iv)")
    assert got["later_strike:0"] == ("Hand Review", "No applicable eligibility criteria")
    assert got["pc290:1"] == ("Not eligible", "PC 290")
    assert got["priors:2"] == ("Not eligible", "Two priors") and got["priors:1"][1] != "Two priors"


def test_los_angeles_age_youth_only_cannabis_crime_free_serving_deceased():
    got = outcome("los_angeles", {
        "old": person("1969-11-10", convicted("1990-01-01", "HS 11359"), convicted("2015-01-01", "PC 459")),
        "young": person("1999-01-01", convicted("2015-01-01", "HS 11359"), convicted("2016-01-01", "PC 459")),
        "only": person("1980-01-01", convicted("2015-01-01", "HS 11359"), convicted("2015-06-01", "HS 11360")),
        "free": person("1980-01-01", convicted("2000-01-01", "HS 11359"), convicted("2009-11-10", "PC 459")),
        "serving": person("1980-01-01", convicted("2015-01-01", "HS 11359", sentence_end="2030-01-01")),
        "dead": person("1980-01-01", convicted("2015-01-01", "HS 11359"), convicted("2015-01-01", "PC 459"),
                       death("2016-01-01")),
    })
    assert got["old:0"] == ("Eligible for Dismissal", "50 years or older")
    assert got["young:0"] == ("Eligible for Dismissal", "21 years or younger")
    assert got["only:0"] == ("Eligible for Dismissal", "Only has 11357-60 charges and completed sentence")
    assert got["free:0"] == ("Eligible for Dismissal", "No convictions in past 10 years")
    assert got["serving:0"] == ("Hand Review", "Currently serving sentence")
    assert got["dead:0"] == ("Eligible for Dismissal", "Deceased")


def test_los_angeles_parameters():
    people = {"a": person("1965-01-01", convicted("1990-01-01", "HS 11359"), convicted("2015-01-01", "PC 459"))}
    assert outcome("los_angeles", people)["a:0"][0] == "Eligible for Dismissal"
    assert outcome("los_angeles", people, age=60)["a:0"] == ("Hand Review", "No applicable eligibility criteria")


# ---------------------------------------------------------------------------------------------
# Configurable (the incumbent's options)
def test_configurable_order_and_reasons():
    got = outcome("configurable", {
        "m": person("1980-01-01", convicted("2015-01-01", "HS 11359", level="M")),
        "d": person("1980-01-01", convicted("2015-01-01", "HS 11358"), convicted("2015-01-01", "PC 459")),
        "y": person("1980-01-01", convicted("2000-12-31", "HS 11359"), convicted("2015-01-01", "PC 459")),
        "o": person("1962-11-11", convicted("2015-01-01", "HS 11359"), convicted("2015-01-01", "PC 459")),
        "t": person("1970-01-01", convicted("2009-11-11", "HS 11359"), convicted("2015-01-01", "PC 459")),
        "c": person("1970-01-01", convicted("2015-01-01", "HS 11359")),
        "x": person("1970-01-01", convicted("2015-01-01", "HS 11359"), convicted("2015-01-01", "PC 459"),
                    death("2016-01-01")),
        "r": person("1970-01-01", convicted("2015-01-01", "HS 11360"), convicted("2015-01-01", "PC 459")),
    }, county="LOS ANGELES")
    assert got == {
        "m:0": ("Eligible for Dismissal", "Misdemeanor or Infraction"),
        "d:0": ("Eligible for Dismissal", "Dismiss all HS 11358 convictions"),
        "y:0": ("Eligible for Dismissal", "21 years or younger"),
        "o:0": ("Eligible for Dismissal", "57 years or older"),
        "t:0": ("Eligible for Dismissal", "Conviction occurred 10 or more years ago"),
        "c:0": ("Eligible for Dismissal", "Only has 11357-60 charges"),
        "x:0": ("Eligible for Dismissal", "Individual is deceased"),
        "r:0": ("Eligible for Reduction", "Reduce all HS 11360 convictions"),
    }


# ---------------------------------------------------------------------------------------------
# San Joaquin and Contra Costa (related charges)
def test_san_joaquin_and_contra_costa_related_charges():
    people = {
        "a": person("1970-01-01",
                    charged("1990-01-01", "HS 11359", cycle="1", case="1a"),
                    convicted("1990-02-01", "PC 148", cycle="1", case="1b"),
                    convicted("1990-02-01", "BP 4060", cycle="1", case="1b"),
                    convicted("1991-01-01", "PC 602", cycle="2")),
    }
    for policy in ("san_joaquin", "contra_costa"):
        got = outcome(policy, people, county="LOS ANGELES")
        assert got == {
            "a:1": ("Eligible for Dismissal", "PC 148"),
            "a:2": ("Maybe Eligible - Flag for Review", "4060 BP"),
            "a:3": ("Maybe Eligible - Flag for Review", "No Related Prop64 Charges"),
        }, policy


def test_san_joaquin_five_year_rule_and_single_conviction():
    got = outcome("san_joaquin", {
        "old": person("1970-01-01", convicted("2000-01-01", "HS 11359"), convicted("2014-11-10", "PC 459")),
        "new": person("1970-01-01", convicted("2000-01-01", "HS 11359"), convicted("2015-01-01", "PC 459")),
        "one": person("1970-01-01", convicted("2000-01-01", "HS 11359")),
        "serving": person("1970-01-01", convicted("2000-01-01", "HS 11360", sentence_end="2030-01-01")),
        "p": person("1970-01-01", convicted("2000-01-01", "HS 11357(c)"), convicted("2015-01-01", "PC 459")),
    })
    assert got["old:0"] == ("Eligible for Dismissal", "No convictions in past 5 years")
    assert got["new:0"] == ("Maybe Eligible - Flag for Review", "Has convictions in past 5 years")
    assert got["one:0"] == ("Eligible for Dismissal", "Sentence Completed")
    assert got["serving:0"] == ("Maybe Eligible - Flag for Review", "Sentence not Completed")
    assert got["p:0"] == ("Eligible for Dismissal", "11357 HS")


# ---------------------------------------------------------------------------------------------
# Sacramento
def test_sacramento_rules():
    got = outcome("sacramento", {
        "b": person("1970-01-01", convicted("2000-01-01", "HS 11357(b)"), convicted("2015-01-01", "PC 459")),
        "old": person("1970-01-01", convicted("2000-01-01", "HS 11359"), convicted("2009-01-01", "PC 459")),
        "new": person("1970-01-01", convicted("2000-01-01", "HS 11359"), convicted("2015-01-01", "PC 459")),
        "one": person("1970-01-01", convicted("2000-01-01", "HS 11359")),
        "serving": person("1970-01-01", convicted("2000-01-01", "HS 11359", sentence_end="2030-01-01")),
        "late": person("1970-01-01", convicted("2017-01-01", "HS 11359")),
    }, county="LOS ANGELES")
    assert got["b:0"] == ("Eligible for Dismissal", "HS 11357(b)")
    assert got["old:0"] == ("Eligible for Dismissal", "No convictions in past 10 years")
    assert got["new:0"] == ("Eligible for Reduction", "Has convictions in past 10 years")
    assert got["one:0"] == ("Eligible for Dismissal", "Sentence Completed")
    assert got["serving:0"] == ("Eligible for Reduction", "Sentence not Completed")
    assert got["late:0"] == ("Not eligible", "Occurred after 11/09/2016")


# ---------------------------------------------------------------------------------------------
# The statute, and relief
def test_statute_relief_per_section():
    got = decide("statute", {
        "a": person("1970-01-01",
                    convicted("1990-01-01", "HS 11357(b)", level="M"),
                    convicted("1990-01-01", "HS 11358"),
                    convicted("1990-01-01", "HS 11359"),
                    convicted("1990-01-01", "HS 11360(a)"),
                    convicted("1990-01-01", "HS 11357(c)", level="M"),
                    convicted("1990-01-01", "HS 11360", level="M"),
                    convicted("1990-01-01", "HS 11359", level="M")),
        "minor": person("1975-01-01", convicted("1990-01-01", "HS 11359")),
    })
    view = {k: (r["determination"], r["relief"], r["resulting_level"]) for k, r in got.items()}
    assert view == {
        "a:0": ("Eligible for Dismissal", "dismiss_and_seal", None),
        "a:1": ("Eligible for Dismissal", "dismiss_and_seal", None),
        "a:2": ("Eligible for Reduction", "redesignate_misdemeanor", "M"),
        "a:3": ("Eligible for Reduction", "redesignate_misdemeanor", "M"),
        "a:4": ("Hand Review", "review", None),
        "a:5": ("Eligible for Dismissal", "dismiss_and_seal", None),
        "a:6": ("Not eligible", "none", None),
        "minor:0": ("Eligible for Reduction", "redesignate_infraction", "I"),
    }
    assert got["a:2"]["resulting_section"] == "HS 11359"
    assert got["a:2"]["statutory_basis"] == "HS 11361.8(e)-(f); HS 11361.9"
    assert got["a:2"]["reason"] == "HS 11359: now a misdemeanor"


def test_statute_disqualifiers_keep_felonies():
    got = outcome("statute", {
        "s": person("1960-01-01", convicted("1980-01-01", "PC 187"), convicted("1990-01-01", "HS 11359"),
                    convicted("1990-01-01", "HS 11357(b)"), convicted("1990-01-01", "HS 11358")),
        "r": person("1960-01-01", registration("1980-01-01"), convicted("1990-01-01", "HS 11360(a)")),
        "p": person("1960-01-01", convicted("1980-01-01", "HS 11359"), convicted("1981-01-01", "HS 11359"),
                    convicted("1990-01-01", "HS 11359")),
        "m": person("1960-01-01", convicted("1990-01-01", "HS 11360(a)(3)(c)")),
    })
    assert got["s:1"][0] == "Not eligible" and "super strike" in got["s:1"][1]
    assert got["s:2"][0] == "Eligible for Dismissal"  # possession is legal now, priors or not
    assert got["s:3"] == ("Hand Review", "Cultivation with a disqualifying prior; relief depends on the plant count")
    assert got["r:1"][0] == "Not eligible" and "PC 290" in got["r:1"][1]
    assert got["p:2"][0] == "Not eligible" and "Two or more" in got["p:2"][1]
    assert got["m:0"][0] == "Not eligible"


def test_statute_recall_and_resentence_while_serving():
    got = decide("statute", {"a": person("1970-01-01", convicted("2015-01-01", "HS 11359", sentence_end="2021-01-01"))})
    assert got["a:0"]["determination"] == "Eligible for Reduction"
    assert got["a:0"]["relief"] == "recall_and_resentence"
    assert got["a:0"]["statutory_basis"] == "HS 11361.8(a)-(b); HS 11361.9"


def test_determination_columns_come_first_and_are_complete():
    counts, persons = records({"a": person("1970-01-01", convicted("1990-01-01", "HS 11359"))})
    out = determine(counts, persons, policy=load_policy("los_angeles"), county="LOS ANGELES", compute_at=AT)
    assert out.columns[: len(DETERMINATION)] == list(DETERMINATION)
    row = out.row(0, named=True)
    assert (row["policy"], row["policy_version"], row["compute_at"]) == ("los_angeles", "2019.11", AT)
    assert row["explanation"].endswith("=> Eligible for Dismissal") and "APPLIES" in row["explanation"]


# ---------------------------------------------------------------------------------------------
# Property: every cannabis conviction in the county gets exactly one determination, under every
# shipped policy, whatever the record looks like.
STATUTES = ["HS 11357", "HS 11357(a)", "HS 11357(b)", "HS 11357(c)", "HS 11357(d)", "HS 11358", "HS 11359",
            "HS 11359(c)(3)", "HS 11360", "HS 11360(a)", "HS 11360(b)", "PC 187", "PC 220", "PC 288",
            "PC 136.1", "PC 186.22(b)(4)", "PC 148", "BP 4060", "PC 459", "VC 23152", None]
COUNTIES = ["LOS ANGELES", "YOLO"]
days = st.dates(min_value=date(1940, 1, 1), max_value=date(2022, 12, 31)).map(date.isoformat)
maybe_days = st.one_of(st.none(), days)

event = st.builds(
    Event,
    date=maybe_days,
    statute=st.sampled_from(STATUTES),
    convicted=st.booleans(),
    level=st.sampled_from(["F", "M", "I", None]),
    county=st.sampled_from(COUNTIES),
    step=st.sampled_from(["COURT", "ARREST", "REGISTRATION", "DECEASED", "OTHER"]),
    sentence_end=maybe_days,
    case=st.sampled_from(["k1", "k2", "k3"]),
    cycle=st.sampled_from([None, "y1", "y2"]),
    comment_sections=st.lists(st.sampled_from(["11359", "HS 11357(d)", "PC 148"]), max_size=2).map(tuple),
)
people = st.dictionaries(
    st.text("abcdef", min_size=1, max_size=3),
    st.builds(Person, dob=maybe_days, events=st.lists(event, max_size=6).map(tuple)),
    max_size=5,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(people=people, county=st.sampled_from(COUNTIES))
def test_every_cannabis_conviction_in_the_county_gets_exactly_one_determination(people, county):
    counts, persons = records(people)
    expected = counts.filter(
        pl.col("is_conviction") & (pl.col("county") == county) & (pl.col("code") == "HS")
        & pl.col("section").is_in(["11357", "11358", "11359", "11360"])
    )["count_id"].sort().to_list()
    for name in available_policies():
        out = determine(counts, persons, policy=load_policy(name), county=county, compute_at=AT)
        cannabis = out.filter(pl.col("count_id").is_in(expected))
        assert cannabis["count_id"].sort().to_list() == expected, name
        assert out["count_id"].n_unique() == out.height, name
        assert out["determination"].is_in(list(DETERMINATIONS)).all(), name
        assert out["relief"].is_in(list(RELIEFS)).all(), name
        assert out["reason"].is_not_null().all() and out["explanation"].is_not_null().all(), name
