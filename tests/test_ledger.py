"""The ledger and the delivery protocol on SQLite and on the local PostgreSQL server: migrations,
exactly-once delivery, refreshes, acknowledgements, concurrency (real processes) and SIGKILL
during publishing (real processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from pipelines.delivery import assemble_delivery, deliver
from pipelines.delivery.files import MANIFEST
from pipelines.delivery.sample import sample_frames
from pipelines.errors import InputError
from pipelines.ledger import Ledger, LedgerLocked
from pipelines.ledger.models import Base, DeliveryRowRecord

ROOT = Path(__file__).resolve().parents[1]
COUNTY = "LOS ANGELES"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path):
    """(url, schema) of an empty ledger: a new SQLite file, or a new PostgreSQL schema (dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite'}", None
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"test_ledger_{uuid.uuid4().hex[:12]}"
    yield url, schema
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture()
def ledger(backend, tmp_path):
    url, schema = backend
    with Ledger(url, workdir=tmp_path, schema=schema) as led:
        yield led


def _build(n=120, run_id="r1", **kw):
    f = sample_frames(n, **kw)
    build = assemble_delivery(f["determinations"], f["counts"], f["persons"], f["reconciled"], county=COUNTY,
                              run_id=run_id)
    return build, f


def _deliver(ledger, workdir, n=120, run_id="r1", **kw):
    build, f = _build(n, run_id, **kw)
    return deliver(build, county=COUNTY, ledger=ledger, run_id=run_id, workdir=workdir,
                   determinations=f["determinations"], input_fingerprints={"doj.dat": "ab" * 32})


def _outbox_folders(workdir: Path) -> list[Path]:
    outbox = workdir / "outbox"
    return sorted(p for p in outbox.iterdir() if not p.name.startswith(".")) if outbox.is_dir() else []


def _assert_complete(folder: Path) -> dict:
    """A published folder holds its manifest and exactly the files it lists, with their hashes."""
    import hashlib

    manifest = json.loads((folder / MANIFEST).read_text())
    listed = {f["name"]: f for f in manifest["files"]}
    assert sorted(p.name for p in folder.iterdir()) == sorted([*listed, MANIFEST])
    for name, entry in listed.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == entry["sha256"], name
    return manifest


def _delivered_new(ledger) -> pl.DataFrame:
    rows = ledger.delivery_rows(COUNTY)
    return rows.filter(pl.col("action") == "new")


# ------------------------------------------------------------------------------------------------


def test_migrates_an_empty_database_and_models_match_migrations(backend, tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    url, schema = backend
    with Ledger(url, workdir=tmp_path, schema=schema) as led:
        assert led.revision() == "0001"
        with led.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = [d for d in compare_metadata(ctx, Base.metadata) if d[0] != "remove_table"]
        assert diff == []
    # opening again is a no-op migration
    with Ledger(url, workdir=tmp_path, schema=schema) as led:
        assert led.revision() == "0001"
    if url.startswith("sqlite"):
        assert (tmp_path / "ledger.sqlite").stat().st_mode & 0o777 == 0o660


def test_idempotent_rerun_delivers_nothing_new(ledger, tmp_path):
    first = _deliver(ledger, tmp_path)
    assert first.status == "published"
    assert first.plan["new"] > 0 and first.plan["correction"] == first.plan["withdrawal"] == 0
    again = _deliver(ledger, tmp_path)
    assert again.status == "nothing_new"
    assert again.plan["new"] == again.plan["correction"] == again.plan["withdrawal"] == 0
    assert again.plan["unchanged"] == first.plan["new"]
    assert len(_outbox_folders(tmp_path)) == 1
    manifest = _assert_complete(_outbox_folders(tmp_path)[0])
    assert manifest["rows"]["new"] == first.plan["new"]
    assert manifest["inputs"] == [{"name": "doj.dat", "sha256": "ab" * 32}]
    assert manifest["policy"] == "sample_policy" and manifest["run_id"] == "r1"
    assert [h["status"] for h in ledger.history(COUNTY)] == ["published"]


def test_refresh_delivers_new_counts_corrections_and_withdrawals_only(ledger, tmp_path):
    first = _deliver(ledger, tmp_path, n=120)
    refresh = _deliver(ledger, tmp_path, n=150, run_id="r2", changed_every=10)
    assert refresh.status == "published"
    plan = refresh.plan
    assert plan["new"] > 0 and plan["correction"] > 0 and plan["withdrawal"] > 0

    rows = ledger.delivery_rows(COUNTY)
    # each court count is new exactly once, and every later row is a numbered revision
    assert rows.filter(pl.col("action") == "new").get_column("delivery_id").is_unique().all()
    assert rows.select(pl.struct("delivery_id", "revision").is_unique().all()).item()
    second = rows.filter(pl.col("delivery") == refresh.delivery.name)
    assert second.height == plan["new"] + plan["correction"] + plan["withdrawal"]
    first_ids = set(rows.filter(pl.col("delivery") == first.delivery.name).get_column("delivery_id"))
    assert set(second.filter(pl.col("action") == "new").get_column("delivery_id")).isdisjoint(first_ids)
    assert set(second.filter(pl.col("action") != "new").get_column("delivery_id")) <= first_ids
    # a withdrawal names a count whose relief is no longer actionable in the refresh
    build2, f2 = _build(150, "r2", changed_every=10)
    withdrawn = set(second.filter(pl.col("action") == "withdrawal").get_column("delivery_id"))
    assert withdrawn <= set(build2.not_actionable.get_column("delivery_id"))
    # the court file of the refresh carries exactly those rows, with their action
    upload = pl.read_csv(Path(refresh.delivery.location) / "court_upload.csv", infer_schema=False)
    assert sorted(upload.get_column("DELIVERY_ID")) == sorted(second.get_column("delivery_id"))
    assert set(upload.get_column("ACTION")) == {"NEW", "CORRECTION", "WITHDRAWAL"}
    # the determination history recorded the changes
    changed = f2["determinations"].get_column("count_id")[0]
    assert len(ledger.determination_history(COUNTY, changed)) == 2
    # and a third run with the refresh inputs is a no-op
    assert _deliver(ledger, tmp_path, n=150, run_id="r2", changed_every=10).status == "nothing_new"


def test_counts_absent_from_a_run_are_reported_not_withdrawn(ledger, tmp_path):
    _deliver(ledger, tmp_path, n=120)
    partial = _deliver(ledger, tmp_path, n=60, run_id="partial")
    assert partial.status == "nothing_new"
    assert partial.plan["missing"] > 0 and partial.plan["withdrawal"] == 0


def test_database_refuses_a_count_delivered_twice(ledger, tmp_path):
    _deliver(ledger, tmp_path)
    with ledger.session() as s:
        row = s.scalars(sa.select(DeliveryRowRecord).where(DeliveryRowRecord.action == "new").limit(1)).one()
        values = {c.name: getattr(row, c.name) for c in DeliveryRowRecord.__table__.columns if c.name != "id"}
    with pytest.raises(sa.exc.IntegrityError), ledger.session() as s, s.begin():
        s.execute(sa.insert(DeliveryRowRecord), [values])  # same count, revision 1 again
    with pytest.raises(sa.exc.IntegrityError), ledger.session() as s, s.begin():
        s.execute(sa.insert(DeliveryRowRecord), [{**values, "revision": 7}])  # "new" only at revision 1


def test_acknowledgement_round_trip(ledger, tmp_path):
    first = _deliver(ledger, tmp_path)
    upload = pl.read_csv(Path(first.delivery.location) / "court_upload.csv", infer_schema=False)
    ids = upload.get_column("DELIVERY_ID").to_list()
    response = tmp_path / "court_response.csv"
    pl.DataFrame({
        "Delivery ID": ids,
        "Status": ["ACCEPTED" if i % 4 else "Rejected" for i in range(len(ids))],
        "Reason": [None if i % 4 else "case sealed earlier" for i in range(len(ids))],
        "Order Date": ["03/01/2023" if i % 4 else "" for i in range(len(ids))],
    }).write_csv(response)
    result = ledger.record_ack(COUNTY, response)
    rejected = len([i for i in range(len(ids)) if i % 4 == 0])
    assert (result.accepted, result.rejected) == (len(ids) - rejected, rejected)
    history = ledger.history(COUNTY)[0]
    assert history["court"] == {"accepted": len(ids) - rejected, "rejected": rejected, "awaiting": 0}
    # the same file again changes nothing
    assert ledger.record_ack(COUNTY, response).already_recorded
    assert ledger.history(COUNTY)[0]["court"]["accepted"] == len(ids) - rejected
    # accepted rows carry their order date into the DOJ update
    accepted = ledger.accepted_rows(COUNTY)
    assert accepted.height == len(ids) - rejected
    assert set(accepted.get_column("order_date").cast(pl.String)) == {"2023-03-01"}
    # a later response accepting the rejected counts: the latest answer counts
    later = tmp_path / "court_response_2.csv"
    pl.DataFrame({"delivery_id": [i for n, i in enumerate(ids) if n % 4 == 0], "status": "accepted"}).write_csv(later)
    assert ledger.record_ack(COUNTY, later).accepted == rejected
    assert ledger.history(COUNTY)[0]["court"] == {"accepted": len(ids), "rejected": 0, "awaiting": 0}
    assert ledger.accepted_rows(COUNTY).height == len(ids)


def test_acknowledgement_with_unknown_ids_records_nothing(ledger, tmp_path):
    _deliver(ledger, tmp_path)
    response = tmp_path / "wrong_county.csv"
    response.write_text("delivery_id,status\n19-BA300000-001,accepted\n37-CD000001-001,accepted\n")
    with pytest.raises(InputError) as err:
        ledger.record_ack(COUNTY, response)
    assert "wrong_county.csv, line 3" in str(err.value) and "Nothing was recorded" in str(err.value)
    bad = tmp_path / "bad_status.csv"
    bad.write_text("delivery_id,status\n19-BA300000-001,maybe\n")
    with pytest.raises(InputError, match="bad_status.csv, line 2: status must be accepted or rejected"):
        ledger.record_ack(COUNTY, bad)
    assert ledger.history(COUNTY)[0]["court"]["accepted"] == 0


def test_lock_waits_then_fails_with_a_clear_message(ledger, tmp_path, backend):
    url, schema = backend
    holder = subprocess.Popen(
        [sys.executable, "-m", "pipelines.delivery.drill", "--workdir", str(tmp_path), "--ledger-url", url,
         *(["--schema", schema] if schema else []), "--run-id", "holder", "--hold-lock", "5"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert json.loads(holder.stdout.readline()) == {"locked": True}
        started = time.monotonic()
        with pytest.raises(LedgerLocked) as err, ledger.lock_county(COUNTY, timeout=1.0):
            pass
        assert time.monotonic() - started >= 1.0
        assert "another run is delivering for county LOS ANGELES" in str(err.value)
        assert "drill holder" in str(err.value)  # names the holder
        # another county is not blocked
        with ledger.lock_county("SAN DIEGO", timeout=1.0):
            pass
    finally:
        holder.wait(timeout=30)
    with ledger.lock_county(COUNTY, timeout=5.0):  # released when the holder ended
        pass


def _drill(tmp_path, url, schema, *extra, env=None):
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.delivery.drill", "--workdir", str(tmp_path), "--ledger-url", url,
         *(["--schema", schema] if schema else []), "--counts", "150", *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
    )


def test_two_concurrent_runs_for_one_county_are_serialized(ledger, tmp_path, backend):
    url, schema = backend
    procs = [_drill(tmp_path, url, schema, "--run-id", f"run{i}", "--lock-timeout", "120") for i in range(2)]
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(o["status"] for o in outputs) == ["nothing_new", "published"]
    new = _delivered_new(ledger)
    assert new.get_column("delivery_id").is_unique().all()
    published = [o for o in outputs if o["status"] == "published"][0]
    assert new.height == published["plan"]["new"]
    assert len(_outbox_folders(tmp_path)) == 1
    _assert_complete(_outbox_folders(tmp_path)[0])


@pytest.mark.parametrize("point", ["mid_write", "staged", "ledger_write", "pending", "renamed"])
def test_sigkill_during_publish_then_next_run_delivers_exactly_once(ledger, tmp_path, backend, point):
    url, schema = backend
    killed = _drill(tmp_path, url, schema, "--run-id", "killed", env={"AUTOCLEAR_CRASH_AT": point})
    killed.communicate(timeout=120)
    assert killed.returncode == -9  # really SIGKILLed
    # nothing partial is visible in the outbox: every folder there is complete
    folders = _outbox_folders(tmp_path)
    for folder in folders:
        _assert_complete(folder)
    assert len(folders) == (1 if point == "renamed" else 0)

    result = _deliver(ledger, tmp_path, n=150, run_id="rerun").summary()  # the next run
    expected_new = _build(150)[0].rows.height
    if point == "renamed":
        # the folder had reached the outbox: the ledger is told, nothing is delivered again
        assert result["recovered"] == [{"delivery": "los_angeles_00001", "outcome": "published"}]
        assert result["status"] == "nothing_new"
    elif point in ("pending",):
        assert result["recovered"] == [{"delivery": "los_angeles_00001", "outcome": "rolled_back"}]
        assert result["status"] == "published"
    else:
        assert result["status"] == "published"
    folders = _outbox_folders(tmp_path)
    assert len(folders) == 1
    manifest = _assert_complete(folders[0])
    assert manifest["rows"]["new"] == expected_new
    new = _delivered_new(ledger)
    assert new.height == expected_new and new.get_column("delivery_id").is_unique().all()
    assert all(h["status"] in ("published", "rolled_back") for h in ledger.history(COUNTY))
    assert ledger.pending(COUNTY) == []
    assert not any((tmp_path / "outbox" / ".staging").iterdir())


def test_a_renumbered_count_is_withdrawn_under_its_old_id(ledger, tmp_path):
    build, f = _build(40)
    deliver(build, county=COUNTY, ledger=ledger, run_id="r1", workdir=tmp_path)
    # the court's numbering of one delivered count becomes known: a different count number
    moved = build.rows.get_column("count_id")[0]
    old_id = build.rows.get_column("delivery_id")[0]
    rows = build.rows.with_columns(
        pl.when(pl.col("count_id") == moved).then(pl.lit(7, pl.Int32)).otherwise(pl.col("count_number"))
        .alias("count_number"),
        pl.when(pl.col("count_id") == moved).then(pl.col("delivery_id").str.replace(r"-\d{3}$", "-007"))
        .otherwise(pl.col("delivery_id")).alias("delivery_id"),
    )
    plan = ledger.plan_delivery(COUNTY, rows, not_actionable=build.not_actionable)
    assert plan.new.get_column("count_id").to_list() == [moved]
    assert plan.withdrawal.get_column("delivery_id").to_list() == [old_id]
    assert plan.missing.height == 0
