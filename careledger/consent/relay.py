"""The gasless relayer: a small FastAPI app that validates EIP-712 signed consent actions and
forwards them with the relayer's key, so a patient never needs ether.

With pairwise pseudonyms every relationship is a fresh key, so a per-key limit alone stops
nobody. The relayer's protection is layered, cheapest first (docs/consent.md, "Relayer"):

1. **Transport** (ASGI middleware, before the body is parsed): the body is at most
   :attr:`RelayPolicy.max_body` bytes (16 KiB; a declared larger ``Content-Length`` is refused
   unread, a chunked body is cut off as soon as it passes the limit: HTTP 413); at most
   :attr:`RelayPolicy.max_concurrency` requests are served at once (HTTP 503 beyond).
2. **Per client** (the connecting address), before any node work: a sliding-window request
   limit, and a failure limit: every refusal (malformed, bad signature, wrong nonce, chain
   refusal) counts, and a client over it is refused without parsing (HTTP 429).
3. **Pure checks**: the action parses; the signature has the one form the registry accepts.
4. **Node checks**: deadline, nonce (the pair's action counter or the signer's nonce), the
   signature is the signer's; a contract signer only if its code hash is on the allowlist
   (:attr:`RelayPolicy.wallet_code_hashes`; the contract itself gives ERC-1271 at most 50,000 gas).
5. **Sponsorship**: the organisation the action concerns (the grantee, or the break-glass
   provider; a study's sponsor for a study) must be an active participant: it sponsors the
   action, within its own gas budget per window; patient-wide actions (deny, delegates, cancel
   of all) come out of a separate patient-wide budget; all of it within a global budget. The
   estimate must be at most :attr:`RelayPolicy.max_gas_per_action` and is the gas limit sent.
   Below :attr:`RelayPolicy.balance_floor` wei the relayer stops sponsoring (HTTP 503).
6. A per-signer limit still applies (a signer flooding one relationship).

Every body, success or error, is exact JSON (``careledger.exactjson``, docs/json.md): errors are
``{"error": "..."}`` (plus ``customError`` and ``args`` for a chain refusal).

Serve it with ``careledger relay serve`` (bound to 127.0.0.1 unless told otherwise).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from careledger._extras import needs_extra
from careledger.abi import ContractAbi
from careledger.artifacts import load_artifacts
from careledger.chain import checksum
from careledger.codes import Role
from careledger.consent import eip712
from careledger.consent.client import ACTIONS, ConsentClient, SignedAction
from careledger.errors import (
    CareLedgerError,
    ChainRefused,
    InvalidInput,
    NodeFailed,
    TransactionPending,
    TransactionRejected,
)
from careledger.exactjson import dumps, quantity, uint_id
from careledger.rpc import KeepAliveRpcClient, NodeHook, RpcClient, RpcError

with needs_extra("relay", "the consent relayer"):
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

__all__ = ["PATIENT_WIDE", "Budget", "Calldata", "ExactJSONResponse", "RateLimiter", "RelayPolicy", "create_app"]

IDLE_EXIT = 30.0
"""Seconds a relayer's sender or receipt thread waits for work before it ends (restarted on demand)."""

PATIENT_WIDE = "patient-wide"
"""The budget key of actions that concern no one organisation (deny, delegates, cancel-all)."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ExactJSONResponse(JSONResponse):
    """A JSON response written by the project's one encoder (no uint256 as a bare number)."""

    def render(self, content: Any) -> bytes:
        return dumps(content, indent=None).encode("utf-8")


class RateLimiter:
    """At most ``limit`` events per key in any ``window`` seconds (sliding window)."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window <= 0:
            raise InvalidInput("rate limit must be at least 1 action per positive window")
        self.limit, self.window, self.clock = limit, window, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float]:
        q = self._seen.setdefault(key.lower(), deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def allow(self, key: str) -> tuple[bool, float]:
        """(allowed, seconds until the next slot frees up). Records the event when allowed."""
        now = self.clock()
        with self._lock:
            q = self._trim(key, now)
            if len(q) >= self.limit:
                return False, q[0] + self.window - now
            q.append(now)
            return True, 0.0

    def full(self, key: str) -> tuple[bool, float]:
        """(at the limit, seconds until a slot frees up), recording nothing."""
        now = self.clock()
        with self._lock:
            q = self._trim(key, now)
            return (len(q) >= self.limit, (q[0] + self.window - now) if q else 0.0)

    def record(self, key: str) -> None:
        with self._lock:
            self._trim(key, self.clock()).append(self.clock())


class Budget:
    """Gas per key (an organisation, :data:`PATIENT_WIDE`) and in total, per ``window`` seconds
    (a sliding window of charges). ``reserve`` takes an estimate before sending; ``settle``
    replaces it with the gas the receipt shows (or releases it when nothing was spent).

    Running sums per key and in total are kept as charges enter and leave the window, so a check
    costs the same at 200 charges per second for an hour as at the first one."""

    def __init__(self, per_key: int, total: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_key, self.total, self.window, self.clock = per_key, total, window, clock
        self._charges: deque[list[Any]] = deque()  # [time, key, gas], oldest first
        self._sums: dict[str, int] = {}
        self._sum = 0
        self._lock = threading.Lock()

    def _add(self, key: str, gas: int) -> None:
        self._sums[key] = self._sums.get(key, 0) + gas
        self._sum += gas
        if self._sums[key] == 0:
            del self._sums[key]

    def _trim(self, now: float) -> None:
        while self._charges and self._charges[0][0] <= now - self.window:
            _, key, gas = self._charges.popleft()
            self._add(key, -gas)

    def spent(self, key: str | None = None) -> int:
        with self._lock:
            self._trim(self.clock())
            return self._sum if key is None else self._sums.get(key, 0)

    def reserve(self, key: str, gas: int) -> str | None:
        """Charge ``gas`` to ``key``; None when done, else why not (nothing charged)."""
        with self._lock:
            now = self.clock()
            self._trim(now)
            if self._sums.get(key, 0) + gas > self.per_key:
                return f"the sponsoring budget of {key} ({self.per_key:,} gas per {self.window:g} s) is used up"
            if self._sum + gas > self.total:
                return f"the relayer's global budget ({self.total:,} gas per {self.window:g} s) is used up"
            self._charges.append([now, key, gas])
            self._add(key, gas)
            return None

    def settle(self, key: str, reserved: int, used: int) -> None:
        with self._lock:
            for charge in reversed(self._charges):  # a recent charge: look from the newest
                if charge[1] == key and charge[2] == reserved:
                    charge[2] = used
                    self._add(key, used - reserved)
                    return


class Calldata:
    """ABI-encodes calls to one contract with the selectors and types of :mod:`careledger.abi`
    (``eth_abi`` under it): about a tenth of the CPU of web3's ``ContractFunction`` encoding
    (1.9 ms for a ``grantBySig``), which was most of the relayer's own work per request. The bytes
    are web3's (``tests/consent/test_relay_fast_path.py``)."""

    def __init__(self, abi: Sequence[Any], name: str = "contract") -> None:
        self.abi = ContractAbi(name, list(abi))

    def encode(self, name: str, args: Sequence[Any]) -> str:
        return "0x" + self.abi.calldata(name, *args).hex()

    def action(self, action: SignedAction) -> str:
        """Calldata of the registry's ``*BySig`` function for ``action``."""
        return self.encode(ACTIONS[action.action][1], action.call_args())


class _Node:
    """Raw JSON-RPC to the node (careledger.rpc: no web3 middleware), one kept-alive session per
    thread (a ``requests.Session`` is not meant to be shared across threads)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()

    @property
    def rpc(self) -> RpcClient:
        rpc = getattr(self._local, "rpc", None)
        if rpc is None:
            rpc = self._local.rpc = KeepAliveRpcClient(self.url, retries=2)
        return rpc

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        return self.rpc.call(method, params)

    def batch(self, requests_: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        return self.rpc.batch(requests_)


class _Receipts:
    """One poller thread collects the receipts of every transaction the relayer has in flight.
    Each round asks the node for its head (``eth_blockNumber``); only a transaction not yet
    looked up, or all of them once a new block is in, is asked for its receipt, in one batched
    ``eth_getTransactionReceipt`` round trip. So the node answers one cheap read per round plus
    one batch per block, instead of a poll per request (web3's wait backs off to 250 ms)."""

    def __init__(self, node: _Node, hook: NodeHook, poll: float = 0.002, timeout: float = 60.0) -> None:
        self.node, self.hook, self.poll, self.timeout = node, hook, poll, timeout
        self._cond = threading.Condition()
        # tx hash -> [event, receipt or error, since, head when last looked up (-1: never)]
        self._waiting: dict[str, list[Any]] = {}
        self._thread: threading.Thread | None = None

    def wait(self, tx_hash: str, what: str) -> dict[str, Any]:
        slot: list[Any] = [threading.Event(), None, time.monotonic(), -1]
        with self._cond:
            self._waiting[tx_hash] = slot
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="relay-receipts", daemon=True)
                self._thread.start()
            self._cond.notify()
        slot[0].wait(self.timeout + 5.0)
        result = slot[1]
        if isinstance(result, dict):
            return result
        if isinstance(result, CareLedgerError):
            raise result
        raise TransactionPending(
            f"{what}: transaction {tx_hash} was sent but has no receipt after {self.timeout:g} s; it may still be "
            "mined: look it up before sending again",
            tx_hash=tx_hash,
        )

    def _run(self) -> None:
        nudged = time.monotonic()
        while True:
            with self._cond:
                if not self._waiting:
                    self._cond.wait(IDLE_EXIT)
                if not self._waiting:  # idle: end the thread; the next wait starts another
                    self._thread = None
                    return
            try:
                head = int(str(self.node.call("eth_blockNumber")), 16)
            except CareLedgerError:
                time.sleep(0.05)
                head = -1
            with self._cond:
                due = [h for h, slot in self._waiting.items() if slot[3] < 0 or (head >= 0 and head > slot[3])]
            replies: list[Any] = []
            if due:
                try:
                    replies = self.node.batch([("eth_getTransactionReceipt", [h]) for h in due])
                except CareLedgerError as exc:
                    replies = [exc] * len(due)
            now = time.monotonic()
            with self._cond:
                for h, reply in zip(due, replies, strict=True):
                    slot = self._waiting.get(h)
                    if slot is None:
                        continue
                    slot[3] = head
                    if isinstance(reply, dict):
                        slot[1] = reply
                    elif now - slot[2] <= self.timeout:
                        continue
                    elif isinstance(reply, CareLedgerError) and not isinstance(reply, RpcError):
                        slot[1] = reply  # the node stopped answering
                    del self._waiting[h]
                    slot[0].set()
                for h, slot in list(self._waiting.items()):  # no new block for a long time
                    if now - slot[2] > self.timeout:
                        del self._waiting[h]
                        slot[0].set()
                oldest = min((s[2] for s in self._waiting.values()), default=now)
                busy = bool(self._waiting)
            if busy:
                if now - oldest > 2.0 and now - nudged > 2.0:  # no block for a while (rpc.NodeHook.stalled)
                    self.hook.stalled(self.node.call)
                    nudged = now
                time.sleep(self.poll)


class _Outbox:
    """Sends signed transactions in nonce order, as many as are waiting in one JSON-RPC batch of
    ``eth_sendRawTransaction`` (one round trip for all of them), from one thread. The nonce lane
    is held only while a transaction is signed and queued, not for a round trip to the node."""

    def __init__(self, node: _Node) -> None:
        self.node = node
        self._cond = threading.Condition()
        self._queue: list[tuple[str, list[Any]]] = []
        self._thread: threading.Thread | None = None

    def put(self, raw: str) -> list[Any]:
        """Queue ``raw`` (call in nonce order); the returned slot is filled by :meth:`result`."""
        slot: list[Any] = [threading.Event(), None]
        with self._cond:
            self._queue.append((raw, slot))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="relay-outbox", daemon=True)
                self._thread.start()
            self._cond.notify()
        return slot

    @staticmethod
    def result(slot: list[Any]) -> Any:
        """The node's answer to one queued transaction: its hash, or an :class:`RpcError` or
        other :class:`CareLedgerError`."""
        slot[0].wait()
        return slot[1]

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    self._cond.wait(IDLE_EXIT)
                if not self._queue:  # idle: end the thread; the next put starts another
                    self._thread = None
                    return
                work, self._queue = self._queue, []
            try:
                replies: list[Any] = self.node.batch([("eth_sendRawTransaction", [raw]) for raw, _ in work])
            except CareLedgerError as exc:
                replies = [exc] * len(work)
            for (_, slot), reply in zip(work, replies, strict=True):
                slot[1] = reply
                slot[0].set()


class _Sender:
    """Sends the relayer's transactions over raw JSON-RPC without waiting for one receipt before
    the next: nonces are handed out under a lock (one sender key, one nonce lane), the transaction
    is signed locally and sent, the lock is released, and the request then waits for its receipt
    from the shared poller (:class:`_Receipts`). Fees and chain time are read at most once per
    ``ttl`` seconds (one batched round trip)."""

    def __init__(self, client: ConsentClient, node: _Node, clock: Callable[[], float], ttl: float = 1.0) -> None:
        self.client, self.node, self.clock, self.ttl = client, node, clock, ttl
        self.lock = threading.Lock()  # the nonce lane: held while a transaction is signed and sent
        self._facts = threading.Lock()  # fees and chain time, refreshed at most once per ttl
        self.receipts = _Receipts(node, client.chain.node_hook(), timeout=client.chain.receipt_timeout)
        self.outbox = _Outbox(node)
        self._next: int | None = None
        self._block_at = -1.0
        self._fees: dict[str, int] = {}
        self._time = 0

    def _refresh(self) -> None:
        if self._block_at >= 0 and self.clock() - self._block_at < self.ttl:
            return
        with self._facts:
            if self._block_at < 0 or self.clock() - self._block_at >= self.ttl:
                self._read_facts()

    def _read_facts(self) -> None:
        block, tip = self.node.batch([("eth_getBlockByNumber", ["latest", False]), ("eth_maxPriorityFeePerGas", [])])
        if isinstance(block, CareLedgerError):
            raise block
        tip_wei = 0 if isinstance(tip, CareLedgerError) else int(str(tip), 16)
        base = int(str(block.get("baseFeePerGas") or "0x0"), 16)
        self._fees = {"maxFeePerGas": 2 * base + tip_wei, "maxPriorityFeePerGas": tip_wei}
        self._time = int(str(block["timestamp"]), 16)
        self._block_at = self.clock()

    def chain_time(self) -> int:
        self._refresh()
        return self._time

    def send(self, to: str, data: str, gas: int, what: str) -> dict[str, Any]:
        chain = self.client.chain
        account = chain.account
        if account is None:
            raise InvalidInput("the relayer needs a signing account")
        self._refresh()
        with self.lock:
            if self._next is None:
                self._next = int(str(self.node.call("eth_getTransactionCount", [account.address, "pending"])), 16)
            tx: dict[str, Any] = {
                "to": to,
                "data": data,
                "gas": gas,
                "nonce": self._next,
                "chainId": chain.chain_id,
                "value": 0,
                **self._fees,
            }
            signed = account.sign_transaction(tx)
            slot = self.outbox.put("0x" + bytes(signed.raw_transaction).hex())
            self._next += 1
        reply = self.outbox.result(slot)
        if isinstance(reply, CareLedgerError):
            with self.lock:
                self._next = None  # ask the node again next time (a refused nonce is free again)
            if isinstance(reply, RpcError):
                raise TransactionRejected(f"the node refused {what}: {reply.message}")
            raise reply
        tx_hash = str(reply)
        receipt = self.receipts.wait(tx_hash, what)
        if int(str(receipt["status"]), 16) != 1:
            block = int(str(receipt["blockNumber"]), 16)
            revert = chain._replay_revert({**tx, "from": account.address}, block)
            raise chain.decoder.refusal(revert, what, tx_hash=tx_hash)
        return receipt


@dataclass(frozen=True)
class RelayPolicy:
    """What the relayer sponsors, and how much. Defaults suit one consortium relayer."""

    max_body: int = 16 * 1024
    max_concurrency: int = 16
    client_limit: int = 600  # requests per client per window
    client_failures: int = 30  # refused requests per client per window, then the client is cut off
    signer_limit: int = 10  # accepted actions per signer per window
    window: float = 60.0
    org_budget: int = 20_000_000  # gas per sponsoring organisation per budget_window
    patient_wide_budget: int = 5_000_000
    global_budget: int = 200_000_000
    budget_window: float = 3600.0
    max_gas_per_action: int = 200_000
    balance_floor: int = 10**17  # wei: below it the relayer stops sponsoring
    wallet_code_hashes: frozenset[bytes] = field(default_factory=frozenset)  # ERC-1271 wallets we relay for
    # Behind a TLS proxy every request comes from the proxy: with this set, the client is the last
    # address the proxy appended to X-Forwarded-For (never set it without such a proxy: a client
    # could name itself anew on every request).
    trust_forwarded_for: bool = False
    fact_ttl: float = 5.0  # seconds a sponsorship fact (organisation active, balance) is reused
    block_ttl: float = 1.0  # seconds the latest block's fees and time are reused


class _Transport:
    """ASGI middleware: body size limit and concurrency limit, before any parsing."""

    def __init__(self, app: ASGIApp, max_body: int, max_concurrency: int) -> None:
        self.app, self.max_body = app, max_body
        self.slots = max_concurrency
        self.busy = 0

    async def _refuse(self, send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]]) -> None:
        body = dumps({"error": message}, indent=None).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                await self._refuse(send, 413, f"request body over {self.max_body} bytes", [(b"connection", b"close")])
                return
        if self.busy >= self.slots:
            await self._refuse(send, 503, "relayer busy: try again shortly", [(b"retry-after", b"1")])
            return
        self.busy += 1
        try:
            # Read the body here, at most max_body bytes of it, before anything parses it.
            chunks: list[bytes] = []
            seen = 0
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > self.max_body:
                    await self._refuse(
                        send, 413, f"request body over {self.max_body} bytes", [(b"connection", b"close")]
                    )
                    return
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            delivered = False

            async def replay() -> Message:
                nonlocal delivered
                if not delivered:
                    delivered = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send)
        finally:
            self.busy -= 1


def create_app(
    client: ConsentClient,
    limiter: RateLimiter | None = None,
    policy: RelayPolicy | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> FastAPI:
    """The relay app; ``client`` must sign as an active relayer of the directory. ``limiter``
    overrides the per-signer limit of ``policy``."""
    policy = policy or RelayPolicy()
    signers = limiter or RateLimiter(policy.signer_limit, policy.window, clock)
    clients = RateLimiter(policy.client_limit, policy.window, clock)
    failures = RateLimiter(policy.client_failures, policy.window, clock)
    budget = Budget(policy.org_budget, policy.global_budget, policy.budget_window, clock)
    patient_wide = Budget(policy.patient_wide_budget, policy.global_budget, policy.budget_window, clock)
    directory = client.chain.contract(
        client.deployment.address("ParticipantDirectory"), load_artifacts()["ParticipantDirectory"].abi
    )
    app = FastAPI(title="CareLedger consent relay", version="2", default_response_class=ExactJSONResponse)
    node = _Node(str(getattr(client.chain.w3.provider, "endpoint_uri", "")))
    sender = _Sender(client, node, clock, policy.block_ttl)
    registry = to_checksum_address(client.address)
    relayer = to_checksum_address(client.me)
    calls = Calldata(client.contract.abi, "ConsentRegistry")
    directory_calls = Calldata(directory.abi, "ParticipantDirectory")
    granted_topic = calls.abi.event("ConsentGranted").topic_hex
    stats = {"accepted": 0, "refused": 0}
    cache: dict[tuple[str, str], tuple[float, Any]] = {}
    cache_lock = threading.Lock()

    def cached(kind: str, key: str, ttl: float, read: Callable[[], Any]) -> Any:
        # Sponsorship facts (is the organisation active, the relayer's balance) may be a few
        # seconds old: they decide who pays, not who may access (the contract checks that).
        hit = cache.get((kind, key))
        if hit is not None and clock() - hit[0] < min(ttl, policy.fact_ttl):
            return hit[1]
        with cache_lock:  # one read per fact when many requests find it stale at once
            hit = cache.get((kind, key))
            if hit is not None and clock() - hit[0] < min(ttl, policy.fact_ttl):
                return hit[1]
            value = read()
            cache[(kind, key)] = (clock(), value)
            return value

    def refuse(status: int, message: str, headers: dict[str, str] | None = None) -> ExactJSONResponse:
        return ExactJSONResponse({"error": message}, status_code=status, headers=headers)

    def client_of(request: Request) -> str:
        if policy.trust_forwarded_for:
            forwarded = request.headers.get("x-forwarded-for", "")
            if forwarded:
                return forwarded.split(",")[-1].strip()
        return request.client.host if request.client else "unknown"

    @app.exception_handler(RequestValidationError)
    def malformed(request: Request, exc: RequestValidationError) -> ExactJSONResponse:
        # FastAPI's own 422 would echo the input back (a big integer included) and clash with
        # this relayer's 422 (the chain refused): a malformed request is a 400.
        failures.record(client_of(request))
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
        return {
            "ok": True,
            "chainId": client.chain.chain_id,
            "registry": client.address,
            "relayer": client.me,
            "sponsoring": _balance() >= policy.balance_floor,
            "gasSpentInWindow": budget.spent() + patient_wide.spent(),
            "accepted": stats["accepted"],
            "refused": stats["refused"],
        }

    @app.get("/nonce/{signer}", response_model=None)
    def nonce(signer: str) -> dict[str, Any] | ExactJSONResponse:
        try:
            who = checksum(signer, "signer")
        except InvalidInput as exc:
            return refuse(400, exc.message)
        return {"signer": who, "nonce": quantity(client.nonce(who))}  # a uint256: a decimal string

    def _balance() -> int:
        return int(cached("balance", "", 1.0, lambda: int(str(node.call("eth_getBalance", [relayer, "latest"])), 16)))

    def _is_active(who: str, roles: int) -> bool:
        data = directory_calls.encode("isActive", [who, roles])
        return int(str(node.call("eth_call", [{"to": directory.address, "data": data}, "latest"])), 16) != 0

    def _sponsor(action: SignedAction) -> tuple[str | None, str | None]:
        """(budget key, None) or (None, why no one sponsors it)."""
        org = action.counterparty
        if org is None:
            return PATIENT_WIDE, None
        active = cached("active", org, 5.0, lambda: _is_active(org, int(Role(127))))
        if active:
            return org, None
        sponsor, version, _ = client.study_of(org)
        if version and _is_active(sponsor, int(Role.PROVIDER)):
            return sponsor, None  # a study's actions are sponsored by its (active) sponsor
        return None, f"{org} is not an active organisation of the directory nor an active study: nobody sponsors it"

    def chain_refusal(exc: ChainRefused) -> tuple[bool, ExactJSONResponse]:
        return False, ExactJSONResponse(
            {"error": exc.message, "customError": exc.error_name, "args": exc.error_args}, status_code=422
        )

    def nonce_call(action: SignedAction) -> dict[str, str]:
        pair = action.pair
        data = calls.encode("pairNonce", pair) if pair else calls.encode("nonces", [action.signer])
        return {"to": registry, "data": data}

    def consent_id(receipt: dict[str, Any]) -> int:
        for log in receipt.get("logs", []):
            topics = log.get("topics") or []
            if (
                topics
                and str(topics[0]).lower() == granted_topic
                and str(log.get("address", "")).lower() == registry.lower()
            ):
                return int(str(topics[1]), 16)
        raise NodeFailed("the relayed grant's receipt holds no ConsentGranted event")

    def handle(request: Request, body: dict[str, Any]) -> tuple[bool, ExactJSONResponse]:
        try:
            action = SignedAction.from_json(body)
        except InvalidInput as exc:
            return False, refuse(400, exc.message)
        # Pure, before any node call: a signature in a form the contract refuses (high s, v not
        # 27/28, not 65 bytes) costs the relayer nothing and cannot take the signer's slot.
        signature = bytes.fromhex(action.signature[2:])
        problem = eip712.signature_problem(signature)
        if problem is not None:
            return False, refuse(400, problem)
        now = sender.chain_time()  # cached: at most one node read per block_ttl
        if action.deadline < now:
            return False, refuse(400, f"deadline {action.deadline} has passed (chain time {now})")
        # Whose signature, off chain first: when it recovers to the signer, the signer signed as
        # an EOA and no node call is needed here (its code, if any, is read below in the same
        # round trip as the nonce and the estimate). Otherwise only a contract signer whose code
        # is on the allowlist can still be the signer, asked by ERC-1271.
        try:
            digest = eip712.fast_digest(action.primary_type, action.message, client.chain.chain_id, registry)
        except ValueError as exc:
            return False, refuse(400, f"malformed signed action: {exc}")
        eoa = eip712.recover_digest(digest, signature) == action.signer
        if not eoa:
            try:
                code = client.code_hash(action.signer)
                if code is not None and code not in policy.wallet_code_hashes:
                    return False, refuse(
                        403,
                        f"signer {action.signer} is a contract whose code is not on this relayer's wallet allowlist; "
                        "submit its *BySig call yourself",
                    )
                if code is None or not client.verify_signature(action, is_contract=True):
                    return False, refuse(400, f"signature is not {action.signer}'s for this {action.action}")
            except CareLedgerError as exc:
                return False, refuse(502, exc.message)
        key, why = _sponsor(action)
        if key is None:
            return False, refuse(403, str(why))
        full, retry = signers.full(action.signer)
        if full:
            return False, refuse(
                429,
                f"rate limit: {signers.limit} actions per {signers.window:.0f} s for {action.signer}",
                {"Retry-After": str(max(1, round(retry)))},
            )
        if _balance() < policy.balance_floor:
            return False, refuse(503, "the relayer's balance is below its floor: sponsoring is paused")
        # One round trip for the rest (a JSON-RPC batch): the nonce the registry will hash with,
        # the node's estimate (the registry's own checks, simulated), and an EOA signer's code.
        data = calls.action(action)
        reads: list[tuple[str, Sequence[Any]]] = [
            ("eth_call", [nonce_call(action), "latest"]),
            ("eth_estimateGas", [{"from": relayer, "to": registry, "data": data}]),
        ]
        if eoa:
            reads.append(("eth_getCode", [action.signer, "latest"]))
        try:
            replies = node.batch(reads)
        except CareLedgerError as exc:
            return False, refuse(502, exc.message)
        code_reply = replies[2] if eoa else None
        # An EOA signer with code (an EIP-7702 delegated account, say): the registry asks its code.
        if (
            isinstance(code_reply, str)
            and code_reply not in ("0x", "0x0")
            and keccak(bytes.fromhex(code_reply[2:])) not in policy.wallet_code_hashes
        ):
            return False, refuse(
                403,
                f"signer {action.signer} is a contract whose code is not on this relayer's wallet allowlist; "
                "submit its *BySig call yourself",
            )
        if isinstance(replies[0], RpcError) or not isinstance(replies[0], str):
            return False, refuse(502, f"the node could not read the nonce of {action.signer}: {replies[0]}")
        current = int(replies[0], 16)
        if action.nonce != current:
            whose = "the pair's action counter" if action.pair else "the signer's current nonce"
            return False, refuse(400, f"nonce {action.nonce} is not {whose} {current}")
        # Only now, with a signature that is the signer's and its current nonce, does the action
        # take one of the signer's slots (a replayed old signature takes none).
        allowed, retry = signers.allow(action.signer)
        if not allowed:
            return False, refuse(
                429,
                f"rate limit: {signers.limit} actions per {signers.window:.0f} s for {action.signer}",
                {"Retry-After": str(max(1, round(retry)))},
            )
        estimate = replies[1]
        if isinstance(estimate, RpcError):
            return chain_refusal(client.chain.decoder.refusal(estimate.data, f"relay {action.action}"))
        gas = int(str(estimate), 16)
        if gas > policy.max_gas_per_action:
            return False, refuse(
                422, f"this action would cost {gas:,} gas, over the relayer's cap of {policy.max_gas_per_action:,}"
            )
        limit = min(policy.max_gas_per_action, gas + gas // 5)
        pool = patient_wide if key == PATIENT_WIDE else budget
        over = pool.reserve(key, limit)
        if over is not None:
            return False, refuse(429, over, {"Retry-After": str(round(policy.budget_window))})
        try:
            receipt = sender.send(registry, data, limit, f"relay {action.action} signed by {action.signer}")
        except ChainRefused as exc:
            pool.settle(key, limit, limit)  # a mined revert: charge the limit (the receipt is not at hand)
            return chain_refusal(exc)
        except CareLedgerError as exc:
            return False, refuse(502, exc.message)
        used = int(str(receipt["gasUsed"]), 16)
        pool.settle(key, limit, used)
        out: dict[str, Any] = {
            "tx": str(receipt["transactionHash"]),
            "block": int(str(receipt["blockNumber"]), 16),
            "gasUsed": used,
            "action": action.action,
            "sponsor": key,
        }
        if action.action == "grant":
            out["consentId"] = uint_id(consent_id(receipt))
        return True, ExactJSONResponse(out)

    @app.post("/actions")
    def submit(request: Request, body: dict[str, Any]) -> ExactJSONResponse:
        who = client_of(request)
        # Before any node work: a client over its request or failure limit costs a dict lookup.
        cut_off, retry = failures.full(who)
        if cut_off:
            stats["refused"] += 1
            return refuse(
                429,
                f"too many refused requests from {who}: at most {failures.limit} per {failures.window:.0f} s",
                {"Retry-After": str(max(1, round(retry)))},
            )
        allowed, retry = clients.allow(who)
        if not allowed:
            stats["refused"] += 1
            return refuse(
                429,
                f"rate limit: {clients.limit} requests per {clients.window:.0f} s from {who}",
                {"Retry-After": str(max(1, round(retry)))},
            )
        try:
            ok, response = handle(request, body)
        except CareLedgerError as exc:  # the node failed us (unreachable, malformed answer): not the client's fault
            ok, response = False, refuse(502, exc.message)
        if ok:
            stats["accepted"] += 1
        else:
            stats["refused"] += 1
            failures.record(who)
        return response

    app.add_middleware(_Transport, max_body=policy.max_body, max_concurrency=policy.max_concurrency)
    return app
