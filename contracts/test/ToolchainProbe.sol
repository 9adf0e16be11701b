// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @dev Fixed contract whose bytecode hash is committed (tests/data/toolchain_probe.json): it
///      proves the installed compiler, native or the solc-js adapter, produces the same bytes.
contract ToolchainProbe {
    uint256 private _value;

    event ValueSet(uint256 value);

    function set(uint256 value) external {
        _value = value;
        emit ValueSet(value);
    }

    function get() external view returns (uint256) {
        return _value;
    }
}
