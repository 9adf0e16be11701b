// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice A token whose transfer/transferFrom/approve return nothing (like USDT on mainnet) and
///         revert on failure. Calling it through the IERC20 interface would fail to decode.
contract MockNoReturnToken {
    error InsufficientAllowance(uint256 allowed, uint256 amount);
    error InsufficientBalance(uint256 balance, uint256 amount);

    mapping(address account => uint256) public balanceOf;
    mapping(address owner => mapping(address spender => uint256)) public allowance;
    uint256 public totalSupply;

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
        totalSupply += amount;
    }

    function approve(address spender, uint256 amount) external {
        allowance[msg.sender][spender] = amount;
    }

    function transfer(address to, uint256 amount) external {
        _move(msg.sender, to, amount);
    }

    function transferFrom(address from, address to, uint256 amount) external {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed < amount) revert InsufficientAllowance(allowed, amount);
        allowance[from][msg.sender] = allowed - amount;
        _move(from, to, amount);
    }

    function _move(address from, address to, uint256 amount) private {
        if (balanceOf[from] < amount) revert InsufficientBalance(balanceOf[from], amount);
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
    }
}
