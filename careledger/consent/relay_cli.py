"""``careledger relay serve``: run the gasless consent relayer (FastAPI + uvicorn)."""

from __future__ import annotations

import click

from careledger.cli.context import AppContext, pass_app
from careledger.cli.params import Bytes32Type

__all__ = ["relay"]


@click.group()
def relay() -> None:
    """Gasless patients: validate EIP-712 signed consent actions and forward them."""


@relay.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to bind (loopback by default; put a TLS proxy in front to expose it).",
)
@click.option("--port", default=8600, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--rate",
    default=10,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Accepted actions per signer per --window seconds.",
)
@click.option("--window", default=60.0, show_default=True, type=click.FloatRange(min=0.001))
@click.option(
    "--org-budget",
    default=20_000_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Gas per hour each organisation sponsors for actions that concern it.",
)
@click.option("--patient-wide-budget", default=5_000_000, show_default=True, type=click.IntRange(min=1))
@click.option("--global-budget", default=200_000_000, show_default=True, type=click.IntRange(min=1))
@click.option("--max-gas", default=200_000, show_default=True, type=click.IntRange(min=21_000))
@click.option(
    "--balance-floor",
    default=10**17,
    show_default=True,
    type=click.IntRange(min=0),
    help="Wei: below this balance the relayer stops sponsoring.",
)
@click.option(
    "--wallet-code-hash",
    "wallet_code_hashes",
    type=Bytes32Type("wallet code hash"),
    multiple=True,
    help="0x keccak256 of an ERC-1271 wallet's code to relay for (repeatable; none by default).",
)
@click.option(
    "--trust-forwarded-for",
    is_flag=True,
    help="Behind a TLS proxy: take the client address from X-Forwarded-For.",
)
@pass_app
def serve(
    app: AppContext,
    host: str,
    port: int,
    rate: int,
    window: float,
    org_budget: int,
    patient_wide_budget: int,
    global_budget: int,
    max_gas: int,
    balance_floor: int,
    wallet_code_hashes: tuple[bytes, ...],
    trust_forwarded_for: bool,
) -> None:
    """Serve POST /actions, GET /nonce/{signer}, GET /health; signs as --account (default: relayer)."""
    from careledger._extras import needs_extra

    with needs_extra("relay", "careledger relay serve"):
        import uvicorn

    from careledger.consent.client import ConsentClient
    from careledger.consent.relay import RateLimiter, RelayPolicy, create_app
    from careledger.devnet import port_in_use
    from careledger.errors import EnvironmentProblem

    hashes = frozenset(wallet_code_hashes)
    policy = RelayPolicy(
        signer_limit=rate,
        window=window,
        org_budget=org_budget,
        patient_wide_budget=patient_wide_budget,
        global_budget=global_budget,
        max_gas_per_action=max_gas,
        balance_floor=balance_floor,
        wallet_code_hashes=hashes,
        trust_forwarded_for=trust_forwarded_for,
    )

    client = ConsentClient(app.signer(default="relayer"), app.deployment())
    if port_in_use(host, port):
        raise EnvironmentProblem(f"port {port} on {host} is already taken; pass --port")
    if client.chain.is_devnet() and client.chain._raw_call("anvil_getAutomine", []) is True:
        click.echo(
            "note: this devnet mines one block per transaction (automine), about 140 relayed grants/s at most; "
            "for the relayer's throughput start it with 'careledger devnet up --block-time 0.02' (docs/consent.md)",
            err=True,
        )
    click.echo(
        f"relay for registry {client.address} on chain {client.chain.chain_id}, signing as {client.me}; "
        f"listening on http://{host}:{port} ({rate} actions per {window:g} s per signer)",
        err=True,
    )
    uvicorn.run(create_app(client, RateLimiter(rate, window), policy), host=host, port=port, log_level="warning")
