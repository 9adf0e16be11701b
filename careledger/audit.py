"""Proof that no health data reached the chain.

:func:`scan_chain` reads everything a chain holds (every transaction's calldata, every event's
topics and data, every contract's storage via ``anvil_dumpState``) and looks for each sensitive
string in the encodings it could take there:

- plain: UTF-8 bytes (as in packed bytes and left-aligned ``bytes32``), upper and lower case,
  UTF-16;
- hex: the UTF-8 bytes written out as hexadecimal text (lower and upper case), as a careless
  client passing ``"0x4d61..."`` in a string field would put them;
- ABI-encoded: the ``string`` encoding (length word, then the bytes padded to 32), the
  ``bytes32`` encoding of a short value, and, for a date (``YYYY-MM-DD``), the ``uint256`` words
  of its day number, its unix time and ``YYYYMMDD``;
- the unsalted keccak256 of the string (an unsalted hash of a name or a date of birth is
  reversible by dictionary, so a commitment must be salted; an indexed ``string`` topic is one).

Storage is scanned slot by slot and, per contract, over each run of consecutive slots joined
together, so a long string (a ``bytes``/``string`` value or an array, laid out over consecutive
slots) is found as a whole.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from careledger.errors import InvalidInput
from careledger.rpc import RpcClient, RpcError

__all__ = [
    "ConsentEdge",
    "DateHit",
    "LinkHit",
    "PhiHit",
    "ScanReport",
    "chain_links",
    "code_needles",
    "dates_in",
    "find_links",
    "load_code_list",
    "needles",
    "scan_chain",
    "scan_codes",
    "scan_dates",
]


@dataclass(frozen=True)
class PhiHit:
    label: str
    encoding: str
    where: str

    def __str__(self) -> str:
        return f"{self.label} ({self.encoding}) in {self.where}"


@dataclass
class ScanReport:
    blocks: int
    transactions: int
    logs: int
    storage_slots: int
    bytes_scanned: int
    hits: list[PhiHit]


def _word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def needles(label: str, value: str) -> list[tuple[str, str, bytes]]:
    """(label, encoding, bytes) to look for, for one sensitive value."""
    raw = value.encode()
    out = [
        (label, "utf8", raw),
        (label, "utf8-upper", value.upper().encode()),
        (label, "utf8-lower", value.lower().encode()),
        (label, "utf16le", value.encode("utf-16-le")),
        (label, "hex", raw.hex().encode()),
        (label, "hex-upper", raw.hex().upper().encode()),
        # abi.encode(value) less its head (the offset word, which depends on the other arguments)
        (label, "abi-string", abi_encode(["string"], [value])[32:]),
        (label, "keccak-unsalted", keccak(raw)),
    ]
    if len(raw) <= 32:
        out.append((label, "abi-bytes32", raw.ljust(32, b"\0")))
    try:
        day = dt.date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        day = None
    if day is not None:
        days = day.toordinal() - dt.date(1970, 1, 1).toordinal()
        out += [
            (label, "abi-uint-days", _word(days % 2**256)),
            (label, "abi-uint-unix", _word((days * 86_400) % 2**256)),
            (label, "abi-uint-yyyymmdd", _word(day.year * 10_000 + day.month * 100 + day.day)),
        ]
    seen: set[bytes] = set()
    unique = []
    for item in out:  # "1984-03-12" is its own upper case: report each match once
        if item[2] not in seen:
            seen.add(item[2])
            unique.append(item)
    return unique


def _hexbytes(value: str | None) -> bytes:
    if not value or value == "0x":
        return b""
    text = value[2:] if value.startswith("0x") else value
    if len(text) % 2:
        text = "0" + text
    return bytes.fromhex(text)


def _storage_blobs(rpc: RpcClient) -> tuple[int, list[tuple[str, bytes]]]:
    try:
        dump = rpc.call("anvil_dumpState")
    except RpcError:
        return 0, []
    state = json.loads(gzip.decompress(_hexbytes(dump)))
    blobs: list[tuple[str, bytes]] = []
    slots = 0
    for address, account in (state.get("accounts") or {}).items():
        raw = account.get("storage") or {}
        storage = {int(slot, 16): _hexbytes(value).rjust(32, b"\0") for slot, value in raw.items()}
        slots += len(storage)
        # One blob per run of consecutive slots: a value laid out over several slots is whole.
        run: list[int] = []
        for slot in sorted(storage):
            if run and slot != run[-1] + 1:
                blobs.append(_run_blob(address, run, storage))
                run = []
            run.append(slot)
        if run:
            blobs.append(_run_blob(address, run, storage))
    return slots, blobs


def _run_blob(address: str, run: list[int], storage: dict[int, bytes]) -> tuple[str, bytes]:
    where = f"storage {address}[{run[0]:#x}]" if len(run) == 1 else f"storage {address}[{run[0]:#x}..{run[-1]:#x}]"
    return where, b"".join(storage[s] for s in run)


@dataclass(frozen=True)
class _Blob:
    where: str
    data: bytes
    contract: str  # lower-case address the calldata was sent to / the event came from ("" for storage)
    time: int  # block time of the transaction (0 for storage)


def _collect(rpc: RpcClient) -> tuple[int, int, int, int, list[_Blob]]:
    """(blocks, transactions, logs, storage slots, blobs) of everything the chain holds."""
    head = int(rpc.call("eth_blockNumber"), 16)
    blobs: list[_Blob] = []
    txs = logs = 0
    blocks = rpc.batch([("eth_getBlockByNumber", [hex(n), True]) for n in range(head + 1)], chunk=200)
    hashes: list[str] = []
    times: dict[str, int] = {}
    for block in blocks:
        for tx in block.get("transactions", []):
            txs += 1
            hashes.append(tx["hash"])
            times[tx["hash"]] = int(block["timestamp"], 16)
            to = (tx.get("to") or "").lower()
            blobs.append(_Blob(f"calldata {tx['hash']}", _hexbytes(tx.get("input")), to, times[tx["hash"]]))
    for receipt in rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes], chunk=200):
        for log in receipt.get("logs", []):
            logs += 1
            where = f"event {log['address']} tx {log['transactionHash']}"
            data = b"".join(_hexbytes(t) for t in log.get("topics", [])) + _hexbytes(log.get("data"))
            blobs.append(_Blob(where, data, log["address"].lower(), times.get(log["transactionHash"], 0)))
    slots, storage = _storage_blobs(rpc)
    blobs.extend(_Blob(where, data, where.split()[1].split("[")[0].lower(), 0) for where, data in storage)
    return head + 1, txs, logs, slots, blobs


def scan_chain(rpc: RpcClient, sensitive: dict[str, str]) -> ScanReport:
    """Scan the whole chain behind ``rpc`` for the ``sensitive`` values (label -> value)."""
    patterns = [n for label, value in sensitive.items() for n in needles(label, value)]
    blocks, txs, logs, slots, blobs = _collect(rpc)
    hits = _find(patterns, [(b.where, b.data) for b in blobs])
    return ScanReport(blocks, txs, logs, slots, sum(len(b.data) for b in blobs), hits)


def _find(patterns: Iterable[tuple[str, str, bytes]], blobs: list[tuple[str, bytes]]) -> list[PhiHit]:
    hits: list[PhiHit] = []
    pats = list(patterns)
    for where, blob in blobs:
        for label, encoding, needle in pats:
            if needle and needle in blob:
                hits.append(PhiHit(label, encoding, where))
    return hits


# ---------------------------------------------------------------------- linkage (issue #15)


@dataclass(frozen=True)
class LinkHit:
    """A non-organisation address that joins relationships the chain should keep apart."""

    address: str
    kind: str  # "two-organisations" or "consent-and-claims"
    counterparties: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.address} links {', '.join(self.counterparties)} ({self.kind})"


@dataclass(frozen=True)
class ConsentEdge:
    """One consent grant as the chain shows it: ``patient`` (a pseudonym) to ``grantee``."""

    patient: str
    grantee: str
    purposes: int


_HPAYMT_ONLY = 1 << 1  # Purpose.HPAYMT: a payment consent belongs to the plan relationship


def find_links(
    consents: Iterable[ConsentEdge], claim_members: Iterable[str], organisations: Iterable[str]
) -> list[LinkHit]:
    """Addresses that link a person's relationships (PRIVACY.md, "Linkage"):

    - a non-organisation address with consents to two organisations, payment consents aside;
    - a non-organisation address with a (non-payment) consent and a claim as a member.

    A payment consent (purposes exactly HPAYMT) is the plan pseudonym letting a provider bill
    the plan: that address is expected in claims and in payment consents to several providers
    (the insurer sees those claims anyway), so it is part of the one plan relationship."""
    orgs = {o.lower() for o in organisations}
    by_patient: dict[str, set[str]] = {}
    for edge in consents:
        p = edge.patient.lower()
        if p in orgs or edge.purposes == _HPAYMT_ONLY:
            continue
        by_patient.setdefault(p, set()).add(edge.grantee.lower())
    hits: list[LinkHit] = []
    for p, grantees in sorted(by_patient.items()):
        if len(grantees) > 1:
            hits.append(LinkHit(p, "two-organisations", tuple(sorted(grantees))))
    members = {m.lower() for m in claim_members} - orgs
    for p in sorted(members & set(by_patient)):
        hits.append(LinkHit(p, "consent-and-claims", (*sorted(by_patient[p]), "claims")))
    return hits


def chain_links(w3: Any, deployment: Any, artifacts: Any) -> list[LinkHit]:
    """:func:`find_links` over what a chain shows: every ``ConsentGranted`` of the consent
    registry, every ``member`` of a claims event, and every organisation of the directory."""
    from web3 import Web3

    def logs(name: str, event: str) -> list[Any]:
        entry = deployment.contracts.get(name)
        if entry is None:
            return []
        contract = w3.eth.contract(address=Web3.to_checksum_address(entry.address), abi=artifacts[name].abi)
        return list(getattr(contract.events, event)().get_logs(from_block=entry.block))

    organisations = [str(e["args"]["account"]) for e in logs("ParticipantDirectory", "ParticipantRegistered")]
    consents = [
        ConsentEdge(str(e["args"]["patient"]), str(e["args"]["grantee"]), int(e["args"]["purposes"]))
        for e in logs("ConsentRegistry", "ConsentGranted")
    ]
    members: list[str] = []
    claims = deployment.contracts.get("ClaimSettlement")
    if claims is not None:
        for item in artifacts["ClaimSettlement"].abi:
            if item.get("type") == "event" and any(i["name"] == "member" for i in item["inputs"]):
                members += [str(e["args"]["member"]) for e in logs("ClaimSettlement", item["name"])]
    return find_links(consents, members, organisations)


# ---------------------------------------------------------------------------- service codes (#13)
#
# A service code (CPT, HCPCS, NDC, ICD...) tied to a member is health data. The public code lists
# are small (about 10^4 CPT codes), so an unsalted hash of a code is as good as the code: the
# detector below hashes every code of a list in each way a contract or client might have, and
# looks for the result as it looks for a name. Only a keyed digest (the plan's code key) or a
# salted commitment escapes it, which is the point.


def load_code_list(path: Path) -> list[str]:
    """Codes of a public code list file: ``{"codes": ["CPT:99213", ...]}`` (exact JSON)."""
    doc = json.loads(path.read_text())
    codes = doc.get("codes") if isinstance(doc, dict) else None
    if not isinstance(codes, list) or not all(isinstance(c, str) and ":" in c for c in codes):
        raise InvalidInput(f'{path}: expected {{"codes": ["SYSTEM:CODE", ...]}}')
    return list(codes)


def code_needles(code: str) -> list[tuple[str, str, bytes]]:
    """(label, encoding, bytes) for one service code ``SYSTEM:CODE``: the code in clear (with and
    without its system), as hex text, ABI ``string``/``bytes32``, and its unsalted keccak256 in
    every form a careless digest takes (of the text, of the bare code, of the zero-padded
    ``bytes32`` as ``keccak256(abi.encodePacked(bytes32))`` gives, of ``abi.encode(string)``)."""
    system, _, bare = code.partition(":")
    label = f"code {code}"
    full = code.encode()
    out = [(label, enc, needle) for _, enc, needle in needles(label, code) if enc != "utf16le"]
    out += [
        (label, "utf8-bare", bare.encode()),
        (label, "keccak-unsalted-bare", keccak(bare.encode())),
        (label, "keccak-unsalted-bytes32", keccak(full.ljust(32, b"\0"))),
        (label, "keccak-unsalted-abi-string", keccak(abi_encode(["string"], [code]))),
    ]
    if system.upper() == "NDC":  # NDCs are also written without hyphens
        plain = bare.replace("-", "")
        out += [
            (label, "utf8-ndc-digits", plain.encode()),
            (label, "keccak-unsalted-ndc-digits", keccak(plain.encode())),
        ]
    seen: set[bytes] = set()
    unique = []
    for item in out:  # shorter than 5 bytes would match by chance in any binary blob
        if len(item[2]) >= 5 and item[2] not in seen:
            seen.add(item[2])
            unique.append(item)
    return unique


def scan_codes(rpc: RpcClient, codes: Iterable[str]) -> ScanReport:
    """Scan the whole chain for every code of ``codes`` in each form of :func:`code_needles`."""
    patterns = [n for code in codes for n in code_needles(code)]
    blocks, txs, logs, slots, blobs = _collect(rpc)
    hits = _find(patterns, [(b.where, b.data) for b in blobs])
    return ScanReport(blocks, txs, logs, slots, sum(len(b.data) for b in blobs), hits)


# ---------------------------------------------------------------------------- dates tied to people (#13)
#
# A day number, a unix time or a YYYYMMDD close to the time a transaction was mined, in the same
# calldata or event as the address of someone who is not an organisation, is a date of service,
# of birth, of dispensing... tied to that person (HIPAA Safe Harbor counts every date element but
# the year). The block's own time is not scanned: it is in every block and tells when a
# transaction was sent, not when care happened.


@dataclass(frozen=True)
class DateHit:
    form: str  # "day-number", "unix-time" or "yyyymmdd"
    value: int
    address: str  # the non-organisation address in the same calldata/event
    where: str

    def __str__(self) -> str:
        return f"{self.form} {self.value} next to {self.address} in {self.where}"


def _words(blob: _Blob) -> list[int]:
    """The 32-byte words of a blob as the ABI lays them out: calldata past its 4-byte selector,
    event topics and data and storage from their start. (Reading at other offsets would take
    the top bytes of a hash for a small number: false dates.)"""
    data = blob.data[4:] if blob.where.startswith("calldata") else blob.data
    return [int.from_bytes(data[i : i + 32], "big") for i in range(0, len(data) - 31, 32)]


def dates_in(data: bytes, at: int, window_days: int = 400) -> list[tuple[str, int]]:
    """(form, value) of each 32-byte word of ``data`` (ABI-aligned from its start) that reads as a
    date near time ``at``."""
    blob = _Blob("data", data, "", at)
    return [(f, w) for w in _words(blob) if (f := _date_form(w, at, window_days)) is not None]


def _date_form(word: int, at: int, window: int) -> str | None:
    day = at // 86_400
    if day - window <= word <= day + 1:
        return "day-number"
    if at - window * 86_400 <= word <= at + 86_400:
        return "unix-time"
    if 19_000_000 <= word <= 30_000_000:
        try:
            when = dt.date(word // 10_000, word // 100 % 100, word % 100)
        except ValueError:
            return None
        if abs((when - dt.datetime.fromtimestamp(at, dt.UTC).date()).days) <= window:
            return "yyyymmdd"
    return None


def _address_of(word: int) -> str | None:
    # An address word: 20 significant bytes (a small number is a count or an amount, not an address).
    return f"0x{word:040x}" if 2**120 <= word < 2**160 else None


def scan_dates(
    rpc: RpcClient,
    organisations: Iterable[str],
    *,
    contracts: Iterable[str] | None = None,
    window_days: int = 400,
) -> list[DateHit]:
    """Dates within ``window_days`` before the block (or a day after it) in calldata and events
    that also carry an address not in ``organisations`` (the directory's participants, the
    contracts). ``contracts``: scan only calldata to and events from these addresses."""
    orgs = {a.lower() for a in organisations} | {"0x" + "00" * 20}
    only = {a.lower() for a in contracts} if contracts is not None else None
    hits: list[DateHit] = []
    for blob in _collect(rpc)[4]:
        if blob.time == 0 or (only is not None and blob.contract not in only):
            continue
        words = _words(blob)
        people = [a for a in (_address_of(w) for w in words) if a is not None and a not in orgs]
        if not people:
            continue
        for w in words:
            form = _date_form(w, blob.time, window_days)
            if form is not None:
                hits.append(DateHit(form, w, people[0], blob.where))
    return hits
