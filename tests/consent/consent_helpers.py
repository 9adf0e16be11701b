"""Constants and builders shared by the consent tests (imported by name: pytest puts this folder
on sys.path)."""

from __future__ import annotations

from typing import Any

from eth_account import Account

from careledger.codes import Category, Purpose
from careledger.consent import eip712
from careledger.consent.terms import ALL_CATEGORIES, GRANTABLE_PURPOSES, GrantTerms, ModifyTerms, mask

DOC = bytes.fromhex("d0" * 32)
FORM_V1 = bytes.fromhex("f1" * 32)
FORM_V2 = bytes.fromhex("f2" * 32)
RECORD = bytes.fromhex("7e" * 32)
ENCOUNTER = bytes.fromhex("ec" * 32)
FULL_SCOPE = (ALL_CATEGORIES, GRANTABLE_PURPOSES)
DAY = 24 * 3600
TREAT = mask([Purpose.TREAT])
LABS = mask([Category.OBSERVATION, Category.DIAGNOSTIC_REPORT])


def terms(
    grantee: Any,
    *,
    categories: int = LABS,
    purposes: int = TREAT,
    until: int,
    valid_from: int = 0,
    deny_categories: int = 0,
    deny_purposes: int = 0,
    document: bytes = DOC,
) -> GrantTerms:
    return GrantTerms(
        grantee=str(getattr(grantee, "address", grantee)),
        categories=categories,
        purposes=purposes,
        valid_until=until,
        valid_from=valid_from,
        deny_categories=deny_categories,
        deny_purposes=deny_purposes,
        document=document,
    )


def modify_terms(
    *, categories: int = LABS, purposes: int = TREAT, until: int, deny_categories: int = 0, deny_purposes: int = 0
) -> ModifyTerms:
    return ModifyTerms(
        categories=categories,
        purposes=purposes,
        valid_until=until,
        deny_categories=deny_categories,
        deny_purposes=deny_purposes,
    )


def register_study(registry: Any, chain: Any, study: Any, form: bytes, sponsor: Any, **kw: Any) -> Any:
    """``registerStudy`` as the sponsor, with the study's own signature proving control of its
    address (``study`` is an Ape test account holding its key)."""
    deadline = int(chain.pending_timestamp) + 600
    typed = eip712.register_study(
        study.address, sponsor.address, form, deadline, chain_id=chain.chain_id, registry=registry.address
    )
    sig = eip712.sign(Account.from_key(study.private_key), typed)
    return registry.registerStudy(study, form, deadline, sig, sender=sponsor, **kw)
