// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @dev A minimal ERC-1271 contract wallet for tests: a signature is valid when its `owner` key
///      signed the digest. `setAccepting(false)` makes it refuse everything (a revoked session).
contract MockERC1271Wallet is IERC1271 {
    address public owner;
    bool public accepting = true;

    constructor(address owner_) {
        owner = owner_;
    }

    error NotOwner(address caller);

    function setAccepting(bool value) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        accepting = value;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address recovered, ECDSA.RecoverError err, ) = ECDSA.tryRecover(hash, signature);
        if (accepting && err == ECDSA.RecoverError.NoError && recovered == owner) {
            return IERC1271.isValidSignature.selector;
        }
        return 0xffffffff;
    }
}
