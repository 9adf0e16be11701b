// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title DelegateForward
/// @notice Runs the whole current call in `module` by delegatecall (this contract's storage,
///         address and events) and returns, or reverts, with exactly what it returned: how a
///         contract at the EIP-170 size limit keeps part of its code in a module (ClaimSettlement
///         and its ClaimAdmin; a successor version and its MigrationModule).
library DelegateForward {
    function forward(address module) internal {
        // Forwarding the whole call and its whole answer is what assembly is for here.
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), module, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) {
                revert(0, returndatasize())
            }
            return(0, returndatasize())
        }
    }
}
