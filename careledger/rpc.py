"""A small JSON-RPC client with batching, bounded retries and typed failures.

web3.py sends one request per HTTP round trip; this sends hundreds in one POST (a JSON-RPC
batch) over a kept-alive session, which is what lets the SDK reach thousands of reads or
transactions per second against a node that mines a block in milliseconds.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any

import requests

from careledger.errors import CareLedgerError, NodeUnreachable

__all__ = ["DEV_CHAIN_IDS", "RpcClient", "RpcError", "nudge_devnet", "unwedge_devnet"]

# Local development chains (anvil, Ape's embedded chain): only here does the client mine.
DEV_CHAIN_IDS = frozenset({31337, 1337})


class RpcError(CareLedgerError):
    """The node answered a request with a JSON-RPC error object."""

    def __init__(self, message: str, code: int = 0, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class RpcClient:
    def __init__(self, url: str, *, timeout: float = 10.0, retries: int = 4, backoff: float = 0.2) -> None:
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._ids = itertools.count(1)
        self._session = requests.Session()

    def _post(self, payload: Any) -> Any:
        """POST with bounded retries on connection failures and timeouts (exponential backoff)."""
        delay = self.backoff
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                resp = self._session.post(self.url, json=payload, timeout=self.timeout)
                resp.raise_for_status()
                return resp.json()
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = exc
            except requests.HTTPError as exc:
                if exc.response is not None and exc.response.status_code < 500:
                    raise NodeUnreachable(f"{self.url} answered HTTP {exc.response.status_code}") from None
                last = exc
            except ValueError as exc:  # not JSON: a proxy error page, say
                last = exc
            if attempt < self.retries:
                time.sleep(delay)
                delay = min(delay * 2, 3.0)
        kind = type(last).__name__ if last else "error"
        raise NodeUnreachable(f"no answer from {self.url} after {self.retries + 1} attempts ({kind})")

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        reply = self._post({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)})
        if "error" in reply:
            err = reply["error"]
            raise RpcError(f"{method}: {err.get('message')}", int(err.get("code", 0)), err.get("data"))
        return reply.get("result")

    def batch(self, requests_: Sequence[tuple[str, Sequence[Any]]], *, chunk: int = 500) -> list[Any]:
        """Send many requests in JSON-RPC batches; results in order, an :class:`RpcError` in
        place of each request the node refused (the caller decides what a refusal means)."""
        out: list[Any] = []
        for start in range(0, len(requests_), chunk):
            part = requests_[start : start + chunk]
            ids = [next(self._ids) for _ in part]
            payload = [
                {"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)} for i, (m, p) in zip(ids, part, strict=True)
            ]
            replies = self._post(payload)
            if isinstance(replies, dict):  # the node refused the whole batch
                err = replies.get("error", {})
                raise RpcError(f"batch refused: {err.get('message')}", int(err.get("code", 0)))
            by_id = {r.get("id"): r for r in replies}
            for i in ids:
                r = by_id.get(i)
                if r is None:
                    out.append(RpcError("no reply in batch"))
                elif "error" in r:
                    e = r["error"]
                    out.append(RpcError(str(e.get("message")), int(e.get("code", 0)), e.get("data")))
                else:
                    out.append(r.get("result"))
        return out

    def close(self) -> None:
        self._session.close()


def nudge_devnet(call: Callable[[str, list[Any]], Any], chain_id: int) -> bool:
    """Mine one block on a local dev chain whose automine has left transactions pending.

    anvil's automine normally mines each transaction as it arrives, but after a burst larger than
    a block it was seen leaving transactions pending under an empty head (1,356 of 3,000) until
    someone mined. Never on a real network, never when automine is off (a test or a script owns
    mining then). ``call(method, params)`` returns the JSON-RPC result. True when it mined."""
    if chain_id not in DEV_CHAIN_IDS:
        return False
    try:
        if not call("anvil_getAutomine", []):
            return False
        status = call("txpool_status", [])
        if not isinstance(status, dict) or int(str(status.get("pending", "0x0")), 16) == 0:
            return False
        call("evm_mine", [])
    except (RpcError, NodeUnreachable, ValueError):
        return False
    return True


def unwedge_devnet(call: Callable[[str, list[Any]], Any], chain_id: int, address: str) -> bool:
    """Free an account's transactions that a local dev chain's pool holds as "queued" although
    the chain has reached their nonce.

    anvil (1.x), sent a burst of one account's transactions in JSON-RPC batches, was seen leaving
    the rest of the burst queued behind a predecessor it had already mined (38 of 74, for good):
    no block takes them, and the same bytes are refused as "already imported". The sign is
    unambiguous: nothing of the account's is pending (ready) and its lowest queued nonce is the
    account's mined transaction count. Then the account's pool transactions are removed so that
    the caller can send them again (same bytes, in nonce order). Never on a real network. True
    when it removed them."""
    if chain_id not in DEV_CHAIN_IDS:
        return False
    try:
        pool = call("txpool_inspect", []) or {}
        key = address.lower()
        if any(str(a).lower() == key for a in (pool.get("pending") or {})):
            return False
        queued = next((txs for a, txs in (pool.get("queued") or {}).items() if str(a).lower() == key), None)
        if not queued:
            return False
        mined = int(str(call("eth_getTransactionCount", [address, "latest"])), 16)
        if min(int(n) for n in queued) != mined:
            return False  # a real gap: an earlier nonce is missing, not a wedge
        call("anvil_removePoolTransactions", [address])
    except (RpcError, NodeUnreachable, ValueError):
        return False
    return True
