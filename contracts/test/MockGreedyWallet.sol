// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @dev An ERC-1271 "patient" wallet that burns `burn` gas in `isValidSignature` before giving
///      an honest answer (its owner's key signed the digest): the attack that made a relayer pay
///      8 million gas for one grant. `burn` below the registry's ERC1271_GAS_LIMIT is a normal,
///      somewhat costly wallet.
contract MockGreedyWallet is IERC1271 {
    address public immutable owner;
    uint256 public immutable burn;

    constructor(address owner_, uint256 burn_) {
        owner = owner_;
        burn = burn_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        uint256 start = gasleft();
        uint256 spin;
        while (start - gasleft() < burn) {
            spin = uint256(keccak256(abi.encode(spin)));
        }
        (address recovered, ECDSA.RecoverError err, ) = ECDSA.tryRecover(hash, signature);
        if (err == ECDSA.RecoverError.NoError && recovered == owner && spin != 1) {
            return IERC1271.isValidSignature.selector;
        }
        return 0xffffffff;
    }
}
