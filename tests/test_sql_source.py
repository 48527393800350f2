"""A CMS database as a court source: rows loaded into the local PostgreSQL are read back through
the generic_sql layout and the query file in sql/. Connection settings come from the environment
(a SQLAlchemy URL, or an Airflow connection exported as AIRFLOW_CONN_<ID>)."""

from __future__ import annotations

import json
import uuid
from datetime import date

import polars as pl
import pytest

from pipelines.errors import ConfigError, InputError
from pipelines.sources.court import SqlSpec, court_counts, court_persons, load_layout, read_court
from pipelines.sources.sql import redacted, resolve_url

ROWS = [
    ("BA336486", "CENTRAL", 1, "P001", "GARCIA LOPEZ, MARIA ELENA", date(1970, 3, 14), "F", "HISPANIC", "A12345678",
     "765894322", "F1234567 CA", "11357(C)HS", "M", "POSS", date(2001, 1, 2), None, "CONVICTED-JAIL",
     date(2001, 4, 20), "30", "D", None),
    ("BA336486", "CENTRAL", 2, "P001", "GARCIA LOPEZ, MARIA ELENA", date(1970, 3, 14), "F", "HISPANIC", None, None,
     None, "11360(A)HS", "F", "SALE", None, None, "DISMISSED PER PLEA", date(2001, 4, 20), None, None, None),
    ("GA039399-01", "PASADENA", 1, "P002", "OBRIEN JR, SEAN", date(1985, 12, 1), "M", "WHITE", None, None, None,
     None, "F", None, None, None, "CONVICTED-PROBATION", date(2010, 6, 30), "3", "Y", ":CHRG 11359 HS"),
    ("", "POMONA", 1, "P003", "NGUYEN, AN", None, None, None, None, None, None, "11358 HS", "F", None, None, None,
     "GUILTY", date(2015, 2, 1), None, None, None),  # no case number: quarantined
]


@pytest.fixture()
def cms_database(postgres_url: str, monkeypatch: pytest.MonkeyPatch):
    """A throw-away schema holding a cms_charges table; AUTOCLEAR_CMS_URL points at it."""
    from sqlalchemy import create_engine, text

    schema = f"autoclear_cms_{uuid.uuid4().hex[:12]}"
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
        conn.execute(text(f"""
            CREATE TABLE {schema}.cms_charges (
              court_case_number text, courthouse text, count_number integer, person_key text,
              defendant_name text, dob date, gender text, race text, cii text, ssn text, dl_number text,
              charge text, charge_level text, charge_description text, offense_date date,
              disposition_code text, disposition text, disposition_date date, sentence_length text,
              sentence_unit text, comment text)"""))
        names = [f":p{i}" for i in range(21)]
        insert = text(f"INSERT INTO {schema}.cms_charges VALUES ({', '.join(names)})")
        conn.execute(insert, [{f"p{i}": v for i, v in enumerate(r)} for r in ROWS])
    separator = "&" if "?" in postgres_url else "?"
    monkeypatch.setenv("AUTOCLEAR_CMS_URL", f"{postgres_url}{separator}options=-csearch_path%3D{schema}")
    try:
        yield schema
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


@pytest.mark.postgres
def test_rows_read_back_through_generic_sql(cms_database: str) -> None:
    layout = load_layout("generic_sql")
    assert layout.sql.query_path.is_file()
    read = read_court([], layout, county="los_angeles", as_of=date(2024, 7, 1))
    assert read.stats.select("source_file", "rows_read", "rows_accepted", "rows_quarantined").row(0) == (
        "sql:generic_cms_charges.sql", 4, 3, 1)
    assert read.quarantine.select("reason").to_series().to_list() == ["missing_case_number"]
    assert read.quarantine["raw"][0].startswith("{")  # the row as JSON
    counts = court_counts(read.rows, county="los_angeles")
    assert counts.select("count_id", "section", "is_conviction", "event_date").rows() == [
        ("court:LOS ANGELES:BA336486:1", "11357", True, date(2001, 4, 20)),
        ("court:LOS ANGELES:BA336486:2", "11360", False, date(2001, 4, 20)),
        ("court:LOS ANGELES:GA039399-01:1", "11359", True, date(2010, 6, 30)),
    ]
    persons = court_persons(read.rows, county="los_angeles")
    assert persons.select("person_id", "last_name", "dob").rows() == [
        ("court:LOS ANGELES:P001", "GARCIA LOPEZ", date(1970, 3, 14)),
        ("court:LOS ANGELES:P002", "OBRIEN", date(1985, 12, 1)),
    ]


@pytest.mark.postgres
def test_airflow_connection_json_form(cms_database: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)
    conn = {"conn_type": "postgres", "host": url.host, "port": url.port, "login": url.username,
            "password": url.password, "schema": url.database, "extra": {"options": f"-csearch_path={cms_database}"}}
    monkeypatch.setenv("AIRFLOW_CONN_CMS_TEST", json.dumps(conn))
    monkeypatch.delenv("AUTOCLEAR_CMS_URL")
    layout = load_layout("generic_sql").model_copy(update={"sql": SqlSpec(
        query="generic_cms_charges.sql", url_env=None, airflow_conn_id="cms_test")})
    read = read_court([], layout, county="los_angeles")
    assert read.stats["rows_read"].to_list() == [4]


@pytest.mark.postgres
def test_query_errors_name_the_source_without_the_password(cms_database: str, postgres_url: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOCLEAR_CMS_URL", postgres_url)  # no search_path: the table is not found
    with pytest.raises(InputError) as info:
        read_court([], "generic_sql", county="los_angeles")
    assert "sql:generic_cms_charges.sql" in str(info.value) and "cms_charges" in str(info.value)


def test_connection_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOCLEAR_CMS_URL", raising=False)
    spec = SqlSpec(query="generic_cms_charges.sql")
    with pytest.raises(ConfigError, match="AUTOCLEAR_CMS_URL"):
        resolve_url(spec)
    monkeypatch.setenv("AUTOCLEAR_CMS_URL", "postgresql+psycopg://reader@cms/cms")
    assert resolve_url(spec) == "postgresql+psycopg://reader@cms/cms"
    # An Airflow URI connection wins and is translated to a SQLAlchemy URL.
    monkeypatch.setenv("AIRFLOW_CONN_CMS_LA", "postgres://svc:p%40ss@db.example:5433/cms?sslmode=require")
    spec = SqlSpec(query="generic_cms_charges.sql", airflow_conn_id="cms_la")
    url = resolve_url(spec)
    assert url == "postgresql+psycopg://svc:p%40ss@db.example:5433/cms?sslmode=require"
    assert "p%40ss" not in redacted(url) and "***" in redacted(url)
    monkeypatch.setenv("AIRFLOW_CONN_CMS_LA", "ftp://nope")
    with pytest.raises(ConfigError, match="no known SQLAlchemy dialect"):
        resolve_url(spec)


def test_a_sql_layout_takes_no_files(tmp_path) -> None:
    with pytest.raises(InputError, match="give no files"):
        read_court([tmp_path / "x.csv"], "generic_sql", county="los_angeles")


def test_rows_from_sql_are_typed_columns() -> None:
    # Integers and dates from the database become text in the layout's formats.
    from pipelines.sources.court import _as_text

    frame = pl.DataFrame({"a": [1, None], "d": [date(2001, 2, 3), None], "f": [2.0, 2.5]})
    assert _as_text(frame).rows() == [("1", "2001-02-03", "2"), (None, None, "2.5")]
