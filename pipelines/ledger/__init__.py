"""The delivery ledger (SQLAlchemy 2; SQLite by default, PostgreSQL in production; alembic
migrations applied on open). See `pipelines.ledger.store.Ledger`."""

from pipelines.ledger.store import (
    ORDER_FIELDS,
    AckResult,
    DeliveryPlan,
    Ledger,
    LedgerLocked,
    read_response_file,
    resolve_ledger_url,
    safe_url,
)

__all__ = [
    "ORDER_FIELDS", "AckResult", "DeliveryPlan", "Ledger", "LedgerLocked", "read_response_file",
    "resolve_ledger_url", "safe_url",
]
