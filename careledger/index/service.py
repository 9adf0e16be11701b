"""What the CLI and the HTTP API share: an opened index, the tip check before every answer, paged
queries by event argument, and periods.

Every answer says which block it is true at (``indexedTo``). Before answering, the cursor's block
is compared with the chain (:meth:`Follower.verify_tip`): a block the chain no longer has is rolled
back first, so an answer never includes one. When the node cannot be asked, the service refuses
(:class:`~careledger.errors.NodeUnreachable`), unless it was opened with ``trust_tip=True`` (the
``--offline`` flag): then answers carry ``"tipVerified": false``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from careledger.artifacts import Artifacts
from careledger.deployments import Deployment
from careledger.errors import InvalidInput, NodeUnreachable
from careledger.index.decode import LogDecoder
from careledger.index.follower import Follower
from careledger.index.store import EventRow, Store
from careledger.rpc import RpcClient

__all__ = ["MAX_PAGE", "IndexService", "Page", "parse_period", "parse_time"]

MAX_PAGE = 1000
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_time(text: str, *, end: bool = False) -> int:
    """A unix time from ``YYYY-MM-DD`` (the day's start; with ``end`` the next day's start, so a
    day given as an end is included) or an ISO 8601 instant with an offset or ``Z``."""
    try:
        if _DAY.match(text):
            day = dt.date.fromisoformat(text)
            start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
            return int(start.timestamp()) + (86_400 if end else 0)
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 instant") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{text!r} has no time zone: add Z or an offset")
    return int(moment.timestamp())


def parse_period(text: str | None) -> tuple[int | None, int | None]:
    """``START..END`` (either side may be empty; days are inclusive) as ``(since, until)``."""
    if not text:
        return None, None
    if ".." not in text:
        raise InvalidInput(f"period {text!r} must be START..END (e.g. 2028-01-01..2028-03-31)")
    a, b = text.split("..", 1)
    since = parse_time(a) if a else None
    until = parse_time(b, end=True) if b else None
    if since is not None and until is not None and until <= since:
        raise InvalidInput(f"period {text!r} ends before it starts")
    return since, until


@dataclass
class Page:
    items: list[dict[str, Any]]
    next: str | None
    indexed_to: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"items": self.items, "next": self.next, "indexedTo": self.indexed_to, **self.extra}


def _after(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        value = int(cursor)
    except ValueError:
        raise InvalidInput(f"page cursor {cursor!r} is not one this index gave") from None
    if value < 0:
        raise InvalidInput(f"page cursor {cursor!r} is not one this index gave")
    return value


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"page size must be 1..{MAX_PAGE}, not {limit}")
    return limit


class IndexService:
    def __init__(
        self,
        store: Store,
        deployment: Deployment,
        artifacts: Artifacts,
        rpc: RpcClient | None,
        *,
        trust_tip: bool = False,
    ) -> None:
        self.store = store
        self.deployment = deployment
        self.artifacts = artifacts
        self.rpc = rpc
        self.trust_tip = trust_tip
        self.decoder = LogDecoder(deployment, artifacts)
        self.follower = Follower(rpc, store, deployment, artifacts) if rpc is not None else None

    @property
    def chain_id(self) -> int:
        return self.deployment.chain_id

    def address(self, contract: str) -> str:
        return self.decoder.address_of[contract]

    def fresh(self) -> dict[str, Any]:
        """Check the tip against the chain (rolling back what it no longer has); returns
        ``indexedTo`` for the answer."""
        verified = False
        rolled: dict[str, Any] | None = None
        if self.follower is not None:
            try:
                rolled = self.follower.verify_tip()
                verified = True
            except NodeUnreachable:
                if not self.trust_tip:
                    raise
        elif not self.trust_tip:
            raise NodeUnreachable("no node to check the index's tip against (use --offline to answer anyway)")
        cur = self.store.cursor()
        out: dict[str, Any] = {
            "block": None if cur is None else cur.block,
            "hash": None if cur is None else cur.hash,
            "tipVerified": verified,
        }
        if rolled:
            out["rolledBack"] = rolled
        return out

    # ------------------------------------------------------------------ queries by argument

    def keyed(
        self,
        contract: str,
        names: Sequence[str],
        where: Mapping[str, Sequence[Any]],
        *,
        since: int | None = None,
        until: int | None = None,
        after: int = 0,
        limit: int | None = None,
        descending: bool = False,
    ) -> list[EventRow]:
        """Events ``names`` of ``contract`` whose arguments take one of the given values
        (``{argument: values}``, each argument a key of every event named), in chain order. The
        key column of an argument comes from the ABI (its topic position), so events whose
        argument sits in different topics are queried apart and merged."""
        groups: dict[tuple[tuple[str, tuple[str, ...]], ...], list[str]] = {}
        for name in names:
            spec = self.decoder.spec(contract, name)
            cols = tuple(
                sorted((spec.slot(arg), tuple(spec.key_value(arg, v) for v in values)) for arg, values in where.items())
            )
            groups.setdefault(cols, []).append(name)
        rows: list[EventRow] = []
        for cols, group in groups.items():
            rows += self.store.events(
                contracts=[contract],
                names=group,
                keys=dict(cols),
                since=since,
                until=until,
                after=after,
                limit=limit,
                descending=descending,
            )
        rows.sort(key=lambda r: r.id, reverse=descending)
        return rows if limit is None else rows[:limit]

    @staticmethod
    def paged(
        fetch: Callable[[int, int], list[EventRow]],
        cursor: str | None,
        limit: int,
        keep: Callable[[EventRow], bool] = lambda _r: True,
    ) -> tuple[list[EventRow], str | None]:
        """One page of ``limit`` rows that ``keep`` accepts, fetched by ``fetch(after, n)`` in
        chain order; the cursor of the next page (None at the end)."""
        check_limit(limit)
        after = _after(cursor)
        batch = max(2 * limit, 200)
        out: list[EventRow] = []
        while True:
            rows = fetch(after, batch)
            for r in rows:
                if keep(r):
                    out.append(r)
                    if len(out) == limit:
                        return out, str(r.id)
            if len(rows) < batch:
                return out, None
            after = rows[-1].id
