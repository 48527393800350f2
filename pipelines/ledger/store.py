"""The ledger: what was delivered to which court, when, and what the court did with it.

``Ledger(url)`` opens (and migrates) the database: SQLite by default, PostgreSQL in production.
The URL comes from the caller, else ``AUTOCLEAR_LEDGER_URL``, else an Airflow-style connection in
``AIRFLOW_CONN_AUTOCLEAR_LEDGER``, else a SQLite file in the work directory. Credentials only ever
come from the environment; the ledger never writes a URL with a password anywhere.

A delivery goes through ``pending`` (rows recorded, files staged), then ``published`` (the folder
is in the outbox). `recover_pending` finishes or rolls back a delivery a killed process left
pending, so the next run delivers every count exactly once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import polars as pl
from sqlalchemy import Engine, create_engine, delete, event, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

import pipelines.runs  # noqa: F401  (umask: the ledger file is not world-readable)
from pipelines import model
from pipelines.errors import AutoclearError, InputError
from pipelines.ledger.models import (
    Acknowledgement,
    Delivery,
    DeliveryRowRecord,
    DeterminationChange,
    InputFile,
    LockHolder,
    Run,
)
from pipelines.runs import county_slug

LEDGER_URL_ENV = "AUTOCLEAR_LEDGER_URL"
AIRFLOW_CONN_ENV = "AIRFLOW_CONN_AUTOCLEAR_LEDGER"
LOCK_TIMEOUT_ENV = "AUTOCLEAR_LEDGER_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 300.0
LEDGER_FILE = "ledger.sqlite"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# The fields a court order depends on. A change in any of them is a correction; a change in the
# name or CII spelling alone (a better record found on refresh) is not re-delivered.
ORDER_FIELDS: tuple[str, ...] = (
    "court_case_number", "count_number", "statute_as_convicted", "level_as_convicted", "conviction_date",
    "determination", "relief", "resulting_section", "resulting_level", "statutory_basis", "da_challenged",
)
_ROW_COLUMNS = tuple(c for c in model.DELIVERY_ROW if c != "action")


class LedgerLocked(AutoclearError):
    """Another run holds the county's delivery lock and did not release it in time."""


def _now() -> datetime:
    return datetime.now(UTC)


def resolve_ledger_url(url: str | None = None, *, workdir: str | os.PathLike | None = None) -> str:
    """The ledger URL: argument, else $AUTOCLEAR_LEDGER_URL, else $AIRFLOW_CONN_AUTOCLEAR_LEDGER,
    else ``sqlite:///<workdir>/ledger.sqlite`` (workdir defaults to ./work)."""
    if url:
        return url
    if os.environ.get(LEDGER_URL_ENV):
        return os.environ[LEDGER_URL_ENV]
    if os.environ.get(AIRFLOW_CONN_ENV):
        return airflow_conn_to_url(os.environ[AIRFLOW_CONN_ENV])
    base = Path(workdir or "work").resolve()
    return f"sqlite:///{base / LEDGER_FILE}"


def airflow_conn_to_url(conn: str) -> str:
    """An Airflow connection (URI or JSON form) as a SQLAlchemy URL, without importing Airflow."""
    conn = conn.strip()
    if conn.startswith("{"):
        data = json.loads(conn)
        kind = data.get("conn_type", "postgres")
        user = quote(data.get("login") or "", safe="")
        password = quote(data.get("password") or "", safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        port = f":{data['port']}" if data.get("port") else ""
        conn = f"{kind}://{auth}{data.get('host', '')}{port}/{data.get('schema', '')}"
    scheme, rest = conn.split("://", 1)
    scheme = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg"}.get(scheme, scheme)
    return f"{scheme}://{rest}"


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is shown as its scheme only
        return url.split("://", 1)[0] + "://…"


def order_key_expr() -> pl.Expr:
    """One string of the order fields: equal keys mean the court's order would be the same."""
    parts = []
    for name in ORDER_FIELDS:
        dtype = model.DELIVERY_ROW[name]
        col = pl.col(name)
        if dtype == pl.Date:
            col = col.dt.strftime("%Y-%m-%d")
        elif dtype == pl.Boolean:
            col = pl.when(col).then(pl.lit("1")).otherwise(pl.lit("0"))
        parts.append(col.cast(pl.String).fill_null(""))
    return pl.concat_str(parts, separator="|").alias("order_key")


# ------------------------------------------------------------------------------------------------


@dataclass
class DeliveryPlan:
    """What a run would deliver to one county's court, compared with what the ledger holds."""

    county: str
    new: pl.DataFrame  # DELIVERY_ROW + revision + order_key, action "new"
    correction: pl.DataFrame  # the count's order changed (or a withdrawn count is actionable again)
    withdrawal: pl.DataFrame  # the count's determination is no longer actionable: withdraw the earlier row
    unchanged: pl.DataFrame  # delivered before with the same order: nothing to do
    missing: pl.DataFrame  # delivered before, absent from this run altogether: reported, not withdrawn

    @property
    def rows(self) -> pl.DataFrame:
        """Every row to deliver (new, corrections, withdrawals), sorted."""
        return pl.concat([self.new, self.correction, self.withdrawal], how="vertical").sort(
            "court_case_number", "count_number", "delivery_id"
        )

    @property
    def is_empty(self) -> bool:
        return self.new.height + self.correction.height + self.withdrawal.height == 0

    def summary(self) -> dict[str, int]:
        return {
            "new": self.new.height,
            "correction": self.correction.height,
            "withdrawal": self.withdrawal.height,
            "unchanged": self.unchanged.height,
            "missing": self.missing.height,
        }


@dataclass
class RecoveredDelivery:
    name: str
    outcome: str  # "published" (it had reached the target) | "rolled_back"


@dataclass
class AckResult:
    county: str
    response_file: str
    accepted: int = 0
    rejected: int = 0
    already_recorded: bool = False
    order_dates: pl.DataFrame = field(default_factory=lambda: pl.DataFrame())


class Ledger:
    """The delivery ledger (see module docstring). Opening it migrates the schema to the latest."""

    def __init__(self, url: str | None = None, *, workdir: str | os.PathLike | None = None,
                 schema: str | None = None, echo: bool = False) -> None:
        self.url = resolve_ledger_url(url, workdir=workdir)
        self.schema = schema
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        self.sqlite_path: Path | None = None
        connect_args: dict[str, Any] = {}
        if self.dialect == "sqlite":
            db = parsed.database
            if db and db != ":memory:" and not db.startswith("file:"):
                self.sqlite_path = Path(db).resolve()
                self.sqlite_path.parent.mkdir(parents=True, exist_ok=True, mode=0o770)
                # Create it owner+group only before SQLite does (SQLite would use 0644 & ~umask).
                os.close(os.open(self.sqlite_path, os.O_CREAT | os.O_RDWR, 0o660))
                os.chmod(self.sqlite_path, 0o660)
            connect_args["timeout"] = 60
        elif self.dialect == "postgresql" and schema:
            connect_args["options"] = f"-csearch_path={schema}"
        try:
            # hide_parameters: with SQL logging on (echo, or a logger at INFO), the rows' names,
            # dates of birth and CII would otherwise be written to the log with each statement.
            self.engine: Engine = create_engine(self.url, echo=echo, connect_args=connect_args, hide_parameters=True)
        except Exception as e:
            raise AutoclearError(f"cannot open ledger {safe_url(self.url)}: {e}") from None
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._local_locks: dict[str, threading.Lock] = {}
        self.migrate()

    def __repr__(self) -> str:
        return f"Ledger({safe_url(self.url)!r})"

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ----------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the latest migration (serialized between processes)."""
        from alembic import command  # noqa: PLC0415
        from alembic.config import Config  # noqa: PLC0415

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["schema"] = self.schema
        try:
            with self._global_lock("__schema__", timeout=120):
                if self.dialect == "postgresql" and self.schema:
                    with self.engine.begin() as conn:
                        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
                with self.engine.begin() as conn:
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
        except AutoclearError:
            raise
        except Exception as e:
            raise AutoclearError(f"cannot open or migrate ledger {safe_url(self.url)}: {e}") from None

    def revision(self) -> str | None:
        """The schema's current alembic revision."""
        table = f'"{self.schema}".alembic_version' if self.schema and self.dialect == "postgresql" else "alembic_version"
        with self.engine.connect() as conn:
            return conn.execute(text(f"SELECT version_num FROM {table}")).scalar()

    # -- locks -----------------------------------------------------------------------------------

    def _lock_key(self, name: str) -> int:
        digest = hashlib.sha256(f"autoclear:{self.schema or ''}:{name}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    @contextlib.contextmanager
    def _global_lock(self, name: str, *, timeout: float, holder: str = "") -> Iterator[None]:
        deadline = time.monotonic() + timeout
        if self.dialect == "postgresql":
            conn = self.engine.connect()
            try:
                key = self._lock_key(name)
                while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                    conn.rollback()
                    if time.monotonic() >= deadline:
                        raise LedgerLocked(self._locked_message(name, timeout))
                    time.sleep(0.2)
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
            finally:
                conn.close()
        elif self.sqlite_path is not None:
            # A file lock next to the database: the OS releases it when the holder dies (SIGKILL).
            lock_path = self.sqlite_path.with_name(f"{self.sqlite_path.name}.{county_slug(name) or 'schema'}.lock")
            fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o660)
            try:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            raise LedgerLocked(self._locked_message(name, timeout)) from None
                        time.sleep(0.1)
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        else:  # in-memory SQLite: one process only
            lock = self._local_locks.setdefault(name, threading.Lock())
            if not lock.acquire(timeout=timeout):
                raise LedgerLocked(self._locked_message(name, timeout))
            try:
                yield
            finally:
                lock.release()

    def _locked_message(self, county: str, timeout: float) -> str:
        holder = ""
        with contextlib.suppress(Exception), self._session() as s:
            row = s.get(LockHolder, county)
            if row is not None:
                holder = f" (held by {row.holder} since {row.acquired_at:%Y-%m-%d %H:%M:%S} UTC)"
        return (
            f"another run is delivering for county {county}{holder}; waited {timeout:g} s for it to finish. "
            f"Runs for one county are serialized: retry when it is done, or raise the wait with "
            f"--lock-timeout / ${LOCK_TIMEOUT_ENV}."
        )

    @contextlib.contextmanager
    def lock_county(self, county: str, *, timeout: float | None = None, holder: str | None = None) -> Iterator[None]:
        """Hold the county's delivery lock: runs for one county are serialized, never interleaved.

        Waits up to `timeout` seconds (default $AUTOCLEAR_LEDGER_LOCK_TIMEOUT or 300), then raises
        LedgerLocked naming the holder. PostgreSQL: a session advisory lock; SQLite: a file lock.
        Both are released by the operating system or server if the holder is killed.
        """
        if timeout is None:
            timeout = float(os.environ.get(LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT))
        holder = holder or f"pid {os.getpid()}"
        with self._global_lock(county, timeout=timeout, holder=holder):
            with self._session.begin() as s:
                s.merge(LockHolder(county=county, holder=holder, acquired_at=_now()))
            yield

    # -- runs and inputs -------------------------------------------------------------------------

    def record_run(
        self,
        county: str,
        run_id: str,
        *,
        policy: str | None = None,
        policy_version: str | None = None,
        compute_at: date | str | None = None,
        input_fingerprints: dict[str, str] | None = None,
        summary: dict | None = None,
    ) -> int:
        """Record (or re-record) a run and its input files; returns the run's ledger key."""
        if isinstance(compute_at, str):
            compute_at = date.fromisoformat(compute_at)
        now = _now()
        with self._session.begin() as s:
            run = s.scalar(select(Run).where(Run.county == county, Run.run_id == run_id))
            if run is None:
                run = Run(county=county, run_id=run_id, first_recorded_at=now, last_recorded_at=now,
                          times_recorded=1)
                s.add(run)
            else:
                run.last_recorded_at = now
                run.times_recorded += 1
            run.policy = policy or run.policy
            run.policy_version = policy_version or run.policy_version
            run.compute_at = compute_at or run.compute_at
            if summary is not None:
                run.summary = summary
            known = {f.name: f for f in run.inputs}
            for name, sha in sorted((input_fingerprints or {}).items()):
                name = Path(name).name  # never a full path: folders can be named after people
                if name in known:
                    known[name].sha256 = sha
                else:
                    run.inputs.append(InputFile(name=name, sha256=sha))
            s.flush()
            return run.id

    def run_inputs(self, county: str, run_id: str) -> dict[str, str]:
        with self._session() as s:
            run = s.scalar(select(Run).where(Run.county == county, Run.run_id == run_id))
            return {f.name: f.sha256 for f in run.inputs} if run else {}

    def record_determinations(self, county: str, run_pk: int, determinations: pl.DataFrame,
                              delivery_ids: pl.DataFrame | None = None) -> int:
        """Append each count's determination where it is new or changed since the last run.

        `delivery_ids` (count_id, delivery_id) links counts to the court's count. Returns rows added.
        """
        cols = ["count_id", "determination", "relief", "rule_id", "policy", "policy_version"]
        current = model.conform(determinations, model.DETERMINATION, extra=False).select(cols)
        if delivery_ids is not None and delivery_ids.height:
            current = current.join(delivery_ids.select("count_id", "delivery_id").unique("count_id"),
                                   on="count_id", how="left")
        else:
            current = current.with_columns(pl.lit(None, pl.String).alias("delivery_id"))
        latest_id = (
            select(func.max(DeterminationChange.id))
            .where(DeterminationChange.county == county)
            .group_by(DeterminationChange.count_id)
        )
        with self._session.begin() as s:
            previous = s.execute(
                select(*[getattr(DeterminationChange, c) for c in cols]).where(DeterminationChange.id.in_(latest_id))
            ).all()
            before = pl.DataFrame(previous, schema={c: pl.String for c in cols}, orient="row")
            changed = current.join(before, on=cols, how="anti", nulls_equal=True)
            if changed.height == 0:
                return 0
            now = _now()
            records = changed.with_columns(
                pl.lit(county).alias("county"), pl.lit(run_pk).alias("run_pk"), pl.lit(now).alias("recorded_at")
            ).to_dicts()
            s.execute(insert(DeterminationChange.__table__), records)  # Core executemany: ORM bulk insert costs 1.5x
            return len(records)

    def determination_history(self, county: str, count_id: str) -> list[dict[str, Any]]:
        """A count's determinations over time, oldest first."""
        with self._session() as s:
            rows = s.execute(
                select(DeterminationChange, Run.run_id)
                .join(Run, Run.id == DeterminationChange.run_pk)
                .where(DeterminationChange.county == county, DeterminationChange.count_id == count_id)
                .order_by(DeterminationChange.id)
            ).all()
            return [
                {"run_id": run_id, "determination": d.determination, "relief": d.relief, "rule_id": d.rule_id,
                 "policy": d.policy, "policy_version": d.policy_version, "recorded_at": d.recorded_at}
                for d, run_id in rows
            ]

    # -- planning --------------------------------------------------------------------------------

    def delivered_state(self, county: str) -> pl.DataFrame:
        """The latest delivered revision of every court count of the county (published or pending)."""
        schema = {**{c: model.DELIVERY_ROW[c] for c in _ROW_COLUMNS}, "action": pl.String,
                  "revision": pl.Int32, "order_key": pl.String}
        latest = (
            select(DeliveryRowRecord.delivery_id, func.max(DeliveryRowRecord.revision).label("rev"))
            .where(DeliveryRowRecord.county == county)
            .group_by(DeliveryRowRecord.delivery_id)
            .subquery()
        )
        with self._session() as s:
            result = s.execute(
                select(*[getattr(DeliveryRowRecord, c) for c in schema])
                .join(latest, (DeliveryRowRecord.delivery_id == latest.c.delivery_id)
                      & (DeliveryRowRecord.revision == latest.c.rev))
                .where(DeliveryRowRecord.county == county)
            ).all()
        return pl.DataFrame(result, schema=schema, orient="row")

    def plan_delivery(
        self,
        county: str,
        rows: pl.DataFrame,
        *,
        not_actionable: pl.DataFrame | None = None,
        withdraw_missing: bool = False,
    ) -> DeliveryPlan:
        """Compare this run's deliverable rows with the ledger: new / correction / withdrawal / unchanged.

        A count delivered before and now present with a non-actionable relief (`not_actionable`,
        from `assemble_delivery`) is withdrawn; so is one whose count id now comes under another
        delivery id (renumbered: the court's numbering became known). A delivered count absent from this run altogether
        is only reported as ``missing`` (a partial input must not withdraw court orders), unless
        `withdraw_missing`.
        """
        rows = model.conform(rows, model.DELIVERY_ROW, extra=False).with_columns(order_key_expr())
        dup = rows.height - rows.get_column("delivery_id").n_unique()
        if dup:
            raise AutoclearError(f"{dup} delivery id(s) appear more than once in the rows to deliver")
        state = self.delivered_state(county)
        prev = state.select(
            "delivery_id",
            pl.col("revision").alias("prev_revision"),
            pl.col("action").alias("prev_action"),
            pl.col("order_key").alias("prev_order_key"),
        )
        joined = rows.join(prev, on="delivery_id", how="left")
        is_new = pl.col("prev_revision").is_null()
        live = pl.col("prev_action") != "withdrawal"
        new = joined.filter(is_new).with_columns(pl.lit("new").alias("action"), pl.lit(1, pl.Int32).alias("revision"))
        changed = joined.filter(~is_new & (~live | (pl.col("order_key") != pl.col("prev_order_key"))))
        correction = changed.with_columns(
            pl.lit("correction").alias("action"), (pl.col("prev_revision") + 1).cast(pl.Int32).alias("revision")
        )
        unchanged = joined.filter(~is_new & live & (pl.col("order_key") == pl.col("prev_order_key"))).with_columns(
            pl.col("prev_revision").cast(pl.Int32).alias("revision")
        )

        delivered_live = state.filter(pl.col("action") != "withdrawal")
        gone = delivered_live.join(rows.select("delivery_id"), on="delivery_id", how="anti")
        decided = (
            not_actionable.select("delivery_id").unique()
            if not_actionable is not None and not_actionable.height
            else pl.DataFrame(schema={"delivery_id": pl.String})
        )
        # A count delivered under another id (its court numbering became known, e.g. a court
        # extract matched a DOJ-only count) is withdrawn under the old id and delivered under the new.
        renumbered_counts = pl.concat([
            rows.select("count_id"),
            not_actionable.select("count_id") if not_actionable is not None and "count_id" in not_actionable.columns
            else pl.DataFrame(schema={"count_id": pl.String}),
        ]).drop_nulls().unique()
        renumbered = gone.join(renumbered_counts, on="count_id", how="semi").select("delivery_id")
        to_withdraw = gone if withdraw_missing else gone.join(
            pl.concat([decided, renumbered]).unique(), on="delivery_id", how="semi")
        missing = gone.join(to_withdraw.select("delivery_id"), on="delivery_id", how="anti")
        run_id = rows.get_column("run_id").drop_nulls().first() if rows.height else None
        withdrawal = to_withdraw.with_columns(
            pl.lit("withdrawal").alias("action"),
            (pl.col("revision") + 1).cast(pl.Int32).alias("revision"),
            pl.lit(run_id, pl.String).alias("run_id") if run_id else pl.col("run_id"),
        )
        out_cols = [*model.DELIVERY_ROW, "revision", "order_key"]
        sort = ("court_case_number", "count_number", "delivery_id")
        return DeliveryPlan(
            county=county,
            new=new.select(out_cols).sort(sort),
            correction=correction.select(out_cols).sort(sort),
            withdrawal=withdrawal.select(out_cols).sort(sort),
            unchanged=unchanged.select(out_cols).sort(sort),
            missing=missing.select("delivery_id", "count_id", "relief").sort("delivery_id"),
        )

    # -- deliveries ------------------------------------------------------------------------------

    def next_sequence(self, county: str) -> int:
        with self._session() as s:
            return (s.scalar(select(func.max(Delivery.sequence)).where(Delivery.county == county)) or 0) + 1

    def record_pending(
        self,
        county: str,
        plan: DeliveryPlan,
        *,
        sequence: int,
        name: str,
        run_id: str,
        run_pk: int | None,
        target: str,
        layout: str | None,
        manifest_sha256: str | None,
    ) -> int:
        """Record a delivery and its rows as pending, in one transaction. The unique constraint on
        (county, delivery_id, revision) makes a second delivery of the same count fail here."""
        rows = plan.rows
        with self._session.begin() as s:
            delivery = Delivery(
                county=county, sequence=sequence, name=name, run_pk=run_pk, run_id=run_id, status="pending",
                target=target, layout=layout, manifest_sha256=manifest_sha256, rows_new=plan.new.height,
                rows_correction=plan.correction.height, rows_withdrawal=plan.withdrawal.height,
                created_at=_now(),
            )
            s.add(delivery)
            s.flush()
            if rows.height:
                records = rows.select(
                    *[pl.col(c) for c in _ROW_COLUMNS], "action", "revision", "order_key"
                ).with_columns(
                    pl.lit(delivery.id).alias("delivery_pk"),
                    pl.lit(county).alias("county"),
                    pl.col("da_challenged").fill_null(False),
                ).to_dicts()
                s.execute(insert(DeliveryRowRecord.__table__), records)
            from pipelines.delivery.faults import crash_point  # noqa: PLC0415 (delivery imports the ledger)

            crash_point("ledger_write")  # rows written, transaction not yet committed
            return delivery.id

    def mark_published(self, delivery_pk: int, *, location: str) -> None:
        """The delivery's folder is complete at the target."""
        with self._session.begin() as s:
            s.execute(
                update(Delivery).where(Delivery.id == delivery_pk)
                .values(status="published", published_at=_now(), location=location)
            )

    def roll_back(self, delivery_pk: int, *, note: str) -> None:
        """Forget a pending delivery's rows (it never reached the court); keep the record."""
        with self._session.begin() as s:
            s.execute(delete(DeliveryRowRecord).where(DeliveryRowRecord.delivery_pk == delivery_pk))
            s.execute(
                update(Delivery).where(Delivery.id == delivery_pk)
                .values(status="rolled_back", rolled_back_at=_now(), note=note)
            )

    def pending(self, county: str) -> list[Delivery]:
        with self._session() as s:
            return list(s.scalars(select(Delivery).where(Delivery.county == county, Delivery.status == "pending")
                                  .order_by(Delivery.sequence)))

    def delivery_rows(self, county: str, name: str | None = None, *,
                      columns: Sequence[str] | None = None) -> pl.DataFrame:
        """Delivered rows (every revision) of a county, or of one delivery by name; `columns`: only
        these row columns (besides delivery and status)."""
        schema = {**{c: model.DELIVERY_ROW[c] for c in _ROW_COLUMNS}, "action": pl.String,
                  "revision": pl.Int32, "delivery": pl.String, "status": pl.String}
        if columns is not None:
            schema = {c: t for c, t in schema.items() if c in columns or c in ("delivery", "status")}
        query = (
            select(*[getattr(DeliveryRowRecord, c) for c in list(schema)[:-2]], Delivery.name, Delivery.status)
            .join(Delivery, Delivery.id == DeliveryRowRecord.delivery_pk)
            .where(DeliveryRowRecord.county == county)
            .order_by(DeliveryRowRecord.delivery_id, DeliveryRowRecord.revision)
        )
        if name is not None:
            query = query.where(Delivery.name == name)
        with self._session() as s:
            return pl.DataFrame(s.execute(query).all(), schema=schema, orient="row")

    # -- acknowledgements ------------------------------------------------------------------------

    def record_ack(self, county: str, response_file: str | os.PathLike) -> AckResult:
        """Read a court's response file (one line per delivery id: accepted or rejected) and record it.

        The file is CSV with a header naming at least ``delivery_id`` and ``status`` (accepted /
        rejected, or A / R); ``reason`` and ``order_date`` are optional. Every line must name a
        count delivered to this county, or nothing is recorded (InputError with file and line).
        Recording the same file twice records it once.
        """
        path = Path(response_file)
        acks = read_response_file(path)
        sha = pipelines.runs.file_fingerprint(path)
        result = AckResult(county=county, response_file=path.name)
        latest = (
            select(DeliveryRowRecord.delivery_id, func.max(DeliveryRowRecord.id).label("row_pk"))
            .join(Delivery, Delivery.id == DeliveryRowRecord.delivery_pk)
            .where(DeliveryRowRecord.county == county, Delivery.status == "published")
            .group_by(DeliveryRowRecord.delivery_id)
        )
        with self._session.begin() as s:
            if s.scalar(select(func.count()).select_from(Acknowledgement)
                        .where(Acknowledgement.county == county, Acknowledgement.response_sha256 == sha)):
                result.already_recorded = True
                return result
            known = pl.DataFrame(s.execute(latest).all(), schema={"delivery_id": pl.String, "row_pk": pl.Int64},
                                 orient="row")
            joined = acks.join(known, on="delivery_id", how="left")
            unknown = joined.filter(pl.col("row_pk").is_null())
            if unknown.height:
                lines = ", ".join(str(n) for n in unknown.get_column("line").head(5).to_list())
                raise InputError(
                    f"{unknown.height} line(s) name a delivery id never delivered to {county} "
                    f"(lines {lines}{', ...' if unknown.height > 5 else ''}); is this the right county's "
                    "response? Nothing was recorded.",
                    file=path.name, line=int(unknown.get_column("line")[0]), kind="UNKNOWN_DELIVERY_ID",
                )
            now = _now()
            records = joined.select(
                pl.lit(county).alias("county"),
                "delivery_id",
                pl.col("row_pk").alias("delivery_row_pk"),
                "status",
                "reason",
                "order_date",
                pl.lit(path.name).alias("response_file"),
                pl.lit(sha).alias("response_sha256"),
                pl.col("line").alias("response_line"),
                pl.lit(now).alias("recorded_at"),
            ).to_dicts()
            if records:
                s.execute(insert(Acknowledgement.__table__), records)
        result.accepted = acks.filter(pl.col("status") == "accepted").height
        result.rejected = acks.filter(pl.col("status") == "rejected").height
        result.order_dates = acks.filter(pl.col("status") == "accepted").select("delivery_id", "order_date")
        return result

    def accepted_rows(self, county: str) -> pl.DataFrame:
        """Delivered rows the court accepted (latest acknowledgement per count), with order dates."""
        rows = self.delivery_rows(county)
        if rows.height == 0:
            return rows.with_columns(pl.lit(None, pl.Date).alias("order_date"))
        with self._session() as s:
            acks = pl.DataFrame(
                s.execute(
                    select(Acknowledgement.delivery_row_pk, Acknowledgement.status, Acknowledgement.order_date,
                           Acknowledgement.id)
                    .where(Acknowledgement.county == county)
                    .order_by(Acknowledgement.id)
                ).all(),
                schema={"row_pk": pl.Int64, "status": pl.String, "order_date": pl.Date, "ack_id": pl.Int64},
                orient="row",
            )
            ids = pl.DataFrame(
                s.execute(select(DeliveryRowRecord.id, DeliveryRowRecord.delivery_id, DeliveryRowRecord.revision)
                          .where(DeliveryRowRecord.county == county)).all(),
                schema={"row_pk": pl.Int64, "delivery_id": pl.String, "revision": pl.Int32}, orient="row",
            )
        last = acks.join(ids, on="row_pk").sort("ack_id").group_by("delivery_id").last()
        accepted = last.filter(pl.col("status") == "accepted").select("delivery_id", "revision", "order_date")
        return rows.join(accepted, on=["delivery_id", "revision"], how="inner")

    # -- history ---------------------------------------------------------------------------------

    def history(self, county: str) -> list[dict[str, Any]]:
        """Every delivery to the county's court, oldest first, with what the court did with it."""
        with self._session() as s:
            deliveries = list(s.scalars(select(Delivery).where(Delivery.county == county).order_by(Delivery.sequence)))
            # The court's latest answer per delivered row (a rejected row can be accepted later).
            latest_ack = (
                select(func.max(Acknowledgement.id).label("ack_id"))
                .where(Acknowledgement.county == county)
                .group_by(Acknowledgement.delivery_row_pk)
                .subquery()
            )
            ack_counts = {
                (pk, status): n
                for pk, status, n in s.execute(
                    select(DeliveryRowRecord.delivery_pk, Acknowledgement.status, func.count())
                    .join(DeliveryRowRecord, DeliveryRowRecord.id == Acknowledgement.delivery_row_pk)
                    .where(Acknowledgement.id.in_(select(latest_ack.c.ack_id)))
                    .group_by(DeliveryRowRecord.delivery_pk, Acknowledgement.status)
                ).all()
            }
        out = []
        for d in deliveries:
            total = d.rows_new + d.rows_correction + d.rows_withdrawal
            accepted = ack_counts.get((d.id, "accepted"), 0)
            rejected = ack_counts.get((d.id, "rejected"), 0)
            out.append({
                "delivery": d.name, "sequence": d.sequence, "run_id": d.run_id, "status": d.status,
                "created_at": d.created_at.isoformat() if d.created_at else None,
                "published_at": d.published_at.isoformat() if d.published_at else None,
                "target": d.target, "location": d.location, "layout": d.layout,
                "manifest_sha256": d.manifest_sha256,
                "rows": {"new": d.rows_new, "correction": d.rows_correction, "withdrawal": d.rows_withdrawal,
                         "total": total},
                "court": {"accepted": accepted, "rejected": rejected,
                          "awaiting": max(total - accepted - rejected, 0) if d.status == "published" else 0},
                "note": d.note,
            })
        return out

    def counties(self) -> list[str]:
        with self._session() as s:
            return list(s.scalars(select(Delivery.county).distinct().order_by(Delivery.county)))

    def session(self) -> Session:
        """A plain ORM session, for reports and tests."""
        return self._session()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


# ------------------------------------------------------------------------------------------------
# The court's response file

_STATUS_WORDS = {
    "accepted": "accepted", "accept": "accepted", "a": "accepted", "granted": "accepted", "ok": "accepted",
    "rejected": "rejected", "reject": "rejected", "r": "rejected", "denied": "rejected",
}
_HEADER_ALIASES = {
    "delivery_id": ("delivery_id", "deliveryid", "delivery id", "id"),
    "status": ("status", "result", "response", "disposition"),
    "reason": ("reason", "comment", "message", "note"),
    "order_date": ("order_date", "orderdate", "order date", "date"),
}


def read_response_file(path: Path) -> pl.DataFrame:
    """Parse a court response file into (delivery_id, status, reason, order_date, line)."""
    name = path.name
    try:
        raw = pl.read_csv(path, infer_schema=False, truncate_ragged_lines=False, encoding="utf8-lossy")
    except FileNotFoundError:
        raise InputError("response file not found", file=str(path), kind="NOT_FOUND") from None
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as e:
        raise InputError(f"not a readable CSV response file: {str(e).splitlines()[0]}", file=name) from None
    by_norm = {c.strip().lower().replace("-", "_"): c for c in raw.columns}
    picked: dict[str, str] = {}
    for want, aliases in _HEADER_ALIASES.items():
        for alias in aliases:
            if alias in by_norm or alias.replace(" ", "_") in by_norm:
                picked[want] = by_norm.get(alias, by_norm.get(alias.replace(" ", "_")))
                break
    for required in ("delivery_id", "status"):
        if required not in picked:
            raise InputError(
                f"the header has no {required} column (found: {', '.join(raw.columns)})", file=name, line=1,
                kind="HEADER",
            )
    frame = raw.select(
        pl.col(picked["delivery_id"]).str.strip_chars().alias("delivery_id"),
        pl.col(picked["status"]).str.strip_chars().str.to_lowercase().alias("status_text"),
        (pl.col(picked["reason"]).str.strip_chars() if "reason" in picked else pl.lit(None, pl.String)).alias("reason"),
        (pl.col(picked["order_date"]).str.strip_chars() if "order_date" in picked else pl.lit(None, pl.String))
        .alias("order_date_text"),
        (pl.int_range(pl.len()) + 2).cast(pl.Int64).alias("line"),  # line 1 is the header
    ).with_columns(
        pl.col("status_text").replace_strict(_STATUS_WORDS, default=None, return_dtype=pl.String).alias("status"),
        pl.coalesce(
            pl.col("order_date_text").str.to_date("%Y-%m-%d", strict=False),
            pl.col("order_date_text").str.to_date("%m/%d/%Y", strict=False),
            pl.col("order_date_text").str.to_date("%Y%m%d", strict=False),
        ).alias("order_date"),
    )
    problems = [
        (frame.filter(pl.col("delivery_id").is_null() | (pl.col("delivery_id") == "")), "no delivery id"),
        (frame.filter(pl.col("status").is_null()), "status must be accepted or rejected"),
        (frame.filter(pl.col("order_date_text").is_not_null() & (pl.col("order_date_text") != "")
                      & pl.col("order_date").is_null()), "order date must be YYYY-MM-DD, MM/DD/YYYY or YYYYMMDD"),
    ]
    for bad, reason in problems:
        if bad.height:
            raise InputError(f"{reason} ({bad.height} line(s)); nothing was recorded", file=name,
                             line=int(bad.get_column("line")[0]), kind="RESPONSE")
    dup = frame.filter(pl.col("delivery_id").is_duplicated())
    if dup.height:
        raise InputError(f"a delivery id appears on more than one line ({dup.height} lines); nothing was recorded",
                         file=name, line=int(dup.get_column("line")[0]), kind="RESPONSE")
    return frame.select("delivery_id", "status", "reason", "order_date", "line")


def sqlite_url(path: str | os.PathLike) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def describe_url(url: str) -> str:
    """Where the ledger is, for people (password hidden; SQLite: the file)."""
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return unquote(parts.path.lstrip("/")) and "/" + unquote(parts.path.lstrip("/"))
    return safe_url(url)
