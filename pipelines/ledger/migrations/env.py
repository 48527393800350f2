"""Alembic environment for the ledger. Run by `pipelines.ledger.store.migrate` with an open
connection (``config.attributes["connection"]``); the command-line ``alembic`` tool is not needed.
"""

from __future__ import annotations

from alembic import context

from pipelines.ledger.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - the ledger always passes its connection
    raise RuntimeError("run ledger migrations through pipelines.ledger (Ledger(url) migrates on open)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table_schema=config.attributes.get("schema"),
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
