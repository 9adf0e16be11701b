"""Registering the devnet cast (``careledger.accounts.DEMO_CAST``) in the directory."""

from __future__ import annotations

from careledger.accounts import dev_accounts
from careledger.chain import Chain
from careledger.deployments import load_deployment
from careledger.directory.client import DirectoryClient, credential_commitment

__all__ = ["seed_directory"]


#: The devnet manufacturer's GS1 company prefixes: GS1's example prefix (the demos' GTIN
#: 09506000134352) and a second brand's (GTIN 04006381333931).
DEVNET_PREFIXES = ("9506000", "4006381")


def seed_directory(admin: Chain) -> list[str]:
    """Register every cast member with a role, and attest the devnet manufacturer's GS1 company
    prefixes to it; skip what is already there. Returns names."""
    directory = DirectoryClient(admin, load_deployment(admin.w3, check_code=False))
    done: list[str] = []
    for member in dev_accounts():
        if member.role is None or directory.get(member.address).registered:
            continue
        commitment = credential_commitment(f"DEVNET-LICENCE-{member.index:04d}", salt=member.address.encode())
        directory.register(member.address, member.role, commitment)
        done.append(member.name)
    maker = next((m for m in dev_accounts() if m.name == "manufacturer"), None)
    if maker is not None:
        for prefix in DEVNET_PREFIXES:
            if directory.gtin_owner(int(prefix) * 10 ** (13 - len(prefix))).owner is None:
                directory.attest_prefix(maker.address, prefix, credential_commitment(f"GS1-LICENCE-{prefix}", b""))
    return done
