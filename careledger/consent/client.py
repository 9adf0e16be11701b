"""Typed client of the ConsentRegistry over :class:`careledger.chain.Chain`.

Patient actions go either straight to the chain (the patient pays gas) or as EIP-712 signed
actions (:class:`SignedAction`) that an active relayer submits (``submit``), so the patient
needs no ether. Reads answer the access question, the current consent of a pair, and the audit
history rebuilt from the contract's events.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError
from web3.types import TxReceipt

from careledger.artifacts import load_artifacts
from careledger.chain import Chain, _revert_data, checksum
from careledger.codes import Category, Purpose, Role
from careledger.consent import eip712
from careledger.consent.terms import ConsentState, GrantTerms, ModifyTerms
from careledger.deployments import Deployment
from careledger.errors import InvalidInput
from careledger.exactjson import abi_value, abi_values, exact, uint_id

__all__ = ["ACTIONS", "ConsentClient", "HistoryEntry", "RelayTransport", "Sent", "SignedAction", "post_to_relay"]

# action name -> (EIP-712 primary type, contract function)
ACTIONS: dict[str, tuple[str, str]] = {
    "grant": ("Grant", "grantBySig"),
    "modify": ("Modify", "modifyBySig"),
    "revoke": ("Revoke", "revokeBySig"),
    "set_patient_deny": ("SetPatientDeny", "setPatientDenyBySig"),
    "appoint_delegate": ("AppointDelegate", "appointDelegateBySig"),
    "remove_delegate": ("RemoveDelegate", "removeDelegateBySig"),
    "cancel": ("Cancel", "cancelBySig"),
    "review_break_glass": ("ReviewBreakGlass", "reviewBreakGlassBySig"),
}

DEFAULT_DEADLINE = 15 * 60
"""Seconds a signature the SDK makes stays valid by default (the contract refuses more than
``MAX_SIGNATURE_LIFETIME``, one day): a signature a relayer holds back dies within minutes."""

ZERO_ADDRESS = "0x" + "00" * 20

_EVENTS = (
    "ConsentGranted",
    "ConsentModified",
    "ConsentRevoked",
    "PatientDenySet",
    "DelegateAppointed",
    "DelegateRemoved",
    "AccessRecorded",
    "BreakGlassOpened",
    "BreakGlassCoSigned",
    "BreakGlassReviewed",
    "SignaturesCancelled",
)


@dataclass(frozen=True)
class SignedAction:
    """One signed patient action, as the relayer receives it (JSON-friendly).

    ``message`` is the EIP-712 message exactly as signed (including ``nonce`` and ``deadline``).
    """

    action: str
    signer: str
    message: dict[str, Any]
    signature: str

    def to_json(self) -> dict[str, Any]:
        """The action as exact JSON: message fields by their EIP-712 type (``uint256`` nonce,
        deadline and consent id as strings, see ``docs/json.md``)."""
        msg = abi_values(eip712.TYPES[self.primary_type], self.message)
        return {"action": self.action, "signer": self.signer, "message": msg, "signature": self.signature}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignedAction:
        try:
            action = str(data["action"])
            if action not in ACTIONS:
                raise InvalidInput(f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
            primary = ACTIONS[action][0]
            raw = dict(data["message"])
            fields = {f["name"]: f["type"] for f in eip712.TYPES[primary]}
            if set(raw) != set(fields):
                raise InvalidInput(f"{action} message needs exactly the fields {', '.join(fields)}")
            message: dict[str, Any] = {}
            for name, typ in fields.items():
                value = raw[name]
                if typ == "address":
                    message[name] = checksum(str(value), name)
                elif typ == "bytes32":
                    text = str(value)
                    body = bytes.fromhex(text[2:] if text.startswith("0x") else text)
                    if len(body) != 32:
                        raise InvalidInput(f"{name} must be 32 bytes")
                    message[name] = body
                else:
                    message[name] = _uint(value, name, typ)
            sig = str(data["signature"])
            if not sig.startswith("0x") or len(bytes.fromhex(sig[2:])) not in (64, 65):
                raise InvalidInput("signature must be 0x + 65 bytes (or a 64-byte compact one)")
            return cls(action, checksum(str(data["signer"]), "signer"), message, sig)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"malformed signed action: {exc}") from None

    @property
    def primary_type(self) -> str:
        return ACTIONS[self.action][0]

    @property
    def patient(self) -> str:
        return str(self.message["patient"])

    @property
    def nonce(self) -> int:
        return int(self.message["nonce"])

    @property
    def pair(self) -> tuple[str, str] | None:
        """(patient, grantee) when the action's nonce is that pair's action counter, else None
        (its nonce is the signer's ``nonces``)."""
        if self.primary_type in eip712.PAIR_TYPES or (
            self.primary_type == "Cancel" and int(self.message["grantee"], 16) != 0
        ):
            return str(self.message["patient"]), str(self.message["grantee"])
        return None

    @property
    def counterparty(self) -> str | None:
        """The organisation the action concerns (the grantee, or the break-glass provider);
        None for patient-wide actions."""
        for key in ("grantee", "provider"):
            if key in self.message and int(self.message[key], 16) != 0:
                return str(self.message[key])
        return None

    @property
    def deadline(self) -> int:
        return int(self.message["deadline"])

    def typed_data(self, chain_id: int, registry: str) -> dict[str, Any]:
        return eip712._typed(self.primary_type, self.message, chain_id, registry)

    def call_args(self) -> list[Any]:
        """Arguments of the contract's ``*BySig`` function for this action."""
        m, sig = self.message, bytes.fromhex(self.signature[2:])
        if self.action == "grant":
            terms = (
                m["grantee"],
                m["categories"],
                m["purposes"],
                m["denyCategories"],
                m["denyPurposes"],
                m["validFrom"],
                m["validUntil"],
                m["document"],
            )
            return [m["patient"], terms, self.signer, m["deadline"], sig]
        if self.action == "modify":
            mterms = (m["categories"], m["purposes"], m["denyCategories"], m["denyPurposes"], m["validUntil"])
            return [m["patient"], m["grantee"], m["consentId"], mterms, self.signer, m["deadline"], sig]
        if self.action == "revoke":
            return [m["patient"], m["grantee"], m["consentId"], self.signer, m["deadline"], sig]
        if self.action == "set_patient_deny":
            return [m["patient"], m["categories"], m["purposes"], self.signer, m["deadline"], sig]
        if self.action == "appoint_delegate":
            return [m["patient"], m["delegate"], m["kind"], m["categories"], m["purposes"], m["deadline"], sig]
        if self.action == "cancel":
            return [m["patient"], m["grantee"], self.signer, m["deadline"], sig]
        if self.action == "review_break_glass":
            return [m["patient"], m["provider"], m["seq"], self.signer, m["deadline"], sig]
        return [m["patient"], m["delegate"], m["deadline"], sig]


@dataclass(frozen=True)
class Sent:
    """A patient action that landed, however it travelled (:meth:`ConsentClient.act`): the
    transaction, the gas it used (paid by the relayer when ``relayed``) and, for a grant, the
    consent id it created."""

    tx: str
    gas_used: int
    relayed: bool
    consent_id: int | None = None
    sponsor: str | None = None  # relayed: the organisation whose budget paid


class RelayTransport(Protocol):
    """What :func:`post_to_relay` needs of an HTTP client bound to a relayer's base URL (an
    ``httpx``/Starlette ``TestClient`` of the relay app in process, as the demos use)."""

    def post(self, url: str, *, json: Any) -> Any: ...


def post_to_relay(relay: str | RelayTransport, signed: SignedAction, timeout: float = 60) -> dict[str, Any]:
    """Hand a signed action to a relayer (``careledger relay serve``, ``POST /actions``; its URL,
    or a client bound to it) and return its answer. A refusal the relayer decoded from the
    registry is :class:`~careledger.errors.ChainRefused` with the custom error; a relayer that
    does not answer, :class:`~careledger.errors.NodeUnreachable`; any other refusal,
    :class:`~careledger.errors.InvalidInput`."""
    import requests

    from careledger.errors import ChainRefused, NodeUnreachable

    if not isinstance(relay, str):
        resp = relay.post("/actions", json=signed.to_json())
    else:
        try:
            resp = requests.post(relay.rstrip("/") + "/actions", json=signed.to_json(), timeout=timeout)
        except requests.RequestException as exc:
            raise NodeUnreachable(f"relay {relay} did not answer: {type(exc).__name__}") from None
    body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
    if resp.status_code == 422:
        raise ChainRefused(str(body.get("error")), error_name=body.get("customError"), error_args=body.get("args"))
    if resp.status_code != 200:
        raise InvalidInput(f"relay refused the action ({resp.status_code}): {body.get('error', resp.text)}")
    return dict(body)


def _uint(value: Any, name: str, typ: str) -> int:
    """A message integer given as a JSON number, a decimal string or a 0x-hex string."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"{name} must be an integer, a decimal string or a 0x-hex string")
    if isinstance(value, int):
        number = value
    else:
        text = value.strip()
        number = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
    bits = int(typ.removeprefix("uint") or 256)
    if not 0 <= number < 2**bits:
        raise InvalidInput(f"{name} {number} is out of range for {typ}")
    return number


@dataclass(frozen=True)
class HistoryEntry:
    """One event of a patient's audit history. ``types`` holds the event's ABI parameter types by
    name, so :meth:`to_json` writes each argument in its exact JSON form."""

    event: str
    block: int
    log_index: int
    tx: str
    args: dict[str, Any] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        args = {k: abi_value(self.types[k], v, k) if k in self.types else exact(v) for k, v in self.args.items()}
        return {"event": self.event, "block": self.block, "logIndex": self.log_index, "tx": self.tx, **args}


class ConsentClient:
    NAME = "ConsentRegistry"

    def __init__(self, chain: Chain, deployment: Deployment) -> None:
        self.chain = chain
        self.deployment = deployment
        self.address = deployment.address(self.NAME)
        self.contract = chain.contract(self.address, load_artifacts()[self.NAME].abi)
        self.from_block = deployment.contracts[self.NAME].block

    def with_chain(self, chain: Chain) -> ConsentClient:
        """The same registry, acting through another signer."""
        return ConsentClient(chain, self.deployment)

    @property
    def me(self) -> str:
        if self.chain.account is None:
            raise InvalidInput("this action needs a signing account (--account or CARELEDGER_PRIVATE_KEY)")
        return str(self.chain.account.address)

    def acting_as(self, key: LocalAccount, *, relayed: bool, counterparty: str = "") -> ConsentClient:
        """This registry with ``key`` signing (a person's pairwise pseudonym). A pseudonym holds
        no ether: relayed, it only signs; sent directly, that is possible only on a devnet, where
        the node credits it gas with ``anvil_setBalance`` (no transaction, so nothing links it),
        and refused elsewhere (:class:`InvalidInput`: sign through a relayer)."""
        chain = self.chain.with_account(key)
        if not relayed and int(chain.w3.eth.get_balance(to_checksum_address(key.address))) == 0:
            if not chain.is_devnet():
                raise InvalidInput(
                    f"your pseudonym{' for ' + counterparty if counterparty else ''} ({key.address}) holds no "
                    "ether: sign through a relayer (--relay URL or CARELEDGER_RELAY)"
                )
            chain._raw_call("anvil_setBalance", [key.address, hex(10**18)])
        return ConsentClient(chain, self.deployment)

    def act(
        self, action: str, *, relay: str | RelayTransport | None = None, patient: str | None = None, **fields: Any
    ) -> Sent:
        """One patient action (``grant``, ``modify``, ``revoke``, ``cancel``,
        ``review_break_glass``), the same whichever way it travels: with ``relay`` (a relayer's
        URL, or a client of it: :class:`RelayTransport`) signed as EIP-712 with this client's
        key and handed to the relayer, who pays the gas; without, sent directly by this
        client's account. ``fields`` are those of :meth:`sign`. The CLI and the demos act
        through here."""
        if relay is not None and relay != "":
            signed = self.sign(self.chain._require_account(), action, patient=patient, **fields)
            out = post_to_relay(relay, signed)
            cid = int(out["consentId"], 16) if action == "grant" and out.get("consentId") else None
            sponsor = str(out["sponsor"]) if out.get("sponsor") else None
            return Sent(str(out["tx"]), int(out.get("gasUsed", 0)), True, cid, sponsor)
        cid = None
        if action == "grant":
            cid, receipt = self.grant(fields["terms"], patient, require_vetted=False)
        elif action == "modify":
            receipt = self.modify(fields["grantee"], int(fields["consent_id"]), fields["terms"], patient)
        elif action == "revoke":
            receipt = self.revoke(fields["grantee"], int(fields["consent_id"]), patient)
        elif action == "cancel":
            receipt = self.cancel(fields.get("grantee"), patient)
        elif action == "review_break_glass":
            receipt = self.review_break_glass(fields["provider"], int(fields["seq"]), patient)
        else:
            raise InvalidInput(f"unknown patient action {action!r}")
        return Sent(receipt["transactionHash"].to_0x_hex(), int(receipt["gasUsed"]), False, cid)

    # ------------------------------------------------------------------ direct patient actions

    def grant(
        self, terms: GrantTerms, patient: str | None = None, *, require_vetted: bool = True
    ) -> tuple[int, TxReceipt]:
        """Grant ``terms`` for ``patient`` (default: the signer). Returns (consent id, receipt).

        The contract vets grantees at access time; with ``require_vetted`` the SDK also refuses,
        before sending, a grantee that is neither an active participant nor a registered study."""
        terms.check()
        who = checksum(patient or self.me, "patient")
        if require_vetted:
            self.require_vetted(terms.grantee)
        receipt = self.chain.send(
            self.contract.functions.grant(who, terms.as_tuple()), f"grant consent to {terms.grantee}"
        )
        return self._granted_id(receipt), receipt

    def modify(self, grantee: str, consent_id: int, terms: ModifyTerms, patient: str | None = None) -> TxReceipt:
        terms.check()
        who, g = checksum(patient or self.me, "patient"), checksum(grantee, "grantee")
        return self.chain.send(
            self.contract.functions.modify(who, g, consent_id, terms.as_tuple()), f"modify consent {consent_id:#x}"
        )

    def revoke(self, grantee: str, consent_id: int, patient: str | None = None) -> TxReceipt:
        who, g = checksum(patient or self.me, "patient"), checksum(grantee, "grantee")
        return self.chain.send(self.contract.functions.revoke(who, g, consent_id), f"revoke consent {consent_id:#x}")

    def set_patient_deny(self, categories: int, purposes: int, patient: str | None = None) -> TxReceipt:
        who = checksum(patient or self.me, "patient")
        return self.chain.send(self.contract.functions.setPatientDeny(who, categories, purposes), "set patient deny")

    def appoint_delegate(self, delegate: str, kind: int, categories: int, purposes: int) -> TxReceipt:
        """Appoint ``delegate`` (GUARDIAN or PROXY) with the scope ``categories`` x ``purposes``."""
        return self.chain.send(
            self.contract.functions.appointDelegate(
                self.me, checksum(delegate, "delegate"), kind, categories, purposes
            ),
            "appoint delegate",
        )

    def cancel(self, grantee: str | None = None, patient: str | None = None) -> TxReceipt:
        """Void outstanding signatures of the pair with ``grantee`` (or, with none, this
        signer's patient-wide ones)."""
        who = checksum(patient or self.me, "patient")
        g = checksum(grantee, "grantee") if grantee else ZERO_ADDRESS
        return self.chain.send(self.contract.functions.cancel(who, g), "cancel signatures")

    def review_break_glass(self, provider: str, seq: int, patient: str | None = None) -> TxReceipt:
        who = checksum(patient or self.me, "patient")
        return self.chain.send(
            self.contract.functions.reviewBreakGlass(who, checksum(provider, "provider"), seq),
            f"review break-glass {seq} of {provider}",
        )

    def remove_delegate(self, delegate: str) -> TxReceipt:
        return self.chain.send(
            self.contract.functions.removeDelegate(self.me, checksum(delegate, "delegate")), "remove delegate"
        )

    # ------------------------------------------------------------------ signed (gasless) actions

    def nonce(self, signer: str) -> int:
        return int(self.chain.call(self.contract.functions.nonces(checksum(signer, "signer")), "read nonce"))

    def pair_nonce(self, patient: str, grantee: str) -> int:
        """The (patient, grantee) action counter: the nonce of the pair's next signed action."""
        return int(
            self.chain.call(
                self.contract.functions.pairNonce(checksum(patient, "patient"), checksum(grantee, "grantee")),
                "read pair nonce",
            )
        )

    def expected_nonce(self, signed: SignedAction) -> int:
        """The nonce the registry will hash ``signed`` with now."""
        pair = signed.pair
        return self.pair_nonce(*pair) if pair else self.nonce(signed.signer)

    def sign(
        self,
        account: LocalAccount,
        action: str,
        *,
        patient: str | None = None,
        deadline: int | None = None,
        nonce: int | None = None,
        signer: str | None = None,
        **fields: Any,
    ) -> SignedAction:
        """Build and sign ``action`` (see :data:`ACTIONS`) with ``account``.

        ``fields`` are the action's own fields: ``terms`` (grant), ``grantee``/``consent_id``/
        ``terms`` (modify), ``grantee``/``consent_id`` (revoke), ``categories``/``purposes``
        (set_patient_deny), ``delegate``/``kind`` (delegates). ``signer`` differs from the key's
        address only for an ERC-1271 wallet whose owner key signs."""
        if action not in ACTIONS:
            raise InvalidInput(f"unknown action {action!r}")
        who = checksum(patient or account.address, "patient")
        owner = checksum(signer or account.address, "signer")
        d = deadline if deadline is not None else self.chain_time() + DEFAULT_DEADLINE
        kw: dict[str, Any] = {"chain_id": self.chain.chain_id, "registry": self.address}

        def n_pair(grantee: str) -> int:
            return self.pair_nonce(who, grantee) if nonce is None else nonce

        def n_own() -> int:
            # Delegate changes use the patient's nonce; the rest the signer's.
            if nonce is not None:
                return nonce
            return self.nonce(who if action in ("appoint_delegate", "remove_delegate") else owner)

        if action == "grant":
            terms: GrantTerms = fields["terms"]
            terms.check()
            typed = eip712.grant(who, terms, n_pair(terms.grantee), d, **kw)
        elif action == "modify":
            mterms: ModifyTerms = fields["terms"]
            mterms.check()
            g = fields["grantee"]
            typed = eip712.modify(who, g, int(fields["consent_id"]), mterms, n_pair(g), d, **kw)
        elif action == "revoke":
            g = fields["grantee"]
            typed = eip712.revoke(who, g, int(fields["consent_id"]), n_pair(g), d, **kw)
        elif action == "cancel":
            g = fields.get("grantee") or ZERO_ADDRESS
            typed = eip712.cancel(who, g, n_pair(g) if int(g, 16) else n_own(), d, **kw)
        elif action == "set_patient_deny":
            typed = eip712.set_patient_deny(who, int(fields["categories"]), int(fields["purposes"]), n_own(), d, **kw)
        elif action == "appoint_delegate":
            typed = eip712.appoint_delegate(
                who,
                fields["delegate"],
                int(fields["kind"]),
                int(fields["categories"]),
                int(fields["purposes"]),
                n_own(),
                d,
                **kw,
            )
        elif action == "review_break_glass":
            typed = eip712.review_break_glass(who, fields["provider"], int(fields["seq"]), n_own(), d, **kw)
        else:
            typed = eip712.remove_delegate(who, fields["delegate"], n_own(), d, **kw)
        signature = eip712.sign(account, typed)
        return SignedAction(action, owner, dict(typed["message"]), "0x" + signature.hex())

    def _by_sig(self, signed: SignedAction) -> Any:
        return getattr(self.contract.functions, ACTIONS[signed.action][1])(*signed.call_args())

    def submit(self, signed: SignedAction, gas: int | None = None) -> TxReceipt:
        """Send a signed action (this client's chain must sign as an active relayer); ``gas``:
        the gas limit (default: the node's estimate)."""
        return self.chain.send(self._by_sig(signed), f"relay {signed.action} signed by {signed.signer}", gas=gas)

    def estimate(self, signed: SignedAction) -> int:
        """Gas the relayer would spend on ``signed`` now; a refusal raises the contract's decoded
        custom error (:class:`careledger.errors.ChainRefused`)."""
        fn = self._by_sig(signed)
        try:
            return int(fn.estimate_gas({"from": to_checksum_address(self.me)}))
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self.chain.decoder.refusal(_revert_data(exc), f"relay {signed.action}") from None

    def code_hash(self, address: str) -> bytes | None:
        """keccak256 of the code at ``address``; None for an account without code (an EOA)."""
        code = bytes(self.chain.w3.eth.get_code(to_checksum_address(address)))
        return keccak(code) if code else None

    def verify_signature(self, signed: SignedAction, is_contract: bool | None = None) -> bool:
        """Off-chain check before spending gas, the contract's own (``SignatureChecker``): an EOA
        signer must be the address recovered from a signature of the form OpenZeppelin's ECDSA
        accepts (65 bytes, low s, v 27/28: :func:`eip712.signature_problem`); a contract signer
        (ERC-1271) is asked ``isValidSignature`` by a read call. ``is_contract``: whether the
        signer has code, when the caller already knows (saves a node call)."""
        typed = signed.typed_data(self.chain.chain_id, self.address)
        sig = bytes.fromhex(signed.signature[2:])
        contract = (self.code_hash(signed.signer) is not None) if is_contract is None else is_contract
        if not contract:
            if eip712.signature_problem(sig) is not None:
                return False
            try:
                return eip712.recover(typed, sig) == signed.signer
            except Exception:  # noqa: BLE001 - malformed or high-s signatures do not recover
                return False
        wallet = self.chain.w3.eth.contract(address=to_checksum_address(signed.signer), abi=_ERC1271_ABI)
        try:
            magic = wallet.functions.isValidSignature(eip712.digest(typed), sig).call()
        except Exception:  # noqa: BLE001 - a wallet that reverts says no
            return False
        return bytes(magic) == bytes.fromhex("1626ba7e")

    # ------------------------------------------------------------------ providers, studies

    def record_access(
        self, patient: str, consent_id: int, category: Category, purpose: Purpose, record: bytes
    ) -> TxReceipt:
        return self.chain.send(
            self.contract.functions.recordAccess(
                checksum(patient, "patient"), consent_id, int(category), int(purpose), record
            ),
            f"record access to {category.name} for {purpose.name}",
        )

    def break_glass(
        self, patient: str, reason: Purpose, justification: bytes, encounter: bytes
    ) -> tuple[int, TxReceipt]:
        """Open a break-glass window; ``encounter`` is the salted commitment of the encounter it
        serves (over the daily cap it must match a co-signature)."""
        if reason not in (Purpose.ETREAT, Purpose.BTG):
            raise InvalidInput(f"break-glass reason must be ETREAT or BTG, not {reason.name}")
        receipt = self.chain.send(
            self.contract.functions.breakGlass(checksum(patient, "patient"), int(reason), justification, encounter),
            "break the glass",
        )
        ev = self.contract.events.BreakGlassOpened().process_receipt(receipt)
        return int(ev[0]["args"]["breakGlassId"]), receipt

    def co_sign_break_glass(self, patient: str, provider: str, encounter: bytes) -> TxReceipt:
        """As a second provider or a regulator: allow ``provider`` one opening over the cap."""
        return self.chain.send(
            self.contract.functions.coSignBreakGlass(
                checksum(patient, "patient"), checksum(provider, "provider"), encounter
            ),
            "co-sign break-glass",
        )

    def register_study(
        self, study: LocalAccount | tuple[str, bytes], form: bytes, deadline: int | None = None
    ) -> TxReceipt:
        """Register a study this client's signer sponsors. ``study`` is the study's key (it signs
        ``RegisterStudy`` to prove control of its address) or (address, signature) made elsewhere
        (an ERC-1271 study contract's owner, say) with the given ``deadline``."""
        d = deadline if deadline is not None else self.chain_time() + DEFAULT_DEADLINE
        if isinstance(study, tuple):
            addr, sig = checksum(study[0], "study"), study[1]
        else:
            addr = study.address
            typed = eip712.register_study(addr, self.me, form, d, chain_id=self.chain.chain_id, registry=self.address)
            sig = eip712.sign(study, typed)
        return self.chain.send(self.contract.functions.registerStudy(addr, form, d, sig), "register study")

    def set_study_status(self, study: str, status: int) -> TxReceipt:
        """1 active, 2 closed (sponsor: close only; registrar or regulator: either)."""
        return self.chain.send(
            self.contract.functions.setStudyStatus(checksum(study, "study"), status), "set study status"
        )

    def amend_study(self, study: str, form: bytes) -> TxReceipt:
        return self.chain.send(self.contract.functions.amendStudy(checksum(study, "study"), form), "amend study")

    # ------------------------------------------------------------------ reads

    def can_access(self, patient: str, grantee: str, category: Category, purpose: Purpose) -> tuple[bool, int]:
        allowed, cid = self.chain.call(
            self.contract.functions.canAccess(
                checksum(patient, "patient"), checksum(grantee, "grantee"), int(category), int(purpose)
            ),
            "check access",
        )
        return bool(allowed), int(cid)

    def consent_of(self, patient: str, grantee: str) -> ConsentState:
        raw = self.chain.call(
            self.contract.functions.consentOf(checksum(patient, "patient"), checksum(grantee, "grantee")),
            "read consent",
        )
        return ConsentState.from_tuple(raw)

    def study_of(self, study: str) -> tuple[str, int, bytes]:
        """(sponsor, form version, form commitment); version 0: not a study."""
        sponsor, version, _status, form = self.chain.call(
            self.contract.functions.studyOf(checksum(study, "study")), "read study"
        )
        return str(sponsor), int(version), bytes(form)

    def study_status(self, study: str) -> int:
        """0 not registered, 1 active, 2 closed."""
        raw = self.chain.call(self.contract.functions.studyOf(checksum(study, "study")), "read study")
        return int(raw[2])

    def delegate_of(self, patient: str, delegate: str) -> tuple[int, int, int]:
        """(kind, scope categories, scope purposes); all 0: not a delegate."""
        kind, cats, purps = self.chain.call(
            self.contract.functions.delegateOf(checksum(patient), checksum(delegate)), "read delegate"
        )
        return int(kind), int(cats), int(purps)

    def counterparties(self) -> list[str]:
        """Every organisation of the directory and every registered study, from their events:
        the counterparties a person may hold a pseudonym for (for one combined log)."""
        directory = self.chain.contract(
            self.deployment.address("ParticipantDirectory"), load_artifacts()["ParticipantDirectory"].abi
        )
        start = self.deployment.contracts["ParticipantDirectory"].block
        out = [str(e["args"]["account"]) for e in directory.events.ParticipantRegistered().get_logs(from_block=start)]
        studies = self.contract.events.StudyRegistered().get_logs(from_block=self.from_block)
        out += [str(e["args"]["study"]) for e in studies]
        return list(dict.fromkeys(out))

    def unreviewed_break_glass(self, patients: str | list[str]) -> list[HistoryEntry]:
        """Break-glass openings on ``patients`` (one pseudonym or all of a person's) that nobody
        marked reviewed yet, oldest first."""
        log = self.history(patients, ("BreakGlassOpened", "BreakGlassReviewed"))
        reviewed = {int(e.args["breakGlassId"]) for e in log if e.event == "BreakGlassReviewed"}
        return [e for e in log if e.event == "BreakGlassOpened" and int(e.args["breakGlassId"]) not in reviewed]

    def delegate_kind(self, patient: str, delegate: str) -> int:
        return int(
            self.chain.call(
                self.contract.functions.delegateKind(checksum(patient), checksum(delegate)), "read delegate"
            )
        )

    def chain_time(self) -> int:
        return int(self.chain.w3.eth.get_block("latest")["timestamp"])

    def require_vetted(self, grantee: str) -> None:
        """:class:`InvalidInput` unless ``grantee`` is an active participant or a registered study."""
        g = checksum(grantee, "grantee")
        directory = self.chain.contract(
            self.deployment.address("ParticipantDirectory"), load_artifacts()["ParticipantDirectory"].abi
        )
        active = self.chain.call(directory.functions.isActive(g, int(Role(127))), "check grantee")
        if not active and self.study_of(g)[1] == 0:
            raise InvalidInput(
                f"grantee {g} is neither an active participant of the directory nor a registered "
                "study; a consent to it would allow nothing"
            )

    def history(self, patient: str | list[str], events: tuple[str, ...] = _EVENTS) -> list[HistoryEntry]:
        """Every event about ``patient`` (consents, denies, delegates, accesses, break-glass), in
        chain order: the audit log, rebuilt from the contract's indexed events. Given a list (a
        person's pairwise pseudonyms), one combined log of all of them."""
        who: str | list[str] = (
            checksum(patient, "patient") if isinstance(patient, str) else [checksum(p, "patient") for p in patient]
        )
        if isinstance(who, list) and not who:
            return []
        out: list[HistoryEntry] = []
        for name in events:
            ev = getattr(self.contract.events, name)()
            types = {str(p["name"]): str(p["type"]) for p in ev.abi["inputs"]}
            for log in ev.get_logs(from_block=self.from_block, argument_filters={"patient": who}):
                out.append(
                    HistoryEntry(
                        name,
                        int(log["blockNumber"]),
                        int(log["logIndex"]),
                        log["transactionHash"].to_0x_hex(),
                        dict(log["args"]),
                        types,
                    )
                )
        out.sort(key=lambda e: (e.block, e.log_index))
        return out

    def consents(self, patient: str) -> list[dict[str, Any]]:
        """The patient's consents, one per grantee, rebuilt from events, with their state now."""
        now = self.chain_time()
        grantees: dict[str, int] = {}
        for entry in self.history(patient, ("ConsentGranted",)):
            grantees[str(entry.args["grantee"])] = int(entry.args["consentId"])
        rows = []
        for grantee, last_id in grantees.items():
            state = self.consent_of(patient, grantee)
            status = (
                "active"
                if state.active_at(now)
                else "proposed"
                if state.valid_until > now and state.valid_from > now
                else "inactive"
            )
            rows.append(
                {
                    "grantee": grantee,
                    "lastConsentId": uint_id(last_id),
                    "status": status,
                    **state.to_json(),
                }
            )
        return rows

    # ------------------------------------------------------------------ helpers

    def _granted_id(self, receipt: TxReceipt) -> int:
        events = self.contract.events.ConsentGranted().process_receipt(receipt)
        return int(events[0]["args"]["consentId"])

    def granted_id(self, receipt: TxReceipt) -> int:
        """The consent id a grant (direct or relayed) created."""
        return self._granted_id(receipt)


_ERC1271_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "isValidSignature",
        "stateMutability": "view",
        "inputs": [{"name": "hash", "type": "bytes32"}, {"name": "signature", "type": "bytes"}],
        "outputs": [{"name": "", "type": "bytes4"}],
    }
]


def wait_until(client: ConsentClient, timestamp: int, poll: float = 0.2) -> None:
    """Block until the chain's time reaches ``timestamp`` (for scripts on a live chain)."""
    while client.chain_time() < timestamp:
        time.sleep(poll)
