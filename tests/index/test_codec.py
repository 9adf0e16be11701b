"""The derived-state codec keeps every value a replay reducer holds, exactly, and the same state
always as the same text (snapshots compare by text)."""

from __future__ import annotations

import pytest

from careledger.index.codec import dump_state, load_state


def test_round_trip_of_every_kind_of_value():
    state = {
        "big": 2**200 + 1,
        "small": 7,
        "bytes": b"\x00\xff",
        "tuple": (1, b"\x01", "x"),
        "keyed": {(b"\x01", 2): {"nested": [1, 2**64]}},
        "reviewed": {b"\x02" * 32, b"\x01" * 32},
        "none": None,
        "flag": True,
    }
    assert load_state(dump_state(state)) == state


def test_a_set_is_stored_the_same_whatever_its_order():
    a = {"s": {3, 1, 2**80}}
    b = {"s": {2**80, 2, 1, 3} - {2}}
    assert dump_state(a) == dump_state(b)


def test_an_unknown_type_is_refused():
    with pytest.raises(TypeError, match="cannot keep"):
        dump_state({"x": object()})
