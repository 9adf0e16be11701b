"""Consent registry SDK: patient-controlled, time-bound, audited access (see docs/consent.md)."""

from careledger.consent.terms import ConsentState, DelegateKind, GrantTerms, ModifyTerms

__all__ = ["ConsentState", "DelegateKind", "GrantTerms", "ModifyTerms"]
