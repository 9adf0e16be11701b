"""Constants and builders shared by the consent tests (imported by name: pytest puts this folder
on sys.path)."""

from __future__ import annotations

from typing import Any

from careledger.codes import Category, Purpose
from careledger.consent.terms import GrantTerms, ModifyTerms, mask

DOC = bytes.fromhex("d0" * 32)
FORM_V1 = bytes.fromhex("f1" * 32)
FORM_V2 = bytes.fromhex("f2" * 32)
RECORD = bytes.fromhex("7e" * 32)
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
