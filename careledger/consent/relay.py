"""The gasless relayer: a small FastAPI app that validates EIP-712 signed consent actions and
forwards them with the relayer's key, so a patient never needs ether.

Checks before any gas is spent, in this order: the action parses; the signature has the one form
the registry's ECDSA check accepts (65 bytes, low s, v 27 or 28; pure, before any node call); the
deadline has not passed; the nonce is the signer's current one; the signature is the signer's
(EOA: recovered off chain; contract wallet: ERC-1271 read call); only then does the action take
one of the signer's rate-limit slots. Then ``Chain.send`` estimates (a refusal comes back with the
contract's decoded custom error, HTTP 422) and sends.

Every body, success or error, is exact JSON (``careledger.exactjson``, docs/json.md): errors are
``{"error": "..."}`` (plus ``customError`` and ``args`` for a chain refusal).

Serve it with ``careledger relay serve`` (bound to 127.0.0.1 unless told otherwise).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from careledger._extras import needs_extra
from careledger.chain import checksum
from careledger.consent import eip712
from careledger.consent.client import ConsentClient, SignedAction
from careledger.errors import CareLedgerError, ChainRefused, InvalidInput
from careledger.exactjson import dumps, quantity, uint_id

with needs_extra("relay", "the consent relayer"):
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

__all__ = ["ExactJSONResponse", "RateLimiter", "create_app"]


class ExactJSONResponse(JSONResponse):
    """A JSON response written by the project's one encoder (no uint256 as a bare number)."""

    def render(self, content: Any) -> bytes:
        return dumps(content, indent=None).encode("utf-8")


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
    app = FastAPI(title="CareLedger consent relay", version="1", default_response_class=ExactJSONResponse)
    send_lock = threading.Lock()  # one sender key: serialise sends so nonces never collide

    def refuse(status: int, message: str, headers: dict[str, str] | None = None) -> ExactJSONResponse:
        return ExactJSONResponse({"error": message}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    def malformed(request: Request, exc: RequestValidationError) -> ExactJSONResponse:
        # FastAPI's own 422 would echo the input back (a big integer included) and clash with
        # this relayer's 422 (the chain refused): a malformed request is a 400.
        problems = "; ".join(str(e.get("msg", "invalid")) for e in exc.errors())
        return refuse(400, f"malformed request: the body must be a JSON object holding a signed action ({problems})")

    def http_error(request: Request, exc: Exception) -> ExactJSONResponse:
        # An unknown path or method: the same {"error": ...} body as every other refusal.
        code = int(getattr(exc, "status_code", 404))
        headers = getattr(exc, "headers", None)
        return refuse(code, str(getattr(exc, "detail", "not found")), dict(headers) if headers else None)

    for status in (404, 405):
        app.add_exception_handler(status, http_error)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "chainId": client.chain.chain_id, "registry": client.address, "relayer": client.me}

    @app.get("/nonce/{signer}", response_model=None)
    def nonce(signer: str) -> dict[str, Any] | ExactJSONResponse:
        try:
            who = checksum(signer, "signer")
        except InvalidInput as exc:
            return refuse(400, exc.message)
        return {"signer": who, "nonce": quantity(client.nonce(who))}  # a uint256: a decimal string

    @app.post("/actions")
    def submit(body: dict[str, Any]) -> ExactJSONResponse:
        try:
            action = SignedAction.from_json(body)
        except InvalidInput as exc:
            return refuse(400, exc.message)
        # Pure, before any node call and before the rate limit: a signature in a form the
        # contract refuses (high s, v not 27/28, not 65 bytes) costs the relayer nothing and
        # cannot take the honest signer's slot (its low-s twin may be on its way).
        problem = eip712.signature_problem(bytes.fromhex(action.signature[2:]))
        if problem is not None:
            return refuse(400, problem)
        now = client.chain_time()
        if action.deadline < now:
            return refuse(400, f"deadline {action.deadline} has passed (chain time {now})")
        current = client.expected_nonce(action)
        if action.nonce != current:
            whose = "the pair's action counter" if action.pair else "the signer's current nonce"
            return refuse(400, f"nonce {action.nonce} is not {whose} {current}")
        if not client.verify_signature(action):
            return refuse(400, f"signature is not {action.signer}'s for this {action.action}")
        # Only a signature that is the claimed signer's takes one of that signer's slots.
        allowed, retry = limiter.allow(action.signer)
        if not allowed:
            return refuse(
                429,
                f"rate limit: {limiter.limit} actions per {limiter.window:.0f} s for {action.signer}",
                {"Retry-After": str(max(1, round(retry)))},
            )
        try:
            with send_lock:
                receipt = client.submit(action)
        except ChainRefused as exc:
            return ExactJSONResponse(
                {"error": exc.message, "customError": exc.error_name, "args": exc.error_args}, status_code=422
            )
        except CareLedgerError as exc:
            return refuse(502, exc.message)
        out: dict[str, Any] = {
            "tx": receipt["transactionHash"].to_0x_hex(),
            "block": int(receipt["blockNumber"]),
            "gasUsed": int(receipt["gasUsed"]),
            "action": action.action,
        }
        if action.action == "grant":
            out["consentId"] = uint_id(client.granted_id(receipt))
        return ExactJSONResponse(out)

    return app
