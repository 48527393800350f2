"""The ledger's tables (SQLAlchemy 2 ORM). The schema itself is made by the alembic migrations in
``migrations/``; a test checks that these models and the migrations agree.

Exactly-once delivery is enforced by the database, not only by Python: a court count
(``county``, ``delivery_id``) has numbered revisions in ``delivery_rows``; revision 1 is the only
one whose action may be ``new`` (check constraint) and each revision exists once (unique
constraint), so two deliveries of the same new count cannot both be recorded.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

DELIVERY_STATUSES = ("pending", "published", "rolled_back")
ACK_STATUSES = ("accepted", "rejected")


class Base(DeclarativeBase):
    pass


class Run(Base):
    """A pipeline run for one county (the run id is derived from its inputs, so re-runs share it)."""

    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("county", "run_id", name="uq_runs_county_run"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    county: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str] = mapped_column(String(64))
    policy: Mapped[str | None] = mapped_column(String(128))
    policy_version: Mapped[str | None] = mapped_column(String(64))
    compute_at: Mapped[date | None] = mapped_column(Date)
    first_recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    times_recorded: Mapped[int] = mapped_column(Integer, default=1)
    summary: Mapped[dict | None] = mapped_column(JSON)

    inputs: Mapped[list[InputFile]] = relationship(back_populates="run", cascade="all, delete-orphan")


class InputFile(Base):
    """An input file of a run, by name (never a full path) and SHA-256."""

    __tablename__ = "input_files"
    __table_args__ = (UniqueConstraint("run_pk", "name", name="uq_input_files_run_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))

    run: Mapped[Run] = relationship(back_populates="inputs")


class DeterminationChange(Base):
    """A count's determination as first seen, and every time it changed since."""

    __tablename__ = "determination_history"
    __table_args__ = (
        UniqueConstraint("county", "count_id", "run_pk", name="uq_determination_history_count_run"),
        Index("ix_determination_history_county_count", "county", "count_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    county: Mapped[str] = mapped_column(String(64))
    count_id: Mapped[str] = mapped_column(String(255))
    delivery_id: Mapped[str | None] = mapped_column(String(128))
    determination: Mapped[str | None] = mapped_column(String(64))
    relief: Mapped[str | None] = mapped_column(String(32))
    rule_id: Mapped[str | None] = mapped_column(String(128))
    policy: Mapped[str | None] = mapped_column(String(128))
    policy_version: Mapped[str | None] = mapped_column(String(64))
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Delivery(Base):
    """One delivery to one court: a folder of files published to a target."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("county", "sequence", name="uq_deliveries_county_sequence"),
        CheckConstraint("status IN ('pending', 'published', 'rolled_back')", name="ck_deliveries_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    county: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(128))
    run_pk: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    run_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text)  # outbox path or sftp://<connection>/<path>: no secrets
    location: Mapped[str | None] = mapped_column(Text)
    layout: Mapped[str | None] = mapped_column(String(128))
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    rows_new: Mapped[int] = mapped_column(Integer, default=0)
    rows_correction: Mapped[int] = mapped_column(Integer, default=0)
    rows_withdrawal: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rolled_back_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)

    rows: Mapped[list[DeliveryRowRecord]] = relationship(back_populates="delivery", passive_deletes=True)


class DeliveryRowRecord(Base):
    """A delivered count (one revision of one court count), with the row as delivered."""

    __tablename__ = "delivery_rows"
    __table_args__ = (
        UniqueConstraint("county", "delivery_id", "revision", name="uq_delivery_rows_count_revision"),
        CheckConstraint(
            "(action = 'new' AND revision = 1) OR (action IN ('correction', 'withdrawal') AND revision > 1)",
            name="ck_delivery_rows_new_once",
        ),
        Index("ix_delivery_rows_delivery", "delivery_pk"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_pk: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    county: Mapped[str] = mapped_column(String(64))
    delivery_id: Mapped[str] = mapped_column(String(128))
    revision: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    order_key: Mapped[str] = mapped_column(Text)  # the fields the court's order depends on
    courthouse: Mapped[str | None] = mapped_column(String(128))
    court_case_number: Mapped[str] = mapped_column(String(64))
    count_number: Mapped[int] = mapped_column(Integer)
    statute_as_convicted: Mapped[str | None] = mapped_column(String(64))
    level_as_convicted: Mapped[str | None] = mapped_column(String(4))
    conviction_date: Mapped[date | None] = mapped_column(Date)
    defendant_name: Mapped[str | None] = mapped_column(Text)
    dob: Mapped[date | None] = mapped_column(Date)
    cii: Mapped[str | None] = mapped_column(String(16))
    determination: Mapped[str | None] = mapped_column(String(64))
    relief: Mapped[str] = mapped_column(String(32))
    resulting_section: Mapped[str | None] = mapped_column(String(64))
    resulting_level: Mapped[str | None] = mapped_column(String(4))
    statutory_basis: Mapped[str | None] = mapped_column(Text)
    da_challenged: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str | None] = mapped_column(String(8))
    count_id: Mapped[str | None] = mapped_column(String(255))
    run_id: Mapped[str | None] = mapped_column(String(64))

    delivery: Mapped[Delivery] = relationship(back_populates="rows")


class Acknowledgement(Base):
    """The court's answer for one delivered count: accepted (order made) or rejected."""

    __tablename__ = "acknowledgements"
    __table_args__ = (
        UniqueConstraint("county", "delivery_id", "response_sha256", name="uq_acknowledgements_response"),
        CheckConstraint("status IN ('accepted', 'rejected')", name="ck_acknowledgements_status"),
        Index("ix_acknowledgements_county_delivery", "county", "delivery_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    county: Mapped[str] = mapped_column(String(64))
    delivery_id: Mapped[str] = mapped_column(String(128))
    delivery_row_pk: Mapped[int] = mapped_column(ForeignKey("delivery_rows.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    order_date: Mapped[date | None] = mapped_column(Date)
    response_file: Mapped[str] = mapped_column(String(255))  # file name only
    response_sha256: Mapped[str] = mapped_column(String(64))
    response_line: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LockHolder(Base):
    """Who holds a county's delivery lock (informational: the lock itself is the database's)."""

    __tablename__ = "lock_holders"

    county: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(Text)
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
