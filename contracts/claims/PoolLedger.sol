// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {PoolView} from "./ClaimTypes.sol";

/// @notice One plan's pool, in two storage slots: [deposited, withdrawn] [paid, owed].
///         `owed` is stored plus {PoolLedger}'s sentinel so its slot never returns to zero;
///         only {PoolLedger} reads or writes it.
struct Pool {
    uint128 deposited;
    uint128 withdrawn;
    uint128 paid;
    uint128 owed;
}

/// @title PoolLedger
/// @notice The accounting of a plan's pool, in one place: what insurers deposited and withdrew,
///         what approved claims are owed and what was paid. Invariant:
///         `deposited - withdrawn = paid + owed + free`, with `free >= 0`; the token balance of
///         the settlement contract is the sum over plans of `deposited - withdrawn - paid`.
/// @dev    `owed` is kept plus one (the sentinel): paying the last claim and approving the next
///         would otherwise take the slot back to zero and cost a fresh 20,000-gas write each
///         time. Callers check amounts against {free} first; the arithmetic here is checked
///         (a wrong call reverts with a panic rather than corrupting the books).
library PoolLedger {
    using SafeCast for uint256;

    /// @dev Added to the stored `owed` from the plan's creation on.
    uint128 private constant _OWED_SENTINEL = 1;

    /// @notice A new plan's pool: empty, with the sentinel set.
    function open(Pool storage pool) internal {
        pool.owed = _OWED_SENTINEL;
    }

    /// @notice An insurer deposited `amount` (reverts past 2^128-1 in total).
    function deposit(Pool storage pool, uint256 amount) internal {
        pool.deposited = (uint256(pool.deposited) + amount).toUint128();
    }

    /// @notice An insurer took back `amount`, which must be at most {free}.
    function withdraw(Pool storage pool, uint256 amount) internal {
        pool.withdrawn += uint128(amount); // amount <= free <= deposited, a uint128
    }

    /// @notice An approval: the pool now owes `amount` more to a payee.
    function owe(Pool storage pool, uint128 amount) internal {
        pool.owed += amount;
    }

    /// @notice `amount` owed was paid out.
    function pay(Pool storage pool, uint128 amount) internal {
        pool.owed -= amount;
        pool.paid += amount;
    }

    /// @notice A payout of `amount` failed and is owed again.
    function unpay(Pool storage pool, uint128 amount) internal {
        pool.paid -= amount;
        pool.owed += amount;
    }

    /// @notice `amount` owed lapsed (the payee never took it) and returns to the free funds.
    function release(Pool storage pool, uint128 amount) internal {
        pool.owed -= amount;
    }

    /// @notice What the insurer may withdraw or new approvals may use.
    function free(Pool storage pool) internal view returns (uint256) {
        return uint256(pool.deposited) + _OWED_SENTINEL - pool.withdrawn - pool.paid - pool.owed;
    }

    /// @notice The pool as its readers see it (without the sentinel).
    function read(Pool storage pool) internal view returns (PoolView memory v) {
        v.deposited = pool.deposited;
        v.withdrawn = pool.withdrawn;
        v.funded = v.deposited - v.withdrawn;
        v.paid = pool.paid;
        v.owed = pool.owed - _OWED_SENTINEL;
        v.free = v.funded - v.paid - v.owed;
    }
}
