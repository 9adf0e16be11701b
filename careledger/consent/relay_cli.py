"""``careledger relay serve``: run the gasless consent relayer (FastAPI + uvicorn)."""

from __future__ import annotations

import click

from careledger.cli.context import AppContext, pass_app

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
@pass_app
def serve(app: AppContext, host: str, port: int, rate: int, window: float) -> None:
    """Serve POST /actions, GET /nonce/{signer}, GET /health; signs as --account (default: relayer)."""
    from careledger._extras import needs_extra

    with needs_extra("relay", "careledger relay serve"):
        import uvicorn

    from careledger.consent.client import ConsentClient
    from careledger.consent.relay import RateLimiter, create_app
    from careledger.devnet import port_in_use
    from careledger.errors import EnvironmentProblem

    client = ConsentClient(app.signer(default="relayer"), app.deployment())
    if port_in_use(host, port):
        raise EnvironmentProblem(f"port {port} on {host} is already taken; pass --port")
    click.echo(
        f"relay for registry {client.address} on chain {client.chain.chain_id}, signing as {client.me}; "
        f"listening on http://{host}:{port} ({rate} actions per {window:g} s per signer)",
        err=True,
    )
    uvicorn.run(create_app(client, RateLimiter(rate, window)), host=host, port=port, log_level="warning")
