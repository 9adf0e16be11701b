// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title DevnetTestUSD
/// @notice "CareLedger Devnet Test USD" (dtUSD): a stand-in stablecoin for local devnets only,
///         6 decimals like USDC. ANYONE CAN MINT IT: it is worthless by design. The claims deploy
///         plug-in deploys it only on chain ids 31337/1337; elsewhere the payment token comes
///         from configuration (CARELEDGER_PAYMENT_TOKEN).
contract DevnetTestUSD is ERC20 {
    constructor() ERC20("CareLedger Devnet Test USD", "dtUSD") {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Devnet faucet: mints `amount` to `to`, for anyone.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
