"""Derived state: what each domain's ``careledger/<domain>/replay.py`` rebuilds, kept in the store.

Nothing here knows an event: the stored events are turned back into the
:class:`~careledger.indexer.DecodedEvent` the replay reducers take and fed to each domain's
``reduce`` in chain order, starting from the newest snapshot at or below the cursor. The audit
(:func:`check_index`) hands the result to the same domains' ``verify`` that
:func:`careledger.indexer.check` uses, so the index is held to the on-chain reads by the same code.
"""

from __future__ import annotations

from typing import Any

from web3 import Web3

from careledger.artifacts import Artifacts
from careledger.chain import Chain, ErrorDecoder
from careledger.deploy import domain_module
from careledger.deployments import Deployment
from careledger.index.codec import dump_state, load_state
from careledger.index.decode import LogDecoder
from careledger.index.store import Store
from careledger.indexer import Reads, reduce_event, verify_state

__all__ = ["check_index", "derive"]


def derive(store: Store, decoder: LogDecoder, *, save: bool = True) -> dict[str, dict[str, Any]]:
    """Each domain's state at the store's cursor (``{domain: state}``), brought up from its newest
    snapshot; with ``save``, the new state is kept as a snapshot at the cursor."""
    cur = store.cursor()
    top = -1 if cur is None else cur.block
    domains = sorted(set(decoder.domain_of.values()))
    modules = {d: domain_module(d, "replay") for d in domains}
    states: dict[str, dict[str, Any]] = {}
    since: dict[str, int] = {}
    for d in domains:
        snap = store.latest_state(d, top)
        states[d], since[d] = (load_state(snap[1]), snap[0]) if snap else ({}, -1)
    low = min(since.values(), default=top)
    for row in store.iter_events(above_block=low, up_to_block=top):
        domain = decoder.domain_of.get(row.contract)
        if domain is None or row.block <= since[domain]:
            continue
        event = decoder.decoded(row.contract, row.name, row.args, row.block, row.log_index, row.tx_hash, row.ts)
        reduce_event(modules[domain], states[domain], event)
    if save and cur is not None:
        for d in domains:
            if since[d] < top:
                store.save_state(d, top, dump_state(states[d]))
    return states


def check_index(
    w3: Web3, store: Store, decoder: LogDecoder, deployment: Deployment, artifacts: Artifacts
) -> dict[str, list[str]]:
    """Compare the index's derived state with on-chain reads (each domain's ``verify``)."""
    reads = Reads(Chain(w3, ErrorDecoder.from_abis(artifacts.all_abis())), deployment, artifacts)
    out: dict[str, list[str]] = {}
    for domain, state in derive(store, decoder).items():
        module = domain_module(domain, "replay")
        assert module is not None
        out[domain] = verify_state(module, state, reads)
    return out
