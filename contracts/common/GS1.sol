// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title GS1
/// @notice GS1 identifier arithmetic shared by the directory (company prefixes) and the provenance
///         registry (GTINs), so the one structure of a GTIN-14 lives in one place (GS1 General
///         Specifications 3.3.2 and 7.9.1). Dates are {GS1Date}'s.
///
///         GTIN-14 = indicator digit, then 12 digits of GS1 company prefix + item reference, then
///         the check digit. A company prefix has {MIN_PREFIX}..{MAX_PREFIX} digits.
library GS1 {
    /// @notice The largest GTIN-14 (14 nines).
    uint256 internal constant MAX_GTIN = 99_999_999_999_999;
    /// @notice Shortest company prefix the directory attests (digits).
    uint8 internal constant MIN_PREFIX = 6;
    /// @notice Longest company prefix (digits): the whole 12-digit body but the item reference.
    uint8 internal constant MAX_PREFIX = 12;

    /// @notice True when `gtin` is a GTIN-14 (1..{MAX_GTIN}) whose check digit is right: weights
    ///         3,1,3,... from the digit left of the check digit (GS1 General Specifications
    ///         7.9.1). Two digits per step, 7 fixed steps (the 14th digit of the 13 is zero).
    function isValidGtin(uint256 gtin) internal pure returns (bool) {
        if (gtin == 0 || gtin > MAX_GTIN) return false;
        uint256 rest = gtin / 10;
        uint256 sum = 0;
        // unchecked: at most 7 * (27 + 9) is summed, and `rest` only shrinks.
        unchecked {
            for (uint256 i; i < 7; ++i) {
                sum += 3 * (rest % 10) + ((rest / 10) % 10);
                rest /= 100;
            }
        }
        return (10 - (sum % 10)) % 10 == gtin % 10;
    }

    /// @notice The 12 digits between the indicator and the check digit: company prefix + item
    ///         reference.
    function body(uint256 gtin) internal pure returns (uint256) {
        return (gtin / 10) % 1e12;
    }

    /// @notice The company prefix of `length` digits that a GTIN body starts with.
    function prefixOf(uint256 gtinBody, uint8 length) internal pure returns (uint256) {
        return gtinBody / 10 ** (MAX_PREFIX - length);
    }

    /// @notice The first {MIN_PREFIX} digits of a GTIN body (where every company prefix of it
    ///         starts).
    function bodyHead(uint256 gtinBody) internal pure returns (uint256) {
        return gtinBody / 1e6; // 10 ** (MAX_PREFIX - MIN_PREFIX), folded
    }

    /// @notice The first {MIN_PREFIX} digits of a company prefix of `length` digits.
    function head(uint256 prefix, uint8 length) internal pure returns (uint256) {
        return prefix / 10 ** (length - MIN_PREFIX);
    }

    /// @notice True when `prefix` fits in `length` digits and `length` is an attestable length.
    function isValidPrefix(uint256 prefix, uint8 length) internal pure returns (bool) {
        return length >= MIN_PREFIX && length <= MAX_PREFIX && prefix < 10 ** length;
    }
}
