"""Alembic environment of the index store: run by :func:`careledger.index.store.migrate` with the
store's own connection (``config.attributes["connection"]``), never from an ini file."""

from __future__ import annotations

from typing import Any

from careledger._extras import needs_extra
from careledger.index.schema import metadata

with needs_extra("index", "the index store's migrations"):
    from alembic import context


def run(connection: Any) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


_config: Any
try:
    _config = context.config
except AttributeError:  # imported outside an Alembic run (a walk of the package's modules)
    _config = None
if _config is not None:
    run(_config.attributes["connection"])
