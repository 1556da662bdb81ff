"""Alembic environment: run by ``pipeline.service.db.upgrade`` with a live connection."""

from __future__ import annotations

from alembic import context

from pipeline.service.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the alembic command line is not how precheck migrates
    raise RuntimeError("run migrations through pipeline.service.db.upgrade(engine)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
