// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ICareErrors
/// @notice The errors every CareLedger contract raises the same way. Each domain interface inherits
///         them, so one selector means one thing across the suite and the SDK decodes them once.
interface ICareErrors {
    /// @notice An address argument (patient, grantee, delegate, member, payee, directory, ...)
    ///         was the zero address.
    error ZeroAddress();
    /// @notice A commitment (a record, document, Merkle root or justification hash) was zero:
    ///         every commitment the chain keeps must commit to something.
    error EmptyCommitment();
    /// @notice The signed message's `deadline` has passed.
    error SignatureExpired(uint256 deadline);
    /// @notice The signature is not `signer`'s over this message (wrong key, chain, contract,
    ///         nonce or fields; malformed or high-s; or the ERC-1271 wallet said no).
    error InvalidSignature(address signer);
}
