"""Directory benchmark: gas of registering, suspending and the role check domain contracts make."""

from __future__ import annotations

from bench.harness import BenchEnv, BenchResult
from careledger.codes import Role
from careledger.directory.client import DirectoryClient, credential_commitment


def run(env: BenchEnv) -> BenchResult:
    directory = DirectoryClient(env.signer("admin"), env.deployment)
    newcomer = env.signer("patient2").account
    assert newcomer is not None
    r = directory.register(newcomer.address, Role.PROVIDER, credential_commitment("NPI-BENCH", b"salt"))
    s = directory.suspend(newcomer.address, "BENCH")
    check = directory.contract.functions.requireActive(env.signer("clinic").account.address, int(Role.PROVIDER))  # type: ignore[union-attr]
    exec_gas = env.exec_gas({"to": directory.contract.address, "data": check._encode_transaction_data()})
    return BenchResult(
        gas={
            "directory.register": int(r["gasUsed"]),
            "directory.suspend": int(s["gasUsed"]),
            "directory.require_active_exec": exec_gas,
        },
        notes=["register writes two new slots (role word + credential) and an event"],
    )
