"""What a domain's demo story gets (:class:`DemoEnv`) and gives back (:class:`Story`).

A domain adds its story by providing ``careledger/<domain>/demo.py`` with
``def story(env: DemoEnv) -> Story``. Stories run in :data:`careledger.deploy.SUITE_DOMAINS`
order and may leave results for later ones in ``env.shared`` (claims cites the unit the
provenance story dispensed). Every step states what was expected; the demo fails (exit 1) if
any expectation did not hold, so the report is checked, not just printed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from web3 import Web3
from web3.types import TxReceipt

from careledger.accounts import DevAccount, dev_account
from careledger.artifacts import Artifacts
from careledger.chain import Chain, ErrorDecoder
from careledger.deployments import Deployment
from careledger.errors import ChainRefused

__all__ = ["DemoEnv", "Step", "Story"]

T = TypeVar("T")


@dataclass
class DemoEnv:
    rpc: str
    w3: Web3
    deployment: Deployment
    artifacts: Artifacts
    workdir: Path
    shared: dict[str, Any] = field(default_factory=dict)

    def who(self, name: str) -> DevAccount:
        return dev_account(name)

    def signer(self, name: str) -> Chain:
        """A chain whose transactions are signed by devnet cast member ``name``."""
        return Chain(self.w3, ErrorDecoder.from_abis(self.artifacts.all_abis())).with_account(dev_account(name).account)

    def reader(self) -> Chain:
        return Chain(self.w3, ErrorDecoder.from_abis(self.artifacts.all_abis()))


@dataclass
class Step:
    actor: str
    action: str
    outcome: str
    ok: bool
    gas: int | None = None
    tx: str | None = None


@dataclass
class Story:
    title: str
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    def done(self, actor: str, action: str, receipt: TxReceipt | None = None, outcome: str = "done") -> None:
        """Record a step that succeeded as expected (with its gas when it was a transaction)."""
        gas = int(receipt["gasUsed"]) if receipt is not None else None
        tx = receipt["transactionHash"].to_0x_hex() if receipt is not None else None
        self.steps.append(Step(actor, action, outcome, True, gas, tx))

    def check(self, actor: str, action: str, outcome: str, ok: bool) -> None:
        """Record a read whose result was compared with the expected one."""
        self.steps.append(Step(actor, action, outcome, ok))

    def refused(self, actor: str, action: str, expected_error: str, attempt: Callable[[], object]) -> None:
        """Run ``attempt``; the step holds if the chain refuses it with ``expected_error``."""
        try:
            attempt()
        except ChainRefused as exc:
            got = exc.error_name or "unknown revert"
            self.steps.append(Step(actor, action, f"refused: {got}", got == expected_error))
            return
        self.steps.append(Step(actor, action, f"NOT refused (expected {expected_error})", False))
