// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title BoundedSignature
/// @notice Whether `signer` signed `digest`, for contracts whose signatures a relayer submits:
///         OpenZeppelin ECDSA for an account without code (high-s and malformed signatures
///         refused); for a contract an ERC-1271 `isValidSignature` static call given at most
///         `gasLimit` gas that reads at most one return word, so a wallet cannot make the
///         submitter pay more than that for the check, nor copy megabytes of return data into
///         its memory (OpenZeppelin's SignatureChecker forwards all gas and copies all of it).
/// @dev    Shared by the consent registry and its recovery module.
library BoundedSignature {
    function isValid(
        address signer,
        bytes32 digest,
        bytes calldata signature,
        uint256 gasLimit
    ) internal view returns (bool ok) {
        if (signer.code.length == 0) {
            (address recovered, ECDSA.RecoverError err, ) = ECDSA.tryRecover(digest, signature);
            return err == ECDSA.RecoverError.NoError && recovered == signer;
        }
        bytes memory data = abi.encodeCall(IERC1271.isValidSignature, (digest, signature));
        bytes4 magic = IERC1271.isValidSignature.selector;
        // Assembly, not `signer.staticcall{gas: ...}(data)`: Solidity would copy ALL return data
        // into memory; here at most one word is read (the scratch space 0x00-0x1f).
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            mstore(0x00, 0)
            let success := staticcall(gasLimit, signer, add(data, 0x20), mload(data), 0x00, 0x20)
            ok := and(success, and(gt(returndatasize(), 0x1f), eq(mload(0x00), magic)))
        }
    }
}
