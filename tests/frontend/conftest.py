"""Browser tests of the web client: a devnet of their own (anvil on a free port, temp folder,
nothing persisted), the suite deployed and seeded, the app built into a temp folder and served by
``vite preview``, driven by the Node Playwright scripts in ``frontend/tests/``.

Screenshots go to ``docs/screenshots/`` (linked from the README and docs/frontend.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from careledger._paths import project_root
from careledger.accounts import dev_account
from careledger.chain import Chain, connect
from careledger.deploy import deploy_suite, suite_chain
from careledger.devnet import Devnet
from careledger.seed import seed_directory
from careledger.web import WebApp, build_webapp, ensure_chromium, free_port, run_script

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
    old = os.environ.get("CARELEDGER_DEPLOYMENTS_DIR")
    os.environ["CARELEDGER_DEPLOYMENTS_DIR"] = str(folder / "deployments")
    devnet = Devnet(folder=folder / "devnet", port=free_port(), persist=False)
    devnet.up()
    try:
        w3 = connect(devnet.rpc_url)
        admin = suite_chain(w3, dev_account("admin").account.key.hex())
        deploy_suite(admin)
        seed_directory(admin)
        yield Suite(devnet.rpc_url, w3, admin, folder)
    finally:
        devnet.down()
        if old is None:
            os.environ.pop("CARELEDGER_DEPLOYMENTS_DIR", None)
        else:
            os.environ["CARELEDGER_DEPLOYMENTS_DIR"] = old


@pytest.fixture(scope="session")
def webapp(suite: Suite, chromium: str) -> Iterator[WebApp]:
    dist = build_webapp(suite.folder / "web", rpc=suite.rpc)
    with WebApp(dist) as app:
        yield app


@pytest.fixture(scope="session")
def browse(webapp: WebApp):  # type: ignore[no-untyped-def]
    """``browse("script.mjs", KEY=value)`` runs a Playwright script against the served app."""

    def _run(script: str, **env: str) -> dict[str, Any]:
        result = run_script(script, {"BASE_URL": webapp.url, "SCREENSHOT_DIR": str(SCREENSHOTS), **env})
        assert result["pageErrors"] == [], f"uncaught errors on the page: {result['pageErrors']}"
        return result

    return _run
