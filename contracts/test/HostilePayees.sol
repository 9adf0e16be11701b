// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ClaimId, ClaimInput, ClaimStatus} from "../claims/ClaimTypes.sol";
import {IClaimSettlement} from "../claims/IClaimSettlement.sol";
import {ITokenReceiverHook} from "./MockHookToken.sol";

/// @notice A provider contract that submits claims for itself (so it is their payee).
abstract contract PayeeBase is ITokenReceiverHook {
    IClaimSettlement internal immutable _claims;

    constructor(IClaimSettlement claims_) {
        _claims = claims_;
    }

    function submit(ClaimInput calldata claim) external returns (ClaimId claimId, ClaimStatus status) {
        return _claims.submit(claim);
    }

    /// @notice As the payee, names another address to receive `claimId`'s payout.
    function redirect(ClaimId claimId, address to) external {
        _claims.redirectPayout(claimId, to);
    }
}

/// @notice A payee that, when paid, tries to be paid again: the same claim through {pay} and
///         through {payBatch}. It records whether either attempt succeeded.
contract HostileReentrantPayee is PayeeBase {
    ClaimId public target;
    uint256 public attempts;
    uint256 public successes;
    bytes public lastError;

    constructor(IClaimSettlement claims_) PayeeBase(claims_) {}

    function setTarget(ClaimId claimId) external {
        target = claimId;
    }

    function onTokenReceived(address, uint256) external {
        if (attempts != 0) return;
        attempts = 1;
        try _claims.pay(target) {
            ++successes;
        } catch (bytes memory reason) {
            lastError = reason;
        }
        ClaimId[] memory ids = new ClaimId[](1);
        ids[0] = target;
        try _claims.payBatch(ids) {
            ++successes;
        } catch (bytes memory reason) {
            lastError = reason;
        }
    }
}

/// @notice A payee whose every incoming transfer reverts (a blocked or broken account).
contract HostileRevertingPayee is PayeeBase {
    error RefusingPayment();

    bool public refusing = true;

    constructor(IClaimSettlement claims_) PayeeBase(claims_) {}

    function setRefusing(bool refusing_) external {
        refusing = refusing_;
    }

    function onTokenReceived(address, uint256) external view {
        if (refusing) revert RefusingPayment();
    }
}
