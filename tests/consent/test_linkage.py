"""The linkage detector of careledger.audit (issue #15, point 8): a planted link of each kind is
caught, the pairwise derivation produces none, and payment consents of the plan pseudonym are
not mistaken for links."""

from __future__ import annotations

from careledger.accounts import dev_account, dev_person, pairwise_path
from careledger.audit import ConsentEdge, find_links

TREAT, HPAYMT = 1 << 0, 1 << 1
ORGS = [dev_account(n).address for n in ("clinic", "lab", "er", "insurer")]
CLINIC, LAB, ER, INSURER = ORGS


def test_pairwise_pseudonyms_leave_no_link() -> None:
    person = dev_person("patient")
    edges = [ConsentEdge(person.address_for(org), org, TREAT) for org in (CLINIC, LAB, ER)]
    plan = person.address_for(INSURER)
    edges += [ConsentEdge(plan, org, HPAYMT) for org in (CLINIC, LAB)]  # the plan pseudonym lets them bill
    assert find_links(edges, [plan], ORGS) == []
    assert len({e.patient for e in edges}) == 4  # one address per counterparty


def test_planted_links_are_caught() -> None:
    person = dev_person("patient")
    shared = person.address_for(CLINIC)
    planted = [ConsentEdge(shared, CLINIC, TREAT), ConsentEdge(shared, LAB, TREAT)]
    hits = find_links(planted, [], ORGS)
    assert [(h.address, h.kind) for h in hits] == [(shared.lower(), "two-organisations")]
    hits = find_links([ConsentEdge(shared, CLINIC, TREAT)], [shared], ORGS)
    assert [(h.address, h.kind) for h in hits] == [(shared.lower(), "consent-and-claims")]
    assert "claims" in str(hits[0])


def test_organisations_are_not_people() -> None:
    # A clinic granting another clinic (an organisation's own consent) is not a person's link.
    assert find_links([ConsentEdge(CLINIC, LAB, TREAT), ConsentEdge(CLINIC, ER, TREAT)], [CLINIC], ORGS) == []


def test_derivation_is_deterministic_distinct_and_documented() -> None:
    a, b = dev_person("patient"), dev_person("patient2")
    assert a.address_for(CLINIC) == dev_person("patient").address_for(CLINIC)
    assert len({a.address_for(o) for o in ORGS} | {b.address_for(o) for o in ORGS}) == 8
    path = pairwise_path(CLINIC, 10)
    assert path.startswith("m/44'/60'/10'/") and path.count("'") == 7
    assert a.address_for(CLINIC.lower()) == a.address_for(CLINIC)  # any spelling of the counterparty
    assert a.address_for(CLINIC) != dev_account("patient").address  # not the person's devnet address
