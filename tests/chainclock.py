"""The suite's clock: every chain a test starts begins at one pinned instant, never the calendar.

Dates in the contracts (consent and batch expiries, service days, enrolment, filing and appeal
windows, GS1 YYMMDD dates) are judged by block time, so a test whose chain starts at the wall
clock passes or fails by the day it runs. Every chain the suite starts is pinned here instead:

- the embedded py-evm chain (Ape's ``test`` provider): its genesis block is stamped
  :data:`PINNED_GENESIS` and each later block is its parent + 1 s (py-evm otherwise takes
  ``max(parent + 1, wall clock)``); ``chain.pending_timestamp = t`` and ``chain.mine(timestamp=t)``
  still move it on, so it is a clock the tests alone move;
- every anvil the suite starts (the devnet fixtures, ``careledger devnet up`` run by a test,
  the benchmark harness): ``$CARELEDGER_GENESIS_TIMESTAMP`` makes :class:`careledger.devnet.Devnet`
  pass ``--timestamp``; anvil then counts on from that instant as wall time passes, which moves
  dates by the seconds a test takes, not by the day it runs. Runs that must be identical to the
  second (the seeded random run) also fix the spacing of blocks (``bench.harness.fresh_suite``'s
  ``block_interval``).

``CARELEDGER_TEST_GENESIS`` (a unix time, or an ISO-8601 instant such as ``2030-12-31T23:00:00Z``)
moves the pin, so the whole suite can be run at any other date::

    CARELEDGER_TEST_GENESIS=2031-12-31T22:30:00Z make test

The default sits a day before a leap day, so date arithmetic that forgets 29 February fails here.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

__all__ = ["FAR_EXPIRY", "PINNED_GENESIS", "parse_instant", "pin_anvil", "pin_py_evm"]

DEFAULT_GENESIS = "2028-02-28T09:30:00Z"


def parse_instant(text: str) -> int:
    """A unix time from digits or an ISO-8601 instant with a zone (``Z`` or ``+hh:mm``)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"CARELEDGER_TEST_GENESIS={text!r}: give a zone (Z or +hh:mm) or a unix time")
    return int(when.timestamp())


PINNED_GENESIS = parse_instant(os.environ.get("CARELEDGER_TEST_GENESIS") or DEFAULT_GENESIS)


def _far_expiry() -> str:
    from careledger.provenance.gs1 import expiry_after

    return expiry_after(3 * 365, PINNED_GENESIS)


FAR_EXPIRY = _far_expiry()
"""A GS1 expiry date (YYMMDD) about three years after the pin: a batch that does not expire
during any test, on any day the suite runs."""


def pin_anvil(genesis: int = PINNED_GENESIS) -> None:
    """Every anvil started from now on by this process or its children begins at ``genesis``
    (unless the caller already chose one in ``$CARELEDGER_GENESIS_TIMESTAMP``)."""
    from careledger.devnet import GENESIS_TIMESTAMP_ENV

    os.environ.setdefault(GENESIS_TIMESTAMP_ENV, str(genesis))


def pin_py_evm(genesis: int = PINNED_GENESIS) -> None:
    """Stamp py-evm's genesis with ``genesis`` and take the wall clock out of its later blocks.

    Must run before Ape's ``test`` provider builds its chain (``pytest_configure`` does)."""
    import eth._utils.headers as headers
    import eth_tester.backends.pyevm.main as pyevm

    if getattr(pyevm.get_default_genesis_params, "careledger_pinned", False):
        return
    default_params = pyevm.get_default_genesis_params

    def pinned_params(overrides: Any = None) -> Any:
        params = dict(default_params(overrides=overrides))
        if not overrides or "timestamp" not in overrides:
            params["timestamp"] = genesis
        return params

    pinned_params.careledger_pinned = True  # type: ignore[attr-defined]
    pyevm.get_default_genesis_params = pinned_params
    # new_timestamp_from_parent() is max(parent + 1, eth_now()): with "now" at genesis, each block
    # is its parent + 1 s until a test moves the clock itself.
    headers.eth_now = lambda: genesis  # type: ignore[attr-defined]
