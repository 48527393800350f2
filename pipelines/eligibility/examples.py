"""Small hand-written records as canonical frames, for tests, docs and trying a policy out.

    counts, persons = records({
        "p1": person("1960-03-14",
                     convicted("1981-04-11", "HS 11358"),
                     convicted("1998-05-04", "PC 187", county="YOLO")),
    })
    determine(counts, persons, policy=load_policy("los_angeles"), county="LOS ANGELES", ...)

Statutes are written as in policy files ("HS 11357(c)", "PC 186.22(b)(4)"). Each event becomes
one model.COUNT row; ids follow the DOJ pattern (person "ex:<key>", case and cycle given or one
per event).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import polars as pl

from pipelines import model
from pipelines.eligibility.statutes import parse_statute


@dataclass(frozen=True)
class Event:
    date: str | None
    statute: str | None
    convicted: bool = True
    level: str | None = "F"
    county: str = "LOS ANGELES"
    step: str = "COURT"
    sentence_end: str | None = None
    case: str | None = None  # events with the same case share case_id (and cycle_id unless given)
    cycle: str | None = None
    comment_sections: tuple[str, ...] = ()
    offense_text: str | None = None


@dataclass(frozen=True)
class Person:
    dob: str | None
    events: tuple[Event, ...] = field(default_factory=tuple)


def person(dob: str | None, *events: Event) -> Person:
    return Person(dob, tuple(events))


def convicted(day: str | None, statute: str | None, **kw) -> Event:
    """A conviction (COURT step, disposition convicted)."""
    return Event(day, statute, True, **kw)


def charged(day: str | None, statute: str | None, **kw) -> Event:
    """A charge that did not end in conviction (an arrest by default)."""
    kw.setdefault("step", "ARREST")
    return Event(day, statute, False, **kw)


def registration(day: str | None, statute: str = "PC 290", **kw) -> Event:
    return Event(day, statute, False, level=None, step="REGISTRATION", **kw)


def death(day: str | None, **kw) -> Event:
    return Event(day, None, False, level=None, step="DECEASED", **kw)


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def records(people: dict[str, Person]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(counts, persons) as model.COUNT and model.PERSON frames."""
    counts, persons = [], []
    index = 0
    for key, p in people.items():
        pid = f"ex:{key}"
        persons.append({"person_id": pid, "source_person_key": key, "dob": _date(p.dob),
                        "source": "doj", "source_file": "examples", "source_line": len(persons) + 1})
        for n, e in enumerate(p.events):
            s = parse_statute(e.statute) if e.statute else None
            case = e.case or f"c{n}"
            conviction_day = _date(e.date)
            counts.append({
                "count_id": f"{pid}:{n}",
                "person_id": pid,
                "case_id": f"{pid}:{case}",
                "cycle_id": f"{pid}:{e.cycle or case}",
                "county": e.county,
                "case_numbers": f"CASE-{case}",
                "count_number": n + 1,
                "step_type": e.step,
                "event_date": conviction_day,
                "offense_text": e.offense_text or (f"{s.section.upper()}{s.subsection.upper()} {s.code or ''}".strip()
                                                  if s else ""),
                "code": s.code if s else None,
                "section": s.section if s else None,
                "subsection": s.subsection if s else None,
                "comment_sections": list(e.comment_sections),
                "level": e.level,
                "is_felony": None if e.level is None else e.level == "F",
                "disposition": "convicted" if e.convicted else "unknown",
                "is_conviction": e.convicted,
                "sentence_end": _date(e.sentence_end) if e.convicted and e.sentence_end else
                (conviction_day if e.convicted else None),
                "row_index": index,
                "source": "doj",
                "source_file": "examples",
                "source_line": index + 1,
            })
            index += 1
    counts_frame = model.conform(pl.DataFrame(counts, schema_overrides={"comment_sections": pl.List(pl.String)},
                                              infer_schema_length=None) if counts else model.empty(model.COUNT),
                                 model.COUNT, extra=False)
    persons_frame = model.conform(pl.DataFrame(persons, infer_schema_length=None), model.PERSON, extra=False)
    return counts_frame, persons_frame
