"""``careledger index``: follow the chain into a persistent index and ask it for reports.

``sync`` (``--follow`` to keep following), ``status``, ``check`` (the index against on-chain reads),
``reset``, the reports (``disclosures``, ``claims``, ``eob``, ``custody``, ``regulator``, ``epcis``)
and ``serve`` (the HTTP API). ``--db`` is a SQLite file (default ``index/<chainId>.sqlite`` under
the checkout, ``$CARELEDGER_INDEX_DB``) or a ``postgresql://`` URL.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from careledger.cli.context import AppContext, pass_app
from careledger.cli.params import ADDRESS, BATCH, PERIOD

if TYPE_CHECKING:
    from careledger.deployments import Deployment
    from careledger.index.service import IndexService
    from careledger.index.store import Store

__all__ = ["index"]


def _db_option(f: Any) -> Any:
    return click.option(
        "--db",
        envvar="CARELEDGER_INDEX_DB",
        default=None,
        help="SQLite file or postgresql:// URL (default: index/<chainId>.sqlite in the checkout).",
    )(f)


def _offline_option(f: Any) -> Any:
    return click.option(
        "--offline",
        is_flag=True,
        help="Answer even when the node cannot be asked whether the index's tip is still on the chain "
        "(the answer then says tipVerified: false).",
    )(f)


def _open(app: AppContext, db: str | None, *, create: bool = True) -> Store:
    from careledger._paths import project_root
    from careledger.index.store import open_store

    target = db or str(project_root() / "index" / f"{app.chain().chain_id}.sqlite")
    return open_store(target, create=create)


def _deployment(app: AppContext, store: Store, offline: bool) -> Deployment:
    """The suite's deployment, checked against the node; with ``--offline`` and no node, the
    deployments file of the chain the index was built for (unchecked: the answer says so)."""
    import json

    from careledger.deployments import Deployment
    from careledger.errors import NodeUnreachable, SuiteNotDeployed

    try:
        return app.deployment()
    except NodeUnreachable:
        if not offline:
            raise
        chain_id = store.meta().get("chainId")
        path = Deployment.path_for(int(chain_id)) if chain_id else None
        if path is None or not path.is_file():
            raise SuiteNotDeployed(
                "--offline needs the deployments file of the chain the index was built for"
            ) from None
        return Deployment.from_json(json.loads(path.read_text()))


def _service(app: AppContext, db: str | None, offline: bool) -> IndexService:
    from careledger.artifacts import load_artifacts
    from careledger.errors import InvalidInput
    from careledger.index.service import IndexService
    from careledger.rpc import RpcClient

    store = _open(app, db, create=False) if db or not offline else None
    if store is None:  # the default path names the chain id, which only the node can tell
        raise InvalidInput("--offline needs --db (the default index file is named by the node's chain id)")
    deployment = _deployment(app, store, offline)
    return IndexService(store, deployment, load_artifacts(), RpcClient(app.rpc, retries=1), trust_tip=offline)


def _emit_page(app: AppContext, page: Any, human: Any) -> None:
    data = page.to_json()
    app.emit(data, lambda: human(data))


def _write(out: Path | None, text: str) -> None:
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        out.write_text(text)
        click.echo(f"wrote {out}", err=True)


def _next_hint(data: dict[str, Any]) -> None:
    tip = data["indexedTo"]
    click.echo(f"(index at block {tip['block']}{'' if tip['tipVerified'] else ', tip NOT verified'})", err=True)
    if data.get("next"):
        click.echo(f"more: --cursor {data['next']}", err=True)


@click.group()
def index() -> None:
    """A persistent, reorg-safe index of the suite's events, and the reports it serves."""


@index.command("sync")
@_db_option
@click.option(
    "--max-range",
    default=2000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Largest block range per eth_getLogs (narrowed automatically when the node refuses).",
)
@click.option(
    "--confirmations",
    default=0,
    show_default=True,
    type=click.IntRange(0, 10_000),
    help="Stay this many blocks behind the head.",
)
@click.option(
    "--batch-events",
    "batch",
    default=10_000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="While catching up, write consecutive ranges in one transaction of up to this many events (or 1 s).",
)
@click.option("--follow", is_flag=True, help="Keep following the chain until interrupted.")
@click.option("--poll", default=2.0, show_default=True, type=click.FloatRange(min=0.05))
@click.option("--no-derive", is_flag=True, help="Skip updating the derived-state snapshots.")
@pass_app
def sync(
    app: AppContext,
    db: str | None,
    max_range: int,
    confirmations: int,
    batch: int,
    follow: bool,
    poll: float,
    no_derive: bool,
) -> None:
    """Index the chain from where the index stopped (or the suite's deployment) to the head."""
    from careledger.artifacts import load_artifacts
    from careledger.index.derived import derive
    from careledger.index.follower import Follower
    from careledger.rpc import RpcClient

    store = _open(app, db)
    follower = Follower(
        RpcClient(app.rpc),
        store,
        app.deployment(),
        load_artifacts(),
        max_range=max_range,
        confirmations=confirmations,
        batch_events=batch,
    )

    def caught_up() -> None:
        if not no_derive:
            derive(store, follower.decoder)

    try:
        report = follower.sync(follow=follow, poll=poll, caught_up=caught_up)
    except KeyboardInterrupt:
        report = follower.report
    data = report.to_json()
    app.emit(
        data,
        lambda: click.echo(
            f"indexed {data['events']} events in {data['ranges']} ranges up to block {data['cursor']} "
            f"(head {data['head']}, {data['seconds']} s"
            + (f", {len(data['reorgs'])} reorg(s) rolled back" if data["reorgs"] else "")
            + ")"
        ),
    )


@index.command("status")
@_db_option
@pass_app
def status(app: AppContext, db: str | None) -> None:
    """Where the index stands against the chain."""
    store = _open(app, db, create=False)
    cur = store.cursor()
    head = app.chain().w3.eth.block_number
    data = {
        "cursor": None if cur is None else {"block": cur.block, "hash": cur.hash},
        "head": int(head),
        "behind": None if cur is None else int(head) - cur.block,
        "events": store.count_events(),
        "database": store.dialect,
    }
    app.emit(
        data,
        lambda: click.echo(
            f"{data['events']} events, indexed to block {cur.block if cur else '-'} of {head} ({store.dialect})"
        ),
    )


@index.command("check")
@_db_option
@pass_app
def check(app: AppContext, db: str | None) -> None:
    """Compare the index's derived state with on-chain reads (each domain's replay verify)."""
    from careledger.artifacts import load_artifacts
    from careledger.errors import NotVerified
    from careledger.index.derived import check_index

    svc = _service(app, db, False)
    svc.fresh()
    diffs = check_index(app.chain().w3, svc.store, svc.decoder, svc.deployment, load_artifacts())
    ok = not any(diffs.values())
    app.emit(
        {"ok": ok, "diffs": diffs},
        lambda: click.echo("index agrees with the chain" if ok else "\n".join(d for ds in diffs.values() for d in ds)),
    )
    if not ok:
        raise NotVerified("the index disagrees with the chain", reported=True)


@index.command("reset")
@_db_option
@click.option("--yes", is_flag=True, help="Really drop everything in the index (required).")
@pass_app
def reset(app: AppContext, db: str | None, yes: bool) -> None:
    """Empty the index (it is rebuilt from the chain by the next sync)."""
    from careledger.errors import InvalidInput

    if not yes:
        raise InvalidInput("'index reset' drops every stored event and snapshot; pass --yes to do it")
    store = _open(app, db)
    store.reset()
    app.emit({"reset": True}, lambda: click.echo("index emptied"))


def _common(f: Any) -> Any:
    f = click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))(f)
    f = click.option("--cursor", default=None, help="The 'next' of the previous page.")(f)
    return _offline_option(_db_option(f))


@index.command("disclosures")
@click.argument("patients", type=ADDRESS, nargs=-1, required=True)
@click.option("--org", "orgs", type=ADDRESS, multiple=True, help="Only disclosures to this organisation (repeatable).")
@click.option("--period", type=PERIOD, default="", help="START..END, days inclusive (e.g. 2028-01-01..2028-12-31).")
@click.option("--category", "categories", multiple=True, help="Data category, e.g. medication (repeatable).")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(["access", "break-glass", "research"]))
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "fhir"]), default="table", show_default=True)
@click.option("--newest-first", is_flag=True, help="Newest disclosure first (default: oldest first).")
@click.option("--out", type=click.Path(path_type=Path), default=None)
@_common
@pass_app
def disclosures(
    app: AppContext,
    patients: tuple[str, ...],
    orgs: tuple[str, ...],
    period: tuple[int | None, int | None],
    categories: tuple[str, ...],
    kinds: tuple[str, ...],
    fmt: str,
    newest_first: bool,
    out: Path | None,
    limit: int,
    cursor: str | None,
    db: str | None,
    offline: bool,
) -> None:
    """Accounting of disclosures under any of PATIENTS (each of the patient's pseudonyms)."""
    from careledger.exactjson import dumps
    from careledger.index.reports.disclosures import bundle, disclosures, to_csv

    svc = _service(app, db, offline)
    since, until = period
    page = disclosures(
        svc,
        patients,
        organisations=orgs,
        since=since,
        until=until,
        categories=categories,
        kinds=kinds,
        limit=limit,
        cursor=cursor,
        newest_first=newest_first,
    )
    if fmt == "csv":
        _write(out, to_csv(page.items))
        return
    if fmt == "fhir":
        tip = page.indexed_to["block"]
        block = svc.store.block(tip) if tip is not None else None
        _write(
            out,
            dumps(bundle(page.items, svc.chain_id, svc.address("ConsentRegistry"), block.timestamp if block else 0)),
        )
        return

    def human(data: dict[str, Any]) -> None:
        for i in data["items"]:
            click.echo(
                f"{i['time']}  {i['kind']:<11} {i['organisation']}  {i['category'] or '-':<16} "
                f"{i['purpose']:<7} patient {i['patient']}"
            )
        _next_hint(data)

    _emit_page(app, page, human)


@index.command("claims")
@click.argument("insurer", type=ADDRESS)
@click.option("--plan", "plans", multiple=True, type=int)
@click.option("--period", type=PERIOD, default="", help="START..END of submission, days inclusive.")
@click.option("--state", "states", multiple=True)
@_common
@pass_app
def claims(
    app: AppContext,
    insurer: str,
    plans: tuple[int, ...],
    period: tuple[int | None, int | None],
    states: tuple[str, ...],
    limit: int,
    cursor: str | None,
    db: str | None,
    offline: bool,
) -> None:
    """An insurer's claims by state, plan and period, with totals."""
    from careledger.index.reports.claims import insurer_claims

    svc = _service(app, db, offline)
    since, until = period
    page = insurer_claims(
        svc, insurer, plans=plans, since=since, until=until, states=states, limit=limit, cursor=cursor
    )

    def human(data: dict[str, Any]) -> None:
        for c in data["items"]:
            click.echo(
                f"{c['claimId'][:18]}…  plan {c['planId']}  {c['state']:<18} billed {c['billed']:>12}  "
                f"paid {c['paid']:>12}  plan year {c['servicePeriod']}"
            )
        for s, t in data["totals"]["byState"].items():
            click.echo(
                f"  {s:<18} {t['claims']:>6} claims  billed {t['billed']}  approved {t['approved']}  paid {t['paid']}"
            )
        _next_hint(data)

    _emit_page(app, page, human)


@index.command("eob")
@click.argument("members", type=ADDRESS, nargs=-1, required=True)
@click.option("--period", type=PERIOD, default="", help="START..END of submission, days inclusive.")
@_common
@pass_app
def eob(
    app: AppContext,
    members: tuple[str, ...],
    period: tuple[int | None, int | None],
    limit: int,
    cursor: str | None,
    db: str | None,
    offline: bool,
) -> None:
    """A member's explanation of benefits (MEMBERS: each pseudonym of the member)."""
    from careledger.index.reports.claims import member_eob

    svc = _service(app, db, offline)
    since, until = period
    page = member_eob(svc, members, since=since, until=until, limit=limit, cursor=cursor)

    def human(data: dict[str, Any]) -> None:
        for c in data["items"]:
            click.echo(
                f"year {c['servicePeriod']}  {c['state']:<18} billed {c['billed']:>12}  plan pays {c['planPays']:>12}"
                f"  you owe {c['memberOwes'] if c['memberOwes'] is not None else '(not decided)'}"
            )
            for ln in c["lines"]:
                click.echo(f"    {ln['code']:<20} x{ln['units']}  billed {ln['billed']}")
        _next_hint(data)

    _emit_page(app, page, human)


@index.command("custody")
@click.argument("batch", type=BATCH)
@_common
@pass_app
def custody(app: AppContext, batch: bytes, limit: int, cursor: str | None, db: str | None, offline: bool) -> None:
    """A batch's custody trail (BATCH: its 0x batch id, or GTIN/LOT)."""
    from careledger.index.reports.custody import custody_trail

    svc = _service(app, db, offline)
    page = custody_trail(svc, "0x" + batch.hex(), limit=limit, cursor=cursor)

    def human(data: dict[str, Any]) -> None:
        for e in data["items"]:
            click.echo(
                f"{e['time']}  {e['kind']:<18} {e['actor']}"
                + (f" -> {e['counterparty']}" if e.get("counterparty") else "")
                + (f"  qty {e['quantity']}" if e.get("quantity") is not None else "")
            )
        _next_hint(data)

    _emit_page(app, page, human)


@index.command("regulator")
@click.option("--period", type=PERIOD, default="", help="START..END, days inclusive.")
@_common
@pass_app
def regulator(
    app: AppContext,
    period: tuple[int | None, int | None],
    limit: int,
    cursor: str | None,
    db: str | None,
    offline: bool,
) -> None:
    """Recalls, quarantines, voided batches and suspensions in a period."""
    from careledger.index.reports.custody import regulator_view

    svc = _service(app, db, offline)
    since, until = period
    page = regulator_view(svc, since=since, until=until, limit=limit, cursor=cursor)

    def human(data: dict[str, Any]) -> None:
        for e in data["items"]:
            click.echo(
                f"{e['timestamp']}  {e['kind']:<22} {e.get('batchId') or e.get('account')}  {e.get('reason') or ''}"
            )
        click.echo("counts: " + ", ".join(f"{k} {v}" for k, v in sorted(data["counts"].items())), err=True)
        _next_hint(data)

    _emit_page(app, page, human)


@index.command("epcis")
@click.option("--period", type=PERIOD, default="", help="START..END, days inclusive.")
@click.option("--batch", "batches", type=BATCH, multiple=True, help="Only these batches: id or GTIN/LOT (repeatable).")
@click.option("--out", type=click.Path(path_type=Path), default=None)
@_offline_option
@_db_option
@pass_app
def epcis(
    app: AppContext,
    period: tuple[int | None, int | None],
    batches: tuple[bytes, ...],
    out: Path | None,
    db: str | None,
    offline: bool,
) -> None:
    """GS1 EPCIS 2.0 JSON-LD of every custody event in a period."""
    from careledger.exactjson import dumps
    from careledger.index.reports.custody import epcis_export

    svc = _service(app, db, offline)
    since, until = period
    _write(out, dumps(epcis_export(svc, since=since, until=until, batches=["0x" + b.hex() for b in batches])))


@index.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (loopback by default).")
@click.option("--port", default=8700, show_default=True, type=click.IntRange(1, 65535))
@_offline_option
@_db_option
@pass_app
def serve(app: AppContext, host: str, port: int, db: str | None, offline: bool) -> None:
    """Serve the reports over HTTP (GET /health /disclosures /claims/{insurer} /eob /custody/{batch}
    /regulator /epcis). Run 'index sync --follow' beside it to keep the index current."""
    from careledger._extras import needs_extra

    with needs_extra("index", "careledger index serve"):
        import uvicorn

    from careledger.devnet import port_in_use
    from careledger.errors import EnvironmentProblem
    from careledger.index.api import create_app

    svc = _service(app, db, offline)
    if port_in_use(host, port):
        raise EnvironmentProblem(f"port {port} on {host} is already taken; pass --port")
    click.echo(f"index API for chain {svc.chain_id} on http://{host}:{port}", err=True)
    uvicorn.run(create_app(svc), host=host, port=port, log_level="warning")
