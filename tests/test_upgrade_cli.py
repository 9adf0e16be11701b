"""``careledger upgrade status|verify|run`` on a devnet whose deployer still holds the powers:
version 1 everywhere, the whole migration, versions and predecessors recorded, verified again from
the chain; a partial move that would strand ClaimSettlement on the old registries is refused."""

from __future__ import annotations

import pytest
from governance.test_gov_cli import Cli

pytestmark = pytest.mark.devnet


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    c = Cli(tmp_path_factory.mktemp("upgrade"))
    assert c("devnet", "up").returncode == 0
    c.json("deploy", "--seed-devnet")
    yield c
    c("devnet", "down")


def test_upgrade_run_status_verify(cli):
    before = cli.json("upgrade", "status")
    assert {before[n]["version"] for n in ("ConsentRegistry", "ProvenanceRegistry", "ClaimSettlement")} == {1}
    refused = cli("upgrade", "run", "--only", "ConsentRegistry", account="admin")
    assert refused.returncode == 2 and "moves ClaimSettlement too" in refused.stderr
    assert cli.json("upgrade", "status") == before  # nothing was sent
    moved = cli.json("upgrade", "run", account="admin")
    assert set(moved) == {"ConsentRegistry", "ProvenanceRegistry", "ClaimSettlement"}
    after = cli.json("upgrade", "status")
    for name, row in moved.items():
        assert after[name]["version"] == 2 and after[name]["address"] == row["address"]
        assert after[name]["predecessor"]["address"] == before[name]["address"]
        assert after[name]["predecessor"]["snapshotBlock"] == row["snapshotBlock"]
    assert sorted(cli.json("upgrade", "verify")["verified"]) == sorted(moved)
