"""The suite's chains start at the pinned instant (tests/chainclock.py), not at the calendar."""

from __future__ import annotations

import ape
import chainclock


def test_py_evm_chain_starts_at_the_pin_and_moves_only_when_told():
    genesis = ape.chain.blocks[0].timestamp
    assert genesis == chainclock.PINNED_GENESIS
    before = ape.chain.blocks.head.timestamp
    ape.chain.mine()
    assert ape.chain.blocks.head.timestamp == before + 1
    ape.chain.pending_timestamp = before + 86_400
    ape.chain.mine()
    assert ape.chain.blocks.head.timestamp == before + 86_400
