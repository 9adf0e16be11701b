"""``careledger claims ...``: plans, enrolment, pool, claims, review, payouts, FHIR export.

Amounts are given in token units with decimals (``180.00`` dtUSD), dates as ``YYYY-MM-DD``
(UTC), claim ids as 0x + 64 hex digits. Every command prints JSON with ``--json``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from careledger.cli.context import AppContext, pass_app
from careledger.errors import InvalidInput
from careledger.exactjson import dumps, quantity

__all__ = ["claims"]

DEFAULT_PLAN_OPTS = "covered"


def _client(app: AppContext, default: str) -> Any:
    from careledger.claims.client import ClaimsClient

    return ClaimsClient(app.signer(default=default), app.deployment())


def _reader(app: AppContext) -> Any:
    from careledger.claims.client import ClaimsClient

    return ClaimsClient(app.chain(), app.deployment())


def _decimals(client: Any) -> int:
    return int(client.chain.call(client.token.functions.decimals(), "token decimals"))


def _claim_id(text: str) -> bytes:
    t = text.strip()
    if not (t.startswith("0x") and len(t) == 66):
        raise InvalidInput(f"claim id {text!r} must be 0x + 64 hex digits")
    try:
        return bytes.fromhex(t[2:])
    except ValueError:
        raise InvalidInput(f"claim id {text!r} is not hex") from None


def _fmt(units: int, decimals: int) -> str:
    from decimal import Decimal

    return f"{Decimal(units).scaleb(-decimals):f}"


def _parse_rule(text: str, decimals: int) -> tuple[bytes, Any]:
    """``CPT:99213=coins=2000,copay=20`` -> (code, CoverageRule)."""
    from careledger.claims.batchfile import parse_amount
    from careledger.claims.types import CoverageRule, service_code

    code_text, _, opts = text.partition("=")
    code = service_code(code_text)
    covered, pre_auth, unit, coins, copay, cap = True, False, False, 0, 0, 0
    for opt in filter(None, (o.strip() for o in (opts or DEFAULT_PLAN_OPTS).split(","))):
        key, _, value = opt.partition("=")
        if key == "covered":
            covered = True
        elif key == "not-covered":
            covered = False
        elif key == "preauth":
            pre_auth = True
        elif key == "unit":
            unit = True
        elif key == "coins" and value.isdigit() and int(value) <= 10_000:
            coins = int(value)
        elif key == "copay" and value:
            copay = parse_amount(value, decimals)
        elif key == "max-per-unit" and value:
            cap = parse_amount(value, decimals)
        else:
            raise InvalidInput(
                f"rule option {opt!r} in {text!r} is not one of covered, not-covered, preauth, unit, "
                "coins=BPS (0..10000), copay=AMOUNT, max-per-unit=AMOUNT"
            )
    return code, CoverageRule(covered, pre_auth, unit, coins, copay, cap)


def _parse_line(text: str, decimals: int) -> Any:
    """``CODE,UNITS,AMOUNT[,UNIT_ID]`` -> Line."""
    from careledger.claims.batchfile import _line

    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (3, 4):
        raise InvalidInput(f"line {text!r} must be CODE,UNITS,AMOUNT[,UNIT_ID]")
    return _line(
        {"code": parts[0], "units": parts[1], "billed": parts[2], "unitId": parts[3] if len(parts) == 4 else ""},
        decimals,
    )


def _tx(receipt: Any) -> dict[str, Any]:
    return {
        "tx": receipt["transactionHash"].to_0x_hex(),
        "block": int(receipt["blockNumber"]),
        "gasUsed": int(receipt["gasUsed"]),
    }


@click.group()
def claims() -> None:
    """Insurance claims: plans, enrolment, pool, submission, review, payouts, FHIR export."""


@claims.command()
@click.option("--deductible", required=True, help="Per member and coverage period (e.g. 100.00).")
@click.option("--annual-max", required=True, help="Most the plan pays per member and period.")
@click.option("--auto-approve", "auto_approve", required=True, help="Claims billing at most this settle unreviewed.")
@click.option("--appeal-days", type=click.IntRange(0, 365), default=30, show_default=True)
@click.option("--rule", "rules", multiple=True, help="CODE=OPTS, e.g. CPT:99213=coins=2000,copay=20 (repeatable).")
@pass_app
def plan(
    app: AppContext, deductible: str, annual_max: str, auto_approve: str, appeal_days: int, rules: tuple[str, ...]
) -> None:
    """Create a plan (as the insurer) and set its coverage rules."""
    from careledger.claims.batchfile import parse_amount
    from careledger.claims.types import PlanTerms

    client = _client(app, "insurer")
    d = _decimals(client)
    table = dict(_parse_rule(r, d) for r in rules)
    terms = PlanTerms(
        parse_amount(deductible, d), parse_amount(annual_max, d), parse_amount(auto_approve, d), appeal_days * 86_400
    )
    plan_id, receipt = client.create_plan(terms)
    out: dict[str, Any] = {"planId": plan_id, **_tx(receipt), "rules": len(table)}
    if table:
        out["coverageTx"] = _tx(client.set_coverage(plan_id, table))["tx"]
    app.emit(out, lambda: click.echo(f"plan {plan_id} created with {len(table)} coverage rule(s)"))


@claims.command()
@click.argument("plan_id", type=int)
@click.argument("member")
@click.option("--record", required=True, help="Commitment to the member record (0x + 64 hex).")
@click.option("--start", required=True, help="First covered day, YYYY-MM-DD.")
@click.option("--end", required=True, help="Last covered day, YYYY-MM-DD.")
@pass_app
def enrol(app: AppContext, plan_id: int, member: str, record: str, start: str, end: str) -> None:
    """Enrol MEMBER (a pseudonymous address) in PLAN_ID."""
    from careledger.claims.batchfile import _bytes32, parse_day

    client = _client(app, "insurer")
    n, receipt = client.enrol(plan_id, member, _bytes32(record, "record commitment"), parse_day(start), parse_day(end))
    app.emit({"enrolment": n, **_tx(receipt)}, lambda: click.echo(f"{member} enrolled in plan {plan_id} (#{n})"))


@claims.command()
@click.argument("plan_id", type=int)
@click.argument("amount")
@click.option("--mint", is_flag=True, help="Devnet only: mint the test tokens first.")
@pass_app
def fund(app: AppContext, plan_id: int, amount: str, mint: bool) -> None:
    """Fund PLAN_ID's pool with AMOUNT tokens (as the insurer)."""
    from careledger.claims.batchfile import parse_amount

    client = _client(app, "insurer")
    units = parse_amount(amount, _decimals(client))
    if mint:
        client.mint_test_tokens(client.chain._require_account().address, units)
    receipt = client.fund(plan_id, units)
    pool = client.pool(plan_id)
    app.emit(
        {**_tx(receipt), "pool": pool.to_json()},
        lambda: click.echo(f"pool of plan {plan_id}: funded {pool.funded}, owed {pool.owed}, free {pool.free}"),
    )


@claims.command()
@click.option("--member", required=True)
@click.option("--day", "service_date", required=True, help="Service date, YYYY-MM-DD.")
@click.option("--line", "lines", multiple=True, required=True, help="CODE,UNITS,AMOUNT[,UNIT_ID] (repeatable).")
@click.option("--fhir-claim", required=True, help="Commitment to the off-chain FHIR Claim (0x + 64 hex).")
@click.option("--payee", default=None, help="Default: the signer (a provider or pharmacy).")
@click.option("--resubmission", type=click.IntRange(0, 65_535), default=0)
@pass_app
def submit(
    app: AppContext,
    member: str,
    service_date: str,
    lines: tuple[str, ...],
    fhir_claim: str,
    payee: str | None,
    resubmission: int,
) -> None:
    """Submit one claim (as a provider, pharmacy, or the insurer for the member)."""
    from careledger.chain import checksum
    from careledger.claims.batchfile import _bytes32, parse_day
    from careledger.claims.client import ClaimRequest

    client = _client(app, "clinic")
    d = _decimals(client)
    me = client.chain._require_account().address
    req = ClaimRequest(
        checksum(member, "member"),
        checksum(payee) if payee else me,
        parse_day(service_date),
        tuple(_parse_line(x, d) for x in lines),
        _bytes32(fhir_claim, "FHIR claim commitment"),
        resubmission,
    )
    res = client.submit(req)
    app.emit(
        res.to_json(),
        lambda: click.echo(f"claim 0x{res.claim_id.hex()}: {res.status.name}, pays {_fmt(res.amount, d)}"),
    )


@claims.command("submit-batch")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="Per-row results (default FILE.results.csv)."
)
@click.option("--batch-size", type=click.IntRange(1, 100), default=100, show_default=True)
@pass_app
def submit_batch(app: AppContext, file: Path, out: Path | None, batch_size: int) -> None:
    """Submit the claims of a CSV/JSON FILE in batches; bad rows are reported, not fatal."""
    from rich.progress import Progress

    from careledger.claims.batchfile import load_rows, run_batch_file, write_results

    client = _client(app, "clinic")
    rows = load_rows(file, client.chain._require_account().address, _decimals(client))
    with Progress(transient=True, disable=app.json_output) as bar:
        task = bar.add_task(f"claims from {file.name}", total=len(rows))
        results = run_batch_file(client, rows, batch_size=batch_size, progress=lambda n: bar.advance(task, n))
    target = out or file.with_name(file.name + ".results.csv")
    write_results(target, results)
    resumed = sum(1 for r in results if r.resumed)
    ok = sum(1 for r in results if r.error is None and not r.resumed)
    summary = {
        "rows": len(results),
        "submitted": ok,
        "alreadyOnChain": resumed,
        "refused": len(results) - ok - resumed,
        "results": str(target),
        "errors": [{"line": r.line, "error": r.error} for r in results if r.error],
    }

    def human() -> None:
        click.echo(f"{ok} of {len(results)} rows submitted; results in {target}")
        if resumed:
            click.echo(f"{resumed} rows were already on chain from an earlier run (not sent again)")
        for r in results:
            if r.error:
                click.echo(f"  line {r.line}: {r.error}")

    app.emit(summary, human)


@claims.command()
@click.argument("claim_id")
@pass_app
def adjudicate(app: AppContext, claim_id: str) -> None:
    """Adjudicate a queued claim by the rules (once the pool can cover it)."""
    client = _client(app, "insurer")
    receipt = client.adjudicate(_claim_id(claim_id))
    status = client.status(_claim_id(claim_id))
    app.emit({**_tx(receipt), "status": status.name}, lambda: click.echo(f"claim {claim_id}: {status.name}"))


@claims.command()
@click.argument("claim_id")
@click.option("--approve", "decision", flag_value="approve", help="Pay what the rules compute.")
@click.option("--partial", "partial", default=None, help="Pay this amount (less than the rules compute).")
@click.option("--deny", "decision", flag_value="deny")
@click.option("--reason", type=click.IntRange(0, 999), default=0, help="X12 CARC (required to deny or reduce).")
@pass_app
def review(app: AppContext, claim_id: str, decision: str | None, partial: str | None, reason: int) -> None:
    """Decide a claim in review (as the insurer or its adjuster)."""
    from careledger.claims.batchfile import parse_amount
    from careledger.claims.types import Decision

    if (decision is None) == (partial is None):
        raise InvalidInput("give exactly one of --approve, --partial AMOUNT, --deny")
    client = _client(app, "insurer")
    cid = _claim_id(claim_id)
    if partial is not None:
        receipt = client.review(cid, Decision.PARTIALLY_APPROVE, parse_amount(partial, _decimals(client)), reason)
    else:
        receipt = client.review(cid, Decision.APPROVE if decision == "approve" else Decision.DENY, 0, reason)
    status = client.status(cid)
    app.emit({**_tx(receipt), "status": status.name}, lambda: click.echo(f"claim {claim_id}: {status.name}"))


@claims.command()
@click.argument("claim_id")
@pass_app
def withdraw(app: AppContext, claim_id: str) -> None:
    """Withdraw a claim before a decision (payee or the plan's insurer)."""
    receipt = _client(app, "clinic").withdraw(_claim_id(claim_id))
    app.emit(_tx(receipt), lambda: click.echo(f"claim {claim_id} withdrawn"))


@claims.command()
@click.argument("claim_id")
@pass_app
def appeal(app: AppContext, claim_id: str) -> None:
    """Appeal a denied claim (once, within the plan's window)."""
    receipt = _client(app, "clinic").appeal(_claim_id(claim_id))
    app.emit(_tx(receipt), lambda: click.echo(f"claim {claim_id} appealed: back in review"))


@claims.command()
@click.argument("claim_ids", nargs=-1, required=True)
@pass_app
def pay(app: AppContext, claim_ids: tuple[str, ...]) -> None:
    """Pay approved claims from the pool (several ids: one batch; a failing payee is skipped)."""
    client = _client(app, "insurer")
    ids = [_claim_id(c) for c in claim_ids]
    if len(ids) == 1:
        receipt = client.pay(ids[0])
        paid = 1
    else:
        paid, receipt = client.pay_batch(ids)
    app.emit(
        {**_tx(receipt), "paid": paid, "deferred": len(ids) - paid},
        lambda: click.echo(f"paid {paid} of {len(ids)} claim(s)"),
    )


@claims.command()
@click.argument("claim_id", required=False)
@click.option("--plan", "plan_id", type=int, default=None, help="Show a plan's terms and pool instead.")
@pass_app
def status(app: AppContext, claim_id: str | None, plan_id: int | None) -> None:
    """Show a claim (rebuilt from its events) or, with --plan, a plan's pool."""
    client = _reader(app)
    if plan_id is not None:
        insurer, terms = client.plan(plan_id)
        if int(insurer, 16) == 0:
            raise InvalidInput(f"no plan {plan_id} on this deployment")
        pool = client.pool(plan_id)
        data = {
            "planId": plan_id,
            "insurer": insurer,
            "terms": {  # token amounts as decimal strings (docs/json.md); the window in seconds
                "deductible": quantity(terms.deductible),
                "annualMax": quantity(terms.annual_max),
                "autoApproveLimit": quantity(terms.auto_approve_limit),
                "appealWindow": terms.appeal_window,
            },
            "pool": pool.to_json(),
        }
        app.emit(data, lambda: click.echo(dumps(data)))
        return
    if claim_id is None:
        raise InvalidInput("give a CLAIM_ID or --plan N")
    info = client.info(_claim_id(claim_id))
    app.emit(
        info.to_json(),
        lambda: click.echo(
            f"claim {claim_id}: {info.status.name}, amount {info.amount}, payee {info.payee}, "
            f"history {' -> '.join(e for e, _ in info.history)}"
        ),
    )


@claims.command("export-fhir")
@click.argument("claim_id")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write to a file (default stdout).")
@pass_app
def export_fhir(app: AppContext, claim_id: str, out: Path | None) -> None:
    """Export the claim's decision as a FHIR R4 ClaimResponse (validated before writing)."""
    from careledger.claims.fhir import claim_response, validate

    client = _reader(app)
    info = client.info(_claim_id(claim_id))
    insurer, _ = client.plan(info.plan_id)
    block = client.chain.w3.eth.get_block(info.history[-1][1]) if info.history else None
    created = datetime.fromtimestamp(int(block["timestamp"]), UTC) if block else None
    resource = claim_response(info, insurer=insurer, decimals=_decimals(client), created=created)
    model = validate(resource)
    text = model.model_dump_json(indent=2)
    if out is not None:
        out.write_text(text + "\n")
        app.emit({"written": str(out), "outcome": resource["outcome"]}, lambda: click.echo(f"wrote {out}"))
    else:
        click.echo(text)
