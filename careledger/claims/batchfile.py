"""Claims from a file (CSV or JSON), checked row by row, sent in batches, reported per row.

A bad row (malformed, or one the chain would refuse) is reported with its line number and
never stops the good rows: every row is first parsed, then dry-run against the chain
(``eth_call`` as the signer), and only the rows that pass go into ``submitBatch`` calls. If a
batch is refused anyway (the chain moved between check and send), its rows are retried one by
one so each gets its own verdict.

Sending goes through the SDK send path (:mod:`careledger.sender`, via
:class:`careledger.claims.pipeline.ClaimOps`): each batch is an operation whose id is derived
from its claims and journalled before it is broadcast, so an interrupted run, run again, neither
loses a signed batch nor sends one twice.

CSV: one claim (one line item) per row, header
``member,payee,service_date,code,units,billed,unit_id,fhir_claim`` and optionally ``gtin``
(``payee``, ``unit_id`` and ``gtin`` may be empty; ``unit_id`` holds one unit id per package,
separated by ``;``; ``gtin`` is the dispensed product of a drug line; ``service_date`` is
``YYYY-MM-DD``; ``billed`` in token units with decimals, e.g. ``180.00``). JSON: a list of
objects ``{"member", "payee", "serviceDate", "fhirClaim", "lines": [{"code", "units", "billed",
"unitIds", "gtin"}]}``.

Codes and dates are readable in the file and never reach the chain as such: the plan context
(:class:`careledger.claims.keys.PlanContext`, the plan's code key) turns each code into its
plan-keyed digest and each service date into the plan period plus the episode digest.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from eth_typing import HexStr

from careledger.chain import checksum
from careledger.claims.client import MAX_BATCH, ClaimRequest, ClaimsClient
from careledger.claims.keys import PlanContext
from careledger.claims.pipeline import ClaimOps, refusal, sender_for
from careledger.claims.types import ClaimStatus, Line
from careledger.errors import CareLedgerError, ChainRefused, InvalidInput, NodeUnreachable
from careledger.exactjson import dumps, quantity
from careledger.rpc import RpcError
from careledger.sender import Operation, Outcome, Sender, SendIncomplete

__all__ = ["RowResult", "load_rows", "parse_amount", "parse_day", "run_batch_file", "write_results"]

EPOCH = date(1970, 1, 1).toordinal()
CSV_FIELDS = ("member", "payee", "service_date", "code", "units", "billed", "unit_id", "fhir_claim")


def parse_amount(text: str | int | float, decimals: int) -> int:
    """``"180.50"`` -> token units with ``decimals``; refuses negatives and excess precision."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise InvalidInput(f"amount {text!r} is not a number") from None
    if not value.is_finite():
        raise InvalidInput(f"amount {text!r} is not a number")
    units = value.scaleb(decimals)
    if value <= 0 or units != units.to_integral_value():
        raise InvalidInput(f"amount {text!r} must be positive with at most {decimals} decimals")
    if units >= 2**96:
        raise InvalidInput(f"amount {text!r} is too large")
    return int(units)


def parse_day(text: str | int) -> int:
    """``"2026-11-20"`` (or a day number) -> days since 1970-01-01."""
    if isinstance(text, int):
        return text
    try:
        return date.fromisoformat(str(text).strip()).toordinal() - EPOCH
    except ValueError:
        raise InvalidInput(f"date {text!r} is not YYYY-MM-DD") from None


def _bytes32(text: str, what: str) -> bytes:
    t = text.strip()
    if not (t.startswith("0x") and len(t) == 66):
        raise InvalidInput(f"{what} {text!r} must be 0x + 64 hex digits")
    try:
        return bytes.fromhex(t[2:])
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not hex") from None


def _line(obj: dict[str, Any], decimals: int, ctx: PlanContext) -> Line:
    try:
        units = int(str(obj.get("units", 1)).strip())
    except ValueError:
        raise InvalidInput(f"units {obj.get('units')!r} is not a whole number") from None
    if not 1 <= units < 2**32:
        raise InvalidInput(f"units {units} out of range")
    raw_units = obj.get("unitIds") or obj.get("unitId") or obj.get("unit_id") or ""
    texts = raw_units if isinstance(raw_units, list) else str(raw_units).split(";")
    unit_ids = tuple(_bytes32(str(t), "unit id") for t in texts if str(t).strip())
    gtin_text = str(obj.get("gtin") or "").strip()
    if unit_ids and not gtin_text:
        raise InvalidInput("a drug line needs the gtin of the dispensed product")
    try:
        gtin = int(gtin_text) if gtin_text else None
    except ValueError:
        raise InvalidInput(f"gtin {gtin_text!r} is not a number") from None
    return ctx.line(
        str(obj.get("code", "")).strip(), units, parse_amount(obj.get("billed", ""), decimals), gtin, unit_ids
    )


def _request(obj: dict[str, Any], default_payee: str, decimals: int, ctx: PlanContext) -> ClaimRequest:
    member = checksum(str(obj.get("member", "")).strip(), "member")
    payee_text = str(obj.get("payee") or "").strip()
    payee = checksum(payee_text, "payee") if payee_text else default_payee
    day = parse_day(obj.get("serviceDate") or obj.get("service_date") or "")
    fhir = _bytes32(str(obj.get("fhirClaim") or obj.get("fhir_claim") or ""), "FHIR claim commitment")
    raw_lines = obj.get("lines")
    lines = [_line(x, decimals, ctx) for x in raw_lines] if isinstance(raw_lines, list) else [_line(obj, decimals, ctx)]
    return ctx.request(member, payee, day, lines, fhir, int(obj.get("resubmission", 0) or 0))


@dataclass
class RowResult:
    line: int
    claim_id: str | None = None
    status: str = "error"
    amount: int | None = None
    error: str | None = None
    tx: str | None = None
    resumed: bool = False  # already on chain from an earlier (interrupted) run: not sent again

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "claimId": self.claim_id,
            "status": self.status,
            "amount": None if self.amount is None else quantity(self.amount),
            "error": self.error,
            "tx": self.tx,
            "resumed": self.resumed,
        }


def load_rows(
    path: Path, default_payee: str, decimals: int, ctx: PlanContext
) -> list[tuple[int, ClaimRequest | RowResult]]:
    """(line number, request or the error for that row). Line numbers are those of the file."""
    if not path.is_file():
        raise InvalidInput(f"{path} does not exist")
    text = path.read_text(encoding="utf-8", errors="strict")
    out: list[tuple[int, ClaimRequest | RowResult]] = []
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
        if not isinstance(data, list):
            raise InvalidInput(f"{path} must hold a JSON list of claims")
        # Line numbers in JSON: where each object starts.
        starts = _json_object_lines(text, len(data))
        for i, obj in enumerate(data):
            line = starts[i]
            if not isinstance(obj, dict):
                out.append((line, RowResult(line, error="not a JSON object")))
                continue
            out.append((line, _safe(line, _builder(obj, default_payee, decimals, ctx))))
        return out
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or not {"member", "service_date", "code", "billed", "fhir_claim"} <= set(
        reader.fieldnames
    ):
        raise InvalidInput(f"{path}: CSV header must hold {', '.join(CSV_FIELDS)}")
    for row in reader:
        line = reader.line_num
        out.append((line, _safe(line, _builder(dict(row), default_payee, decimals, ctx))))
    return out


def _builder(obj: dict[str, Any], default_payee: str, decimals: int, ctx: PlanContext) -> Callable[[], ClaimRequest]:
    return lambda: _request(obj, default_payee, decimals, ctx)


def _json_object_lines(text: str, count: int) -> list[int]:
    lines: list[int] = []
    depth = 0
    in_str = esc = False
    line = 1
    for ch in text:
        if ch == "\n":
            line += 1
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "[{":
            if depth == 1:
                lines.append(line)
            depth += 1
        elif ch in "]}":
            depth -= 1
    return (lines + [0] * count)[:count]


def _safe(line: int, build: Callable[[], ClaimRequest]) -> ClaimRequest | RowResult:
    try:
        return build()
    except CareLedgerError as exc:
        return RowResult(line, error=exc.message)


def run_batch_file(
    client: ClaimsClient,
    rows: Sequence[tuple[int, ClaimRequest | RowResult]],
    *,
    batch_size: int = MAX_BATCH,
    progress: Callable[[int], None] | None = None,
    sender: Sender | None = None,
) -> list[RowResult]:
    """Check, send and report every row; ``progress(n)`` is called as n rows are done.

    Sends through ``sender`` (default: one for the client's signer with the chain's default
    journal): each batch is one idempotent operation whose id is derived from its claims."""
    if not 1 <= batch_size <= MAX_BATCH:
        raise InvalidInput(f"batch size must be 1..{MAX_BATCH}")
    sender = sender or sender_for(client)
    ops = ClaimOps(client)
    # What an interrupted run signed but the chain has not mined is finished first (re-sent with
    # its original nonce and bytes), so those rows show below as already on chain.
    try:
        sender.repair()
    except SendIncomplete as exc:
        raise NodeUnreachable(exc.message) from None
    results: dict[int, RowResult] = {}
    good: list[tuple[int, ClaimRequest]] = []
    seen: dict[bytes, int] = {}
    for line, item in rows:
        if isinstance(item, RowResult):
            results[line] = item
            _tick(progress)
            continue
        cid = item.claim_id
        if cid in seen:
            results[line] = RowResult(line, "0x" + cid.hex(), error=f"DuplicateClaim (same claim as line {seen[cid]})")
            _tick(progress)
            continue
        seen[cid] = line
        # Resume after Ctrl-C or a crash: a claim id is derived from the claim's content, so a
        # row already on chain (and not withdrawn) is reported as it stands, never sent twice.
        on_chain = client.status(cid)
        if on_chain not in (ClaimStatus.NONE, ClaimStatus.WITHDRAWN):
            results[line] = RowResult(line, "0x" + cid.hex(), on_chain.name, resumed=True)
            _tick(progress)
            continue
        try:
            client.check_submit(item)
        except ChainRefused as exc:
            results[line] = RowResult(line, "0x" + cid.hex(), error=exc.error_name or exc.message)
            _tick(progress)
            continue
        good.append((line, item))
    for start in range(0, len(good), batch_size):
        chunk = good[start : start + batch_size]
        outcome = _send(client, sender, ops.submit_batch([req for _, req in chunk]))
        if isinstance(outcome, Outcome) and outcome.ok:
            receipt = client.chain.w3.eth.get_transaction_receipt(HexStr(outcome.tx_hash))
            for line, req in chunk:
                res = client._result(req.claim_id, receipt)
                results[line] = RowResult(line, "0x" + res.claim_id.hex(), res.status.name, res.amount, tx=res.tx)
                _tick(progress)
            continue
        for line, req in chunk:  # refused or reverted as a batch: one by one, each gets its own verdict
            one = _send(client, sender, ops.submit_one(req))
            if isinstance(one, Outcome) and one.ok:
                receipt = client.chain.w3.eth.get_transaction_receipt(HexStr(one.tx_hash))
                res = client._result(req.claim_id, receipt)
                results[line] = RowResult(line, "0x" + res.claim_id.hex(), res.status.name, res.amount, tx=res.tx)
            elif isinstance(one, Outcome):
                results[line] = RowResult(
                    line, "0x" + req.claim_id.hex(), error=f"transaction {one.tx_hash} reverted", tx=one.tx_hash
                )
            else:
                results[line] = RowResult(line, "0x" + req.claim_id.hex(), error=one.error_name or one.message)
            _tick(progress)
    return [results[line] for line, _ in rows]


def _send(client: ClaimsClient, sender: Sender, op: Operation) -> Outcome | ChainRefused:
    """One operation through the sender: its outcome, or the chain's refusal at estimation."""
    try:
        return sender.submit([op])[0]
    except RpcError as exc:
        return refusal(client, exc, "submit claims")
    except SendIncomplete as exc:
        raise NodeUnreachable(exc.message) from None


def _tick(progress: Callable[[int], None] | None) -> None:
    if progress is not None:
        progress(1)


def write_results(path: Path, results: Sequence[RowResult]) -> None:
    """Per-row results as CSV (or JSON when ``path`` ends in .json)."""
    if path.suffix.lower() == ".json":
        path.write_text(dumps([r.to_json() for r in results]) + "\n")
        return
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["line", "claimId", "status", "amount", "error", "tx", "resumed"])
        w.writeheader()
        for r in results:
            w.writerow(r.to_json())
