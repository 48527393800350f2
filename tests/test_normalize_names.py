"""Names: written forms -> parts + match keys; property: every variant of a name parses to it."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.normalize.names import (
    NAME_PARTS,
    PARTICLES,
    SUFFIXES,
    format_name,
    name_from_parts,
    parse_name,
    parse_names,
    soundex,
    with_name_keys,
)


def parts(raw: str | None, fmt: str = "LAST, FIRST MIDDLE") -> tuple:
    frame = pl.DataFrame({"raw": [raw]}, schema={"raw": pl.String})
    return tuple(frame.select(parse_name(pl.col("raw"), fmt)).item().values())


@pytest.mark.parametrize(
    ("raw", "fmt", "expected"),
    [
        ("BIRD/BIG        ", "LAST/FIRST/MIDDLE", ("BIRD", "BIG", None, None)),  # SF, padded
        ("GROUCH/OSCAR/THE", "LAST/FIRST/MIDDLE", ("GROUCH", "OSCAR", "THE", None)),
        ("SKYWALKER,LUKE S", "LAST,FIRST M", ("SKYWALKER", "LUKE", "S", None)),  # DOJ
        ("garcia-lopez, maría josé", "LAST, FIRST MIDDLE", ("GARCIA LOPEZ", "MARIA", "JOSE", None)),
        ("GARCIA Y LOPEZ, MARIA", "LAST, FIRST MIDDLE", ("GARCIA LOPEZ", "MARIA", None, None)),
        ("GARCIA - LOPEZ/ MARIA / ELENA", "LAST/FIRST/MIDDLE", ("GARCIA LOPEZ", "MARIA", "ELENA", None)),
        ("de la Cruz, Juan Jr.", "LAST, FIRST MIDDLE", ("DE LA CRUZ", "JUAN", None, "JR")),
        ("SMITH JR, JOHN A", "LAST, FIRST MIDDLE", ("SMITH", "JOHN", "A", "JR")),
        ("SMITH, JOHN A III", "LAST, FIRST MIDDLE", ("SMITH", "JOHN", "A", "III")),
        ("LEE/JOHN/JR", "LAST/FIRST/MIDDLE", ("LEE", "JOHN", None, "JR")),
        ("O'BRIEN/PATRICK", "LAST/FIRST/MIDDLE", ("OBRIEN", "PATRICK", None, None)),
        ("MUÑOZ, ÁNGEL", "LAST, FIRST MIDDLE", ("MUNOZ", "ANGEL", None, None)),
        ("SMITH, JOHN V", "LAST, FIRST MIDDLE", ("SMITH", "JOHN", "V", None)),  # V is an initial
        ("Y, KIM", "LAST, FIRST MIDDLE", ("Y", "KIM", None, None)),  # a surname that is only Y stays
        ("SMITH JOHN A", "LAST FIRST MIDDLE", ("SMITH", "JOHN", "A", None)),
        ("JOHN A SMITH", "FIRST MIDDLE LAST", ("SMITH", "JOHN", "A", None)),
        ("SMITH, JOHN", "FIRST MIDDLE LAST", ("SMITH", "JOHN", None, None)),  # a comma always wins
        ("   ", "LAST, FIRST MIDDLE", (None, None, None, None)),
        (None, "LAST, FIRST MIDDLE", (None, None, None, None)),
    ],
)
def test_written_forms(raw, fmt, expected) -> None:
    assert parts(raw, fmt) == expected


def test_separate_fields_and_frame_api() -> None:
    frame = pl.DataFrame({"l": ["garcia-lopez jr", "Nguyen"], "f": ["maría", "AN"], "m": [None, "thi"]})
    out = frame.select(name_from_parts(pl.col("l"), pl.col("f"), pl.col("m")).alias("n")).unnest("n")
    assert out.rows() == [("GARCIA LOPEZ", "MARIA", None, "JR"), ("NGUYEN", "AN", "THI", None)]
    # parse_names keeps row order and handles repeats (it parses distinct values once).
    frame = pl.DataFrame({"raw": ["B/A", "C, D", "B/A", None]})
    out = parse_names(frame, "raw", "LAST/FIRST/MIDDLE")
    assert out.columns == ["raw", *NAME_PARTS]
    assert out["last_name"].to_list() == ["B", "C", "B", None]


def test_format_name() -> None:
    frame = pl.DataFrame({"l": ["GARCIA LOPEZ", "LEE", None], "f": ["MARIA", None, "X"], "m": ["E", None, None],
                          "s": [None, "JR", None]})
    out = frame.select(format_name(pl.col("l"), pl.col("f"), pl.col("m"), pl.col("s"))).to_series().to_list()
    assert out == ["GARCIA LOPEZ, MARIA E", "LEE, JR", None]


@pytest.mark.parametrize(
    ("name", "code"),
    [("ROBERT", "R163"), ("RUPERT", "R163"), ("ASHCRAFT", "A261"), ("TYMCZAK", "T522"), ("PFISTER", "P236"),
     ("HONEYMAN", "H555"), ("LEE", "L000"), ("", None)],
)
def test_soundex(name, code) -> None:
    assert pl.DataFrame({"n": [name]}).select(soundex(pl.col("n"))).item() == code


def test_match_keys_bring_the_four_spellings_of_a_compound_surname_together() -> None:
    written = ["GARCIA LOPEZ, MARIA", "GARCIA-LOPEZ, MARIA", "GARCIA Y LOPEZ, MARIA", "GARCIA, MARIA"]
    frame = parse_names(pl.DataFrame({"raw": written}), "raw")
    keys = with_name_keys(frame)
    assert keys["last_name"].to_list()[:3] == ["GARCIA LOPEZ"] * 3
    tokens = keys["last_tokens"].to_list()
    assert all("GARCIA" in t for t in tokens)  # the one-surname spelling still shares a token
    assert keys["first_soundex"].n_unique() == 1
    particles = with_name_keys(parse_names(pl.DataFrame({"raw": ["DE LA CRUZ, JUAN", "DELACRUZ, JUAN"]}), "raw"))
    assert particles["last_tokens"].to_list()[0] == ["CRUZ"]
    assert particles["last_compact"].n_unique() == 1


# ---- property: every generated written variant of a name parses back to its parts -------------

_FORBIDDEN = set(SUFFIXES) | {"Y"}
_word = st.text(alphabet="ABCDEFGHIJKLMNOPRSTUVWZ", min_size=2, max_size=8).filter(lambda w: w not in _FORBIDDEN)
_surname_word = st.one_of(_word, st.sampled_from([p for p in PARTICLES if p not in _FORBIDDEN]))
_ACCENTS = {"A": "Á", "E": "É", "I": "Í", "O": "Ó", "U": "Ú", "N": "Ñ"}


@st.composite
def written_names(draw):
    last = draw(st.lists(_surname_word, min_size=1, max_size=3).filter(lambda ws: any(w not in PARTICLES for w in ws)))
    first = draw(_word)
    middle = draw(st.lists(_word, max_size=2))
    suffix = draw(st.one_of(st.none(), st.sampled_from(SUFFIXES)))
    joiner = draw(st.sampled_from([" ", "-", " - ", " Y "]))
    surname = joiner.join(last)
    given = " ".join([first, *middle])
    form = draw(st.sampled_from(["slash", "comma", "comma_tight"]))
    suffix_after_last = draw(st.booleans())
    if suffix and suffix_after_last:
        surname = f"{surname} {suffix}"
    elif suffix:
        given = f"{given} {suffix}"
    if form == "slash":
        rest = given.split(" ", 1)
        text = "/".join([surname, *rest])
    elif form == "comma":
        text = f"{surname}, {given}"
    else:
        text = f"{surname},{given}"
    if draw(st.booleans()):
        text = "".join(_ACCENTS.get(c, c) if draw(st.booleans()) else c for c in text)
    case = draw(st.sampled_from(["upper", "lower", "title"]))
    text = text.lower() if case == "lower" else text.title() if case == "title" else text
    text = draw(st.sampled_from(["", " ", "  "])) + text + draw(st.sampled_from(["", " ", "        "]))
    expected = (" ".join(last), first, " ".join(middle) or None, suffix)
    return text, expected


@settings(max_examples=150, deadline=None)
@given(st.lists(written_names(), min_size=1, max_size=20))
def test_property_every_variant_parses_to_its_parts(cases) -> None:
    texts = [t for t, _ in cases]
    frame = parse_names(pl.DataFrame({"raw": texts}, schema={"raw": pl.String}), "raw", "LAST, FIRST MIDDLE")
    got = list(frame.select(*NAME_PARTS).iter_rows())
    assert got == [e for _, e in cases]
