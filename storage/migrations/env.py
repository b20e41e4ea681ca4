"""Alembic environment: migrations run on the connection storage.db.upgrade hands over."""

from alembic import context
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

connection = context.config.attributes["connection"]
# Batch mode: SQLite cannot ALTER most things, so Alembic rebuilds the table instead.
context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
