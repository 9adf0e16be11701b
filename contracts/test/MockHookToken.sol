// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice What a contract receiving {MockHookToken} is called with.
interface ITokenReceiverHook {
    function onTokenReceived(address from, uint256 amount) external;
}

/// @notice A token that calls the recipient back after each transfer to an opted-in contract (as ERC-777
///         and ERC-1363 tokens do) and fails the transfer if the hook reverts. It gives hostile
///         payees (contracts/test/Hostile*) a way to re-enter or to refuse a payout.
contract MockHookToken is ERC20 {
    mapping(address account => bool) public hooked;

    constructor() ERC20("Mock Hook Token", "HOOK") {}

    /// @notice Opts `account` in to (or out of) the callback.
    function setHooked(address account, bool on) external {
        hooked[account] = on;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from != address(0) && hooked[to]) ITokenReceiverHook(to).onTokenReceived(from, value);
    }
}
