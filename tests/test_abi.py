"""The one ABI layer (careledger/abi.py) against the compiler output and web3, and every Python
copy of an ABI fact that stays (hand encoders kept for speed, module-level role constants, the
``IntEnum`` mirrors of the contracts' enums and code tables) against the ABI layer."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.abi import event_abi_to_log_topic, function_abi_to_4byte_selector
from eth_utils.address import to_checksum_address
from web3 import Web3

from careledger import abi
from careledger.artifacts import load_artifacts
from careledger.claims.client import MAX_BATCH
from careledger.claims.types import LINE_ABI, Carc, ClaimStatus, Decision
from careledger.codes import Category, Purpose, Role
from careledger.consent.terms import _BREAK_GLASS_TAG, DelegateKind
from careledger.directory.client import EMERGENCY_ROLE, REGISTRAR_ROLE
from careledger.errors import EnvironmentProblem
from careledger.provenance import fastverify
from careledger.provenance.client import BatchStatus
from careledger.provenance.ids import text_to_bytes32
from careledger.provenance.verdict import Verdict

ARTIFACTS = load_artifacts()
ADDR = to_checksum_address("0x" + "ab" * 20)


def _word_name(name: str) -> str:
    """``PendingReview`` / ``PENDING_REVIEW`` / ``NO_MATCH_GTIN_SERIAL`` → one spelling."""
    return name.replace("_", "").upper()


@pytest.mark.parametrize("name", sorted(ARTIFACTS.contracts))
def test_selectors_and_topics_are_web3s(name: str) -> None:
    facts = abi.contract(name, ARTIFACTS)
    for item in ARTIFACTS[name].abi:
        if item.get("type") == "function":
            assert facts.functions[abi.signature(item)].selector == function_abi_to_4byte_selector(item)
        elif item.get("type") == "event" and not item.get("anonymous"):
            assert facts.topic(item["name"]) == event_abi_to_log_topic(item)
            assert facts.by_topic[event_abi_to_log_topic(item)].name == item["name"]


def test_tuple_types_are_spelled_out() -> None:
    adjudicated = abi.contract("ClaimSettlement").event("ClaimAdjudicated")
    assert adjudicated.signature == (
        "ClaimAdjudicated(bytes32,uint8,uint96,uint96,uint16,address,(uint96,uint96,uint96,uint96,uint96,uint16)[])"
    )
    submit = abi.contract("ClaimSettlement").function("submit")
    assert submit.input_types == (f"(address,address,uint32,bytes32,uint16,bytes32,{LINE_ABI}[])",)


def test_calldata_is_web3s() -> None:
    registry = Web3().eth.contract(address=ADDR, abi=ARTIFACTS["ProvenanceRegistry"].abi)
    args = (9506000134352, text_to_bytes32("LOT-1", "lot"), 281231, text_to_bytes32("SN1"), 3, [b"\x07" * 32] * 2)
    want = registry.functions.verify(*args)._encode_transaction_data()
    assert "0x" + abi.calldata("ProvenanceRegistry", "verify", *args).hex() == want
    directory = Web3().eth.contract(address=ADDR, abi=ARTIFACTS["ParticipantDirectory"].abi)
    want = directory.functions.isActive(ADDR, 0x7F)._encode_transaction_data()
    assert "0x" + abi.contract("ParticipantDirectory").calldata("isActive", ADDR, 0x7F).hex() == want


def test_unknown_names_are_a_clear_error() -> None:
    with pytest.raises(EnvironmentProblem, match="has no function 'nope'"):
        abi.selector("ConsentRegistry", "nope")
    with pytest.raises(EnvironmentProblem, match="has no event 'Nope'"):
        abi.topic("ConsentRegistry", "Nope")


def test_a_log_decodes_to_its_arguments() -> None:
    registry = abi.contract("ConsentRegistry")
    ev = registry.event("AccessRecorded")
    other = "0x" + "cd" * 20
    log: dict[str, Any] = {
        "topics": [
            ev.topic_hex,
            "0x" + (2**255 + 5).to_bytes(32, "big").hex(),
            "0x" + "00" * 12 + ADDR[2:].lower(),
            "0x" + "00" * 12 + other[2:],
        ],
        "data": "0x" + abi_encode(["uint8", "uint8", "bytes32"], [3, 1, b"\x09" * 32]).hex(),
    }
    name, args = registry.decode_log(log) or ("", {})
    assert name == "AccessRecorded"
    assert args == {
        "consentId": 2**255 + 5,
        "patient": ADDR.lower(),
        "grantee": other,
        "category": 3,
        "purpose": 1,
        "record": b"\x09" * 32,
    }
    assert registry.decode_log({"topics": ["0x" + "00" * 32], "data": "0x"}) is None
    assert registry.decode_log({"topics": [], "data": "0x"}) is None


def test_an_indexed_dynamic_argument_is_its_hash() -> None:
    ev = abi.EventAbi.of(
        {
            "type": "event",
            "name": "Tagged",
            "inputs": [{"name": "tag", "type": "string", "indexed": True}, {"name": "n", "type": "uint8"}],
        }
    )
    assert ev.hashed == ("tag",)
    digest = Web3.keccak(text="x")
    assert ev.decode([ev.topic, digest], abi_encode(["uint8"], [7])) == {"tag": digest, "n": 7}
    with pytest.raises(ValueError, match="1 indexed arguments, the log 0 topics"):
        ev.decode([ev.topic], b"")


def test_reverts_decode_to_the_custom_error_and_its_arguments() -> None:
    decoder = abi.ErrorDecoder.from_build()
    item = next(
        i for i in ARTIFACTS["ProvenanceRegistry"].abi if i.get("type") == "error" and i["name"] == "InvalidGs1Date"
    )
    data = function_abi_to_4byte_selector(item) + abi_encode(["uint256"], [991332])
    assert decoder.decode(data) == ("InvalidGs1Date", {"value": "991332"})
    assert decoder.decode("0x" + data.hex()) == ("InvalidGs1Date", {"value": "991332"})
    panic = Web3.keccak(text="Panic(uint256)")[:4] + abi_encode(["uint256"], [0x11])
    assert decoder.decode(panic) == ("Panic", {"code": "17"})
    assert decoder.decode(b"\xde\xad\xbe\xef") == (None, {})
    refused = decoder.refusal(data, "commission")
    assert (refused.error_name, refused.error_args) == ("InvalidGs1Date", {"value": "991332"})


def test_the_fast_verify_encoder_is_the_abis() -> None:
    """fastverify hand-encodes verify() (no eth_abi import on the CLI's one-scan path)."""
    assert abi.selector("ProvenanceRegistry", "verify") == fastverify._SELECTOR
    for proof in ([], [b"\x01" * 32], [bytes([i]) * 32 for i in range(17)]):
        args = (9506000134352, "LOT-1", 281231, "SN%1", 4, proof)
        want = abi.calldata(
            "ProvenanceRegistry", "verify", 9506000134352, text_to_bytes32("LOT-1", "lot"), 281231,
            text_to_bytes32("SN%1"), 4, proof,
        )  # fmt: skip
        assert fastverify.verify_calldata(*args) == "0x" + want.hex()


def test_enum_mirrors_follow_the_contracts() -> None:
    enums = abi.enums()
    for python, solidity in (
        (ClaimStatus, "ClaimStatus"),
        (Decision, "Decision"),
        (BatchStatus, "IProvenanceRegistry.BatchStatus"),
        (Verdict, "IProvenanceRegistry.Verdict"),
    ):
        assert [_word_name(m.name) for m in sorted(python, key=int)] == [_word_name(n) for n in enums[solidity]]
        assert [int(m) for m in sorted(python, key=int)] == list(range(len(enums[solidity])))


def test_code_table_mirrors_follow_the_contracts() -> None:
    consts = abi.constants()
    assert {r.name: int(r) for r in Role} == {k: v for k, v in consts["Roles"].items() if k != "ALL"}
    assert consts["Roles"]["ALL"] == int(Role(sum(Role)))
    assert {p.name: int(p) for p in Purpose} | {"COUNT": len(Purpose)} == consts["Purpose"]
    assert {c.name: int(c) for c in Category} | {"COUNT": len(Category)} == consts["Category"]
    assert {c.name: int(c) for c in Carc}.items() <= consts["Carc"].items()


def test_constant_copies_follow_the_contracts() -> None:
    consts = abi.constants()
    assert consts["ParticipantDirectory"]["REGISTRAR_ROLE"] == REGISTRAR_ROLE
    assert consts["ParticipantDirectory"]["EMERGENCY_ROLE"] == EMERGENCY_ROLE
    assert consts["ConsentRegistry"]["_BREAK_GLASS_TAG"] == _BREAK_GLASS_TAG
    assert (consts["ConsentRegistry"]["GUARDIAN"], consts["ConsentRegistry"]["PROXY"]) == (
        DelegateKind.GUARDIAN,
        DelegateKind.PROXY,
    )
    assert consts["ClaimStorage"]["_MAX_BATCH"] == MAX_BATCH
    assert consts["ConsentRegistry"]["BREAK_GLASS_WINDOW"] == 4 * 3600  # `4 hours` evaluated


def test_constant_expressions_evaluate_exactly() -> None:
    assert abi._int_expr("(1 << 7) - 1") == 127
    assert abi._int_expr("(90 * 86400)") == 90 * 86400
    assert abi._int_expr("Roles.PROVIDER | Roles.PHARMACY") is None  # not a literal: left out
    assert abi._int_expr("__import__('os')") is None


def test_public_constants_are_what_the_deployed_contracts_answer(project, directory, admin) -> None:
    """The constants read from the sources against the contracts' own getters on the chain, and
    the timelock roles (OpenZeppelin's sources are not in the build) against theirs."""
    from careledger.governance.consortium import CANCELLER_ROLE, EXECUTOR_ROLE, PROPOSER_ROLE

    timelock = project.ConsortiumTimelock.deploy(3600, admin, sender=admin)
    assert (bytes(timelock.PROPOSER_ROLE()), bytes(timelock.CANCELLER_ROLE()), bytes(timelock.EXECUTOR_ROLE())) == (
        PROPOSER_ROLE,
        CANCELLER_ROLE,
        EXECUTOR_ROLE,
    )
    registry = project.ConsentRegistry.deploy(directory, sender=admin)
    consts = abi.constants()
    for deployed, name in ((directory, "ParticipantDirectory"), (registry, "ConsentRegistry")):
        getters = {i["name"] for i in ARTIFACTS[name].abi if i.get("type") == "function" and not i.get("inputs")} & set(
            consts[name]
        )
        assert len(getters) >= 2, name
        for getter in sorted(getters):
            answer = getattr(deployed, getter)()
            value = consts[name][getter]
            assert (bytes(answer) if isinstance(value, bytes) else int(answer)) == value, (name, getter)


def _encode_type(primary: str, fields: list[dict[str, str]]) -> str:
    return f"{primary}({','.join(f['type'] + ' ' + f['name'] for f in fields)})"


def test_eip712_types_are_the_contracts_typehashes() -> None:
    """The SDK's EIP-712 structs spell the texts the contracts' ``*_TYPEHASH`` constants hash."""
    from careledger.claims.enrolment import ENROLMENT_TYPE
    from careledger.consent import eip712

    texts = abi.hashed_texts()
    assert _encode_type("Enrolment", ENROLMENT_TYPE) == texts["ClaimStorage"]["_ENROLMENT_TYPEHASH"]
    consent = {t.split("(")[0]: t for k, t in texts["ConsentRegistry"].items() if k.endswith("_TYPEHASH")}
    assert {name: _encode_type(name, fields) for name, fields in eip712.TYPES.items()} == consent
    assert abi.eip712_fields(consent["Revoke"]) == eip712.TYPES["Revoke"]


def test_hashed_texts_read_every_literal_spelling() -> None:
    assert abi._hashed_text('keccak256("a.b")') == "a.b"
    assert abi._hashed_text('keccak256(\n  "Grant(address a,"\n  "uint256 b)"\n)') == "Grant(address a,uint256 b)"
    assert abi._hashed_text('keccak256(abi.encodePacked("X(uint8 a,", "uint8 b)"))') == "X(uint8 a,uint8 b)"
    assert abi._hashed_text('keccak256(abi.encode("a", x))') is None
    assert abi._hashed_text("keccak256(x)") is None
    assert abi.eip712_domain(verifying_contract=False) == abi.eip712_domain()[:3]


def test_an_overloaded_function_is_named_by_its_signature() -> None:
    council = abi.contract("ConsortiumCouncil")
    with pytest.raises(EnvironmentProblem, match="overloaded names need their signature"):
        council.function("execute")
    overloads = [s for s in council.functions if s.startswith("execute(")]
    assert len(overloads) == 2
    assert len({council.selector(s) for s in overloads}) == 2
