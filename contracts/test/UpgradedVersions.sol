// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {EmergencyPausable} from "../common/EmergencyPausable.sol";
import {IConsentCheck} from "../common/IConsentCheck.sol";
import {IDispenseCheck} from "../common/IDispenseCheck.sol";
import {IParticipantDirectory} from "../common/IParticipantDirectory.sol";
import {Migratable} from "../common/Migratable.sol";
import {Migration} from "../common/Migration.sol";
import {ClaimSettlement} from "../claims/ClaimSettlement.sol";
import {ConsentRegistry} from "../consent/ConsentRegistry.sol";
import {ProvenanceRegistry} from "../provenance/ProvenanceRegistry.sol";

// Version 2 of each moving contract, as a release would ship it: the version-1 source, inherited
// (so the storage layout only appends), a higher version, the predecessor as the last constructor
// argument, and Migratable's import (ClaimSettlement has it in its ClaimAdmin module already).
// The upgrade tests (tests/test_upgrade.py) move a demo suite onto these.

/// @notice ConsentRegistry version 2: takes over a version-1 registry's consents.
contract ConsentRegistryV2 is ConsentRegistry, Migratable {
    constructor(IParticipantDirectory directory_, address predecessor_) ConsentRegistry(directory_) {
        _startAsSuccessor(predecessor_);
    }

    function version() public pure override(ConsentRegistry, Migratable) returns (uint16) {
        return 2;
    }

    function _beforeUnpause() internal view override(EmergencyPausable, Migratable) {
        super._beforeUnpause();
    }
}

/// @notice ProvenanceRegistry version 2: takes over a version-1 registry's batches and custody.
contract ProvenanceRegistryV2 is ProvenanceRegistry, Migratable {
    constructor(IParticipantDirectory directory_, address predecessor_) ProvenanceRegistry(directory_) {
        _startAsSuccessor(predecessor_);
    }

    function version() public pure override(ProvenanceRegistry, Migratable) returns (uint16) {
        return 2;
    }

    function _beforeUnpause() internal view override(EmergencyPausable, Migratable) {
        super._beforeUnpause();
    }

    /// @notice New in version 2 (a view only: the layout is version 1's).
    function upgradedFrom() external view returns (address) {
        return Migration.state().predecessor;
    }
}

/// @notice ClaimSettlement version 2: takes over a version-1 settlement's plans, claims and pools.
contract ClaimSettlementV2 is ClaimSettlement {
    constructor(
        IParticipantDirectory directory_,
        IConsentCheck consent_,
        IDispenseCheck provenance_,
        IERC20 token_,
        address predecessor_
    ) ClaimSettlement(directory_, consent_, provenance_, token_) {
        Migration.start(predecessor_, version());
        _pause();
    }

    function version() public pure override returns (uint16) {
        return 2;
    }
}
