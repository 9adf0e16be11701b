"""The gasless relayer: a small FastAPI app that validates EIP-712 signed consent actions and
forwards them with the relayer's key, so a patient never needs ether.

Checks before any gas is spent: the action parses; the deadline has not passed; the nonce is the
signer's current one; the signature is the signer's (EOA: recovered off chain; contract wallet:
ERC-1271 read call); the signer is within its rate limit. Then ``Chain.send`` estimates (a refusal
comes back with the contract's decoded custom error, HTTP 422) and sends.

Serve it with ``careledger relay serve`` (bound to 127.0.0.1 unless told otherwise).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from careledger._extras import needs_extra
from careledger.consent.client import ConsentClient, SignedAction
from careledger.errors import CareLedgerError, ChainRefused, InvalidInput

with needs_extra("relay", "the consent relayer"):
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import JSONResponse

__all__ = ["RateLimiter", "create_app"]


class RateLimiter:
    """At most ``limit`` accepted actions per signer in any ``window`` seconds (sliding window)."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window <= 0:
            raise InvalidInput("rate limit must be at least 1 action per positive window")
        self.limit, self.window, self.clock = limit, window, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, signer: str) -> tuple[bool, float]:
        """(allowed, seconds until the next slot frees up). Records the action when allowed."""
        now = self.clock()
        with self._lock:
            q = self._seen.setdefault(signer.lower(), deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return False, q[0] + self.window - now
            q.append(now)
            return True, 0.0


def create_app(client: ConsentClient, limiter: RateLimiter | None = None) -> FastAPI:
    """The relay app; ``client`` must sign as an active relayer of the directory."""
    limiter = limiter or RateLimiter(limit=10, window=60.0)
    app = FastAPI(title="CareLedger consent relay", version="1")
    send_lock = threading.Lock()  # one sender key: serialise sends so nonces never collide

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "chainId": client.chain.chain_id, "registry": client.address, "relayer": client.me}

    @app.get("/nonce/{signer}")
    def nonce(signer: str) -> dict[str, Any]:
        try:
            return {"signer": signer, "nonce": client.nonce(signer)}
        except InvalidInput as exc:
            raise HTTPException(400, exc.message) from None

    @app.post("/actions")
    def submit(body: dict[str, Any]) -> JSONResponse:
        try:
            action = SignedAction.from_json(body)
        except InvalidInput as exc:
            return JSONResponse({"error": exc.message}, status_code=400)
        now = client.chain_time()
        if action.deadline < now:
            return JSONResponse({"error": f"deadline {action.deadline} has passed (chain time {now})"}, status_code=400)
        current = client.nonce(action.signer)
        if action.nonce != current:
            return JSONResponse(
                {"error": f"nonce {action.nonce} is not the signer's current nonce {current}"}, status_code=400
            )
        if not client.verify_signature(action):
            return JSONResponse(
                {"error": f"signature is not {action.signer}'s for this {action.action}"}, status_code=400
            )
        allowed, retry = limiter.allow(action.signer)
        if not allowed:
            return JSONResponse(
                {"error": f"rate limit: {limiter.limit} actions per {limiter.window:.0f} s for {action.signer}"},
                status_code=429,
                headers={"Retry-After": str(max(1, round(retry)))},
            )
        try:
            with send_lock:
                receipt = client.submit(action)
        except ChainRefused as exc:
            return JSONResponse(
                {"error": exc.message, "customError": exc.error_name, "args": exc.error_args}, status_code=422
            )
        except CareLedgerError as exc:
            return JSONResponse({"error": exc.message}, status_code=502)
        out: dict[str, Any] = {
            "tx": receipt["transactionHash"].to_0x_hex(),
            "block": int(receipt["blockNumber"]),
            "gasUsed": int(receipt["gasUsed"]),
            "action": action.action,
        }
        if action.action == "grant":
            out["consentId"] = hex(client.granted_id(receipt))
        return JSONResponse(out)

    return app
