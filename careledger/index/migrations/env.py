"""Alembic environment of the index store: run by :func:`careledger.index.store.migrate` with the
store's own connection (``config.attributes["connection"]``), never from an ini file."""

from __future__ import annotations

from careledger._extras import needs_extra

with needs_extra("index", "the index store's migrations"):
    from alembic import context

from careledger.index.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
