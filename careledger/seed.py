"""Registering the devnet cast (``careledger.accounts.DEMO_CAST``) in the directory."""

from __future__ import annotations

from careledger.accounts import dev_accounts
from careledger.chain import Chain
from careledger.deployments import load_deployment
from careledger.directory.client import DirectoryClient, credential_commitment

__all__ = ["seed_directory"]


def seed_directory(admin: Chain) -> list[str]:
    """Register every cast member with a role; skip those already registered. Returns names."""
    directory = DirectoryClient(admin, load_deployment(admin.w3, check_code=False))
    done: list[str] = []
    for member in dev_accounts():
        if member.role is None or directory.get(member.address).registered:
            continue
        commitment = credential_commitment(f"DEVNET-LICENCE-{member.index:04d}", salt=member.address.encode())
        directory.register(member.address, member.role, commitment)
        done.append(member.name)
    return done
