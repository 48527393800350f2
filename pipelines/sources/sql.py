"""Court CMS databases: run a layout's extraction query (a file in ``sql/``) through SQLAlchemy.

Where the connection comes from (never from a config file, which names only variables):

- ``sql.airflow_conn_id: cms_la`` -> the environment variable ``AIRFLOW_CONN_CMS_LA``, in either
  of Airflow's two forms: a URI (``postgres://user:pass@host:5432/db?sslmode=require``) or JSON
  (``{"conn_type": "postgres", "login": ..., "password": ..., "host": ..., "port": ...,
  "schema": ..., "extra": {...}}``). Airflow itself is never imported: a deployment that
  defines its connections in Airflow exports them this way to tasks.
- ``sql.url_env: AUTOCLEAR_CMS_URL`` -> that variable holds a SQLAlchemy URL
  (``postgresql+psycopg://reader@cms-db/cms``).

The connection id wins when both are set and its variable exists. Query text may use bind
parameters: ``:county`` (the county's DOJ spelling) and any from ``sql.parameters``; the query
should end in ``ORDER BY`` so that rows, and so line numbers in the lineage, are deterministic.
Rows are fetched in batches of ``sql.batch_size``. Error messages never show a password. SQL
comments (``--`` and ``/* */``) are removed before the query runs, so a ``:name`` in a comment
is not taken for a parameter (do not put ``--`` inside string literals).
"""

from __future__ import annotations

import json
import os
import re
from urllib.parse import parse_qsl, unquote, urlsplit

import polars as pl

from pipelines.errors import ConfigError, InputError

# Airflow connection types -> SQLAlchemy dialect+driver available in this environment.
_DIALECTS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mssql": "mssql+pyodbc",
    "oracle": "oracle+oracledb",
    "sqlite": "sqlite",
    "duckdb": "duckdb",
}


def _from_airflow_uri(uri: str) -> str:
    from sqlalchemy.engine import URL  # noqa: PLC0415

    parts = urlsplit(uri)
    scheme = parts.scheme.replace("-", "_")
    drivername = _DIALECTS.get(scheme, scheme if "+" in scheme else None)
    if drivername is None:
        raise ConfigError(f"Airflow connection type {parts.scheme!r} has no known SQLAlchemy dialect")
    if scheme == "sqlite":
        return f"sqlite:///{unquote(parts.path.lstrip('/'))}" if parts.path else "sqlite://"
    query = {k: v for k, v in parse_qsl(parts.query) if not k.startswith("__")}
    return URL.create(
        drivername,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        host=parts.hostname,
        port=parts.port,
        database=unquote(parts.path.lstrip("/")) or None,
        query=query,
    ).render_as_string(hide_password=False)


def _from_airflow_json(text: str) -> str:
    from sqlalchemy.engine import URL  # noqa: PLC0415

    data = json.loads(text)
    conn_type = str(data.get("conn_type", "")).replace("-", "_")
    drivername = _DIALECTS.get(conn_type)
    if drivername is None:
        raise ConfigError(f"Airflow connection type {conn_type!r} has no known SQLAlchemy dialect")
    extra = data.get("extra") or {}
    if isinstance(extra, str):
        extra = json.loads(extra) if extra.strip() else {}
    return URL.create(
        drivername,
        username=data.get("login"),
        password=data.get("password"),
        host=data.get("host"),
        port=data.get("port"),
        database=data.get("schema"),
        query={k: str(v) for k, v in extra.items() if not str(k).startswith("__")},
    ).render_as_string(hide_password=False)


def resolve_url(spec) -> str:
    """The SQLAlchemy URL for a layout's ``sql`` section, from the environment."""
    if spec.airflow_conn_id:
        var = f"AIRFLOW_CONN_{spec.airflow_conn_id.upper().replace('-', '_')}"
        value = os.environ.get(var)
        if value:
            value = value.strip()
            try:
                return _from_airflow_json(value) if value.startswith("{") else _from_airflow_uri(value)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"environment variable {var} is not an Airflow connection URI or JSON ({exc})") from None
        if not spec.url_env:
            raise ConfigError(f"set the environment variable {var} (the Airflow connection {spec.airflow_conn_id!r})")
    value = os.environ.get(spec.url_env or "")
    if not value:
        raise ConfigError(
            f"set the environment variable {spec.url_env} to the CMS database's SQLAlchemy URL"
            + (f" (or AIRFLOW_CONN_{spec.airflow_conn_id.upper()})" if spec.airflow_conn_id else "")
        )
    return value.strip()


def redacted(url: str) -> str:
    """A URL safe to show: the password replaced by ***."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 (an unparseable URL: show nothing of it)
        return "<unparseable URL>"


def read_query(spec, *, county: str) -> tuple[pl.DataFrame, str]:
    """Run the query; (rows with every column as returned, source label ``sql:<query file>``)."""
    from sqlalchemy import create_engine, text  # noqa: PLC0415
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    label = f"sql:{spec.query}"
    url = resolve_url(spec)
    # Comments go first: text() would take a ":name" inside a comment for a bind parameter.
    sql = re.sub(r"/\*.*?\*/", " ", spec.query_path.read_text(encoding="utf-8"), flags=re.S)
    sql = re.sub(r"--[^\n]*", "", sql)
    query = text(sql)
    wanted = set(query.compile().params)
    params = {"county": county, **spec.parameters}
    missing = wanted - set(params)
    if missing:
        raise ConfigError(f"{spec.query_path}: bind parameter(s) {sorted(missing)} have no value in sql.parameters")
    params = {k: v for k, v in params.items() if k in wanted}
    try:
        engine = create_engine(url, hide_parameters=True)  # bound values never reach a log
    except Exception as exc:  # noqa: BLE001 (bad URL, missing driver)
        raise ConfigError(f"cannot use the CMS database URL {redacted(url)}: {type(exc).__name__}: {exc}") from None
    try:
        with engine.connect() as conn:
            batches = list(pl.read_database(
                query, connection=conn.execution_options(stream_results=True), iter_batches=True,
                batch_size=spec.batch_size, infer_schema_length=None, execute_options={"parameters": params},
            ))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise InputError(f"query failed on {redacted(url)}: {reason}", file=label, kind="SQL") from None
    finally:
        engine.dispose()
    batches = [b for b in batches if b.width]
    if not batches:
        return pl.DataFrame(), label
    return pl.concat(batches, how="vertical_relaxed"), label
