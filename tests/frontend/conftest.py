"""Browser tests of the web client: a devnet of their own (anvil on a free port, temp folder,
nothing persisted), the suite deployed and seeded, the app built into a temp folder and served by
``vite preview``, driven by the Node Playwright scripts in ``frontend/tests/``.

Screenshots go to ``docs/screenshots/`` (linked from the README and docs/frontend.md) when
``CARELEDGER_SCREENSHOTS=1`` (``make screenshots``); otherwise to a temp folder, so that a test
run leaves the working tree as it found it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from bench.harness import fresh_suite
from careledger._paths import project_root
from careledger.accounts import dev_account
from careledger.chain import Chain
from tools.webapp import WebApp, build_webapp, ensure_chromium, free_port, run_script

SCREENSHOTS = project_root() / "docs" / "screenshots"


@dataclass
class Suite:
    rpc: str
    w3: Web3
    admin: Chain
    folder: Path
    data: dict[str, Any] = field(default_factory=dict)

    def signer(self, name: str) -> Chain:
        return self.admin.with_account(dev_account(name).account)


@pytest.fixture(scope="session")
def chromium() -> str:
    return ensure_chromium()


@pytest.fixture(scope="session")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    """anvil on a free port with the whole landed suite deployed and the cast registered."""
    folder = tmp_path_factory.mktemp("web-suite")
    # Deployments and the provenance store (batch serial trees, from which the web server's
    # proof service answers one unit at a time) live in the temp folder; the server inherits these.
    with fresh_suite(folder, env={"CARELEDGER_PROVENANCE_DIR": str(folder / "provenance")}) as env:
        yield Suite(env.rpc, env.w3, env.signer("admin"), folder)


@pytest.fixture(scope="session")
def relayer_url() -> str:
    """Where the web server proxies /relayer to (the ``relayer`` fixture serves there)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
def index_url() -> str:
    """Where the web server proxies /index-api to (the ``index_api`` fixture serves there)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
def webapp(suite: Suite, chromium: str, relayer_url: str, index_url: str) -> Iterator[WebApp]:
    dist = build_webapp(suite.folder / "web", rpc=suite.rpc)
    # The proof service (POST /proofs) reads the chain the suite runs on.
    with WebApp(
        dist,
        env={"CARELEDGER_RELAYER_URL": relayer_url, "CARELEDGER_RPC": suite.rpc, "CARELEDGER_INDEX_URL": index_url},
    ) as app:
        yield app


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("CARELEDGER_SCREENSHOTS") == "1":
        return SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="session")
def browse(webapp: WebApp, screenshot_dir: Path):  # type: ignore[no-untyped-def]
    """``browse("script.mjs", KEY=value)`` runs a Playwright script against the served app."""

    def _run(script: str, **env: str) -> dict[str, Any]:
        result = run_script(script, {"BASE_URL": webapp.url, "SCREENSHOT_DIR": str(screenshot_dir), **env})
        assert result["pageErrors"] == [], f"uncaught errors on the page: {result['pageErrors']}"
        return result

    return _run


@pytest.fixture(scope="session")
def drugs(suite: Suite) -> dict[str, str]:
    """Two batches in the provenance registry, scans of their units keyed by what they show.

    Lot LOT-A (1,000 units) went manufacturer -> distributor -> pharmacy; lot LOT-R went to the
    distributor and was recalled by the regulator. Their serial trees are in the provenance store.
    """
    from tools.webapp.seed import seed_drugs

    return seed_drugs(suite.admin, suite.folder / "provenance")


@pytest.fixture(scope="session")
def consents(suite: Suite) -> dict[str, Any]:
    """The patient's history: a consent for the lab and one read under it, then the ER's
    break-glass window and an emergency read (sent directly by each party with the SDK's Chain)."""
    from careledger.artifacts import load_artifacts
    from careledger.codes import Category, Purpose
    from careledger.deployments import load_deployment

    abi = load_artifacts()["ConsentRegistry"].abi
    address = load_deployment(suite.w3).address("ConsentRegistry")
    patient, lab, er = (dev_account(n).address for n in ("patient", "lab", "er"))

    def send(name: str, fn: str, *args: Any) -> Any:
        chain = suite.signer(name)
        contract = chain.contract(address, abi)
        return chain.send(getattr(contract.functions, fn)(*args), f"{name} {fn}")

    until = suite.w3.eth.get_block("latest")["timestamp"] + 90 * 86400
    obs, treat = int(Category.OBSERVATION), int(Purpose.TREAT)
    send("patient", "grant", patient, (lab, 1 << obs, 1 << treat, 0, 0, 0, until, b"\x01" * 32))
    registry = suite.w3.eth.contract(address=address, abi=abi)
    consent_id = registry.functions.consentOf(patient, lab).call()[0]
    send("lab", "recordAccess", patient, consent_id, obs, treat, b"\x02" * 32)
    send("er", "breakGlass", patient, int(Purpose.ETREAT), b"\x03" * 32, b"\x05" * 32)
    glass_id = registry.functions.breakGlassOf(patient, er).call()[0]
    send("er", "recordAccess", patient, glass_id, int(Category.ALLERGY), int(Purpose.ETREAT), b"\x04" * 32)
    return {"registry": registry, "address": address}


@pytest.fixture(scope="session")
def relayer(suite: Suite, relayer_url: str) -> Iterator[str]:
    """``careledger relay serve`` (the consent domain's relayer) on the proxied port."""
    from tools.webapp.relay import serve_relayer

    with serve_relayer(suite.rpc, relayer_url) as url:
        yield url


@pytest.fixture
def index_api(suite: Suite, index_url: str, tmp_path: Path) -> Iterator[str]:
    """``careledger index serve`` on the proxied port, over an index synced just now (the
    history panels read it; without it they fall back to the chain's logs)."""
    from careledger.cli.main import run
    from tools.webapp.relay import serve_index

    db = str(tmp_path / "index.sqlite")
    assert run(["--rpc", suite.rpc, "index", "sync", "--db", db]) == 0
    with serve_index(suite.rpc, index_url, db) as url:
        yield url


@pytest.fixture(scope="session")
def claims(suite: Suite, consents: dict[str, Any]) -> dict[str, Any]:
    """A funded plan with patient2 enrolled and consenting to payment (see tools.webapp.seed)."""
    from tools.webapp.seed import seed_claims

    return seed_claims(suite.admin)


@pytest.fixture(scope="session")
def dispensed(suite: Suite, drugs: dict[str, str]) -> str:
    """A unit of LOT-A the pharmacy dispensed (with the SDK), for its claim."""
    from tools.webapp.seed import dispense_unit, scan

    unit = scan("LOT-A", "SN00010", drugs["expiry"])
    dispense_unit(suite.admin, suite.folder / "provenance", unit)
    return unit
