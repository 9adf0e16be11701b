"""The import and the hand-over refuse what they must (issue #16 point 5, docs/upgrades.md): a
successor starts paused and cannot resume before its seal; only the directory's admin imports,
only before the seal, never into the import's own slots, never a batch that resumes it; a
predecessor must be an older version; the claims pool goes only to a successor naming it."""

from __future__ import annotations

import ape
import pytest

from careledger.upgrade import MIGRATION_SLOT

ZERO = "0x" + "00" * 20


def _word(n: int) -> bytes:
    return n.to_bytes(32, "big")


@pytest.fixture
def pair(project, directory, admin):
    v1 = project.ConsentRegistry.deploy(directory, sender=admin)
    v2 = project.ConsentRegistryV2.deploy(directory, v1, sender=admin)
    # The import runs in the successor's MigrationModule, through its fallback: IMigratable's ABI.
    return v1, v2, project.IMigratable.at(v2.address)


def test_successor_starts_paused_naming_its_older_predecessor(pair):
    v1, v2, mig = pair
    assert (v1.version(), v2.version()) == (1, 2)
    assert v2.paused() and not v1.paused()
    assert mig.predecessor() == v1.address
    assert mig.importStatus() == (False, 0, b"\0" * 32)


def test_predecessor_must_be_an_older_version(project, directory, admin, pair):
    _, v2, _ = pair
    with ape.reverts(project.ConsentRegistryV2.BadPredecessor, predecessor=v2.address, predecessorVersion=2, version=2):
        project.ConsentRegistryV2.deploy(directory, v2, sender=admin)
    with ape.reverts(project.ConsentRegistryV2.BadPredecessor, predecessor=ZERO, predecessorVersion=0, version=2):
        project.ConsentRegistryV2.deploy(directory, ZERO, sender=admin)


def test_only_the_directory_admin_imports(pair, outsider, clinic):
    _, _, mig = pair
    for who in (outsider, clinic):
        with ape.reverts(mig.NotImporter, account=who.address):
            mig.importState([_word(7)], [_word(1)], sender=who)
        with ape.reverts(mig.NotImporter, account=who.address):
            mig.sealImport(0, sender=who)


def test_import_batches_fold_into_the_digest_and_nothing_after_the_seal(chain, pair, admin):
    _, _, mig = pair
    tx = mig.importState([_word(1000), _word(1001)], [_word(5), _word(6)], sender=admin)
    sealed, count, digest = mig.importStatus()
    assert (sealed, count) == (False, 2)
    assert tx.events[0].slotCount == 2 and bytes(tx.events[0].digest) == bytes(digest)
    with ape.reverts(mig.BadSnapshotBlock, snapshotBlock=chain.blocks.head.number + 1):
        mig.sealImport(chain.blocks.head.number + 1, sender=admin)
    snapshot = chain.blocks.head.number - 1
    tx = mig.sealImport(snapshot, sender=admin)
    ev = tx.events[0]
    assert (ev.predecessor, ev.snapshotBlock, ev.slotCount) == (mig.predecessor(), snapshot, 2)
    assert mig.importStatus()[0]
    with ape.reverts(mig.ImportAlreadySealed):
        mig.importState([_word(1002)], [_word(7)], sender=admin)
    with ape.reverts(mig.ImportAlreadySealed):
        mig.sealImport(snapshot, sender=admin)


def test_successor_cannot_resume_before_its_seal(chain, pair, admin):
    _, v2, mig = pair
    with ape.reverts(v2.ImportNotSealed):
        v2.unpause(sender=admin)
    mig.sealImport(chain.blocks.head.number - 1, sender=admin)
    v2.unpause(sender=admin)
    assert not v2.paused()


def test_bad_batches_refused(pair, admin):
    _, _, mig = pair
    with ape.reverts(mig.BadImportBatch, slots=0, values=0):
        mig.importState([], [], sender=admin)
    with ape.reverts(mig.BadImportBatch, slots=2, values=1):
        mig.importState([_word(1), _word(2)], [_word(1)], sender=admin)
    with ape.reverts(mig.BadImportBatch, slots=257, values=257):
        mig.importState([_word(i) for i in range(257)], [_word(1)] * 257, sender=admin)
    for slot in (MIGRATION_SLOT, MIGRATION_SLOT + 1):
        with ape.reverts(mig.ReservedSlot, slot=_word(slot)):
            mig.importState([_word(slot)], [_word(1)], sender=admin)


def test_a_batch_that_would_resume_the_successor_is_refused(chain, pair, admin):
    _, v2, mig = pair
    # The pause flag's slot: the low slot holding 1 on the paused successor (OZ Pausable's bool).
    flag = next(s for s in range(16) if int.from_bytes(chain.provider.get_storage(v2.address, s), "big") == 1)
    with ape.reverts(mig.ImportUnpaused):
        mig.importState([_word(flag)], [_word(0)], sender=admin)


def test_a_first_deployment_imports_nothing(project, directory, admin, pair):
    v1, _, _ = pair
    token = project.DevnetTestUSD.deploy(sender=admin)
    claims = project.ClaimSettlement.deploy(directory, v1, ZERO, token, sender=admin)
    via = project.IPoolHandOver.at(claims.address)
    claims.pause(sender=admin)
    with ape.reverts(via.NotASuccessor):
        via.importState([_word(1)], [_word(1)], sender=admin)


@pytest.fixture
def claims_pair(project, directory, admin, pair):
    v1, _, _ = pair
    token = project.DevnetTestUSD.deploy(sender=admin)
    old = project.ClaimSettlement.deploy(directory, v1, ZERO, token, sender=admin)
    new = project.ClaimSettlementV2.deploy(directory, v1, ZERO, token, old, sender=admin)
    token.mint(old, 5_000_000, sender=admin)
    return token, project.IPoolHandOver.at(old.address), project.IPoolHandOver.at(new.address), old


def test_hand_over_only_by_the_admin_while_paused_to_a_named_successor(
    project, directory, admin, outsider, claims_pair, pair
):
    token, old, new, settlement = claims_pair
    with ape.reverts(old.NotImporter, account=outsider.address):
        old.handOver(new, sender=outsider)
    with ape.reverts(settlement.ExpectedPause):
        old.handOver(new, sender=admin)
    settlement.pause(sender=admin)
    stranger = project.ClaimSettlementV2.deploy(directory, pair[0], ZERO, token, pair[0].address, sender=admin)
    for wrong in (stranger.address, pair[0].address, outsider.address):
        with ape.reverts(old.NotMySuccessor, successor=wrong):
            old.handOver(wrong, sender=admin)
    tx = old.handOver(new, sender=admin)
    assert tx.events.filter(old.PoolHandedOver)[0].amount == 5_000_000
    assert (token.balanceOf(settlement), token.balanceOf(new)) == (0, 5_000_000)


def test_hand_over_refuses_a_successor_paying_in_another_token(project, directory, admin, claims_pair, pair):
    _, old, _, settlement = claims_pair
    other = project.DevnetTestUSD.deploy(sender=admin)
    elsewhere = project.ClaimSettlementV2.deploy(directory, pair[0], ZERO, other, settlement, sender=admin)
    settlement.pause(sender=admin)
    with ape.reverts(old.NotMySuccessor, successor=elsewhere.address):
        old.handOver(elsewhere, sender=admin)
