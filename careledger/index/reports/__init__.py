"""The reports the index serves, one small module per domain (the only code here that knows a
domain's events): accounting of disclosures (consent), claims and EOBs (claims), custody trail and
regulator view (provenance)."""

from __future__ import annotations

from careledger.index.reports import claims, custody, disclosures

__all__ = ["PROJECTIONS", "REPORT_MODULES"]

REPORT_MODULES = (disclosures, claims, custody)
#: Modules that keep a table beside the events (``project(connection, rows)`` in each range's
#: transaction, ``affected(connection, first_gone_id)`` and ``rebuild_projection(connection, ids)``
#: in a rollback's).
PROJECTIONS = (claims,)
