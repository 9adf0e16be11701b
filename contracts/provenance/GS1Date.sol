// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title GS1Date
/// @notice GS1 six-digit dates (YYMMDD, e.g. the expiry date of AI (17)) read the one way the
///         CareLedger Python and JavaScript clients read them too (shared test vectors in
///         tests/data/gs1_expiry_vectors.json):
///         - century: GS1 General Specifications section 7.12 ("Determination of century in
///           dates"): with CY the last two digits of the current year, YY - CY >= 51 is in the
///           previous century, YY - CY <= -50 in the next one, anything else in the current
///           century; so the year lies from 49 years before to 50 years after the current year.
///           "Current year" is the UTC calendar year of the timestamp given (on chain:
///           `block.timestamp`), never a constant.
///         - DD = 00 means the last day of the month (the General Specifications' definition of
///           AI (17) and the other YYMMDD date AIs).
///         - the calendar is the proleptic Gregorian one, in UTC.
/// @dev    Day counts use Howard Hinnant's days_from_civil / civil_from_days algorithms
///         ("chrono-Compatible Low-Level Date Algorithms"), counted from 0000-03-01 so that every
///         intermediate value of the unsigned arithmetic stays non-negative.
library GS1Date {
    /// @notice `value` is not a GS1 date YYMMDD: more than six digits, or a month outside 01-12.
    error InvalidGs1Date(uint256 value);
    /// @notice Day `day` of YYMMDD `value` does not exist: month `month` of `year` (the year the
    ///         century rule gave) has `daysInMonth` days.
    error NoSuchDay(uint256 value, uint256 year, uint256 month, uint256 day, uint256 daysInMonth);

    /// @dev Days from 0000-03-01 to 1970-01-01.
    uint256 private constant _EPOCH = 719_468;

    /// @notice The unix time at which a product with expiry `yymmdd`, read at `timestamp`, is
    ///         expired: 00:00:00 UTC of the day after its expiry date (the product may be used
    ///         throughout the expiry date). 0 for a date before 1970 (long expired).
    function expiresAt(uint256 yymmdd, uint256 timestamp) internal pure returns (uint256) {
        (uint256 year, uint256 month, uint256 day) = toDate(yymmdd, timestamp);
        uint256 next = daysFromCivil(year, month, day) + 1;
        return next > _EPOCH ? (next - _EPOCH) * 1 days : 0;
    }

    /// @notice The calendar date `yymmdd` stands for when read at unix time `timestamp`.
    ///         Reverts {InvalidGs1Date} or {NoSuchDay}.
    function toDate(
        uint256 yymmdd,
        uint256 timestamp
    ) internal pure returns (uint256 year, uint256 month, uint256 day) {
        if (yymmdd > 999_999) revert InvalidGs1Date(yymmdd);
        month = (yymmdd / 100) % 100;
        if (month == 0 || month > 12) revert InvalidGs1Date(yymmdd);
        year = centuryYear(yymmdd / 10_000, yearOf(timestamp));
        day = yymmdd % 100;
        uint256 last = daysInMonth(year, month);
        if (day == 0) return (year, month, last);
        if (day > last) revert NoSuchDay(yymmdd, year, month, day, last);
    }

    /// @notice The four-digit year of two-digit year `yy` in `currentYear` (GS1 GS 7.12).
    function centuryYear(uint256 yy, uint256 currentYear) internal pure returns (uint256) {
        uint256 cy = currentYear % 100;
        uint256 century = currentYear - cy;
        if (yy >= cy + 51) return century - 100 + yy; // YY - CY >= 51: previous century
        if (yy + 50 <= cy) return century + 100 + yy; // YY - CY <= -50: next century
        return century + yy;
    }

    /// @notice The UTC calendar year of unix time `timestamp` (Hinnant's civil_from_days).
    function yearOf(uint256 timestamp) internal pure returns (uint256) {
        uint256 z = timestamp / 1 days + _EPOCH;
        uint256 era = z / 146_097;
        uint256 doe = z - era * 146_097; // [0, 146096]
        uint256 yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
        uint256 doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from 1 March
        // doy >= 306 is January or February, which belong to the next civil year.
        return era * 400 + yoe + (doy >= 306 ? 1 : 0);
    }

    /// @notice Days from 0000-03-01 to `year`-`month`-`day` (Hinnant's days_from_civil).
    function daysFromCivil(uint256 year, uint256 month, uint256 day) internal pure returns (uint256) {
        uint256 y = month <= 2 ? year - 1 : year; // year >= 1 wherever the centuries start at 1900+
        uint256 era = y / 400;
        uint256 yoe = y - era * 400; // [0, 399]
        uint256 mp = month > 2 ? month - 3 : month + 9; // March = 0
        uint256 doy = (153 * mp + 2) / 5 + day - 1; // [0, 365]
        uint256 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
        return era * 146_097 + doe;
    }

    function daysInMonth(uint256 year, uint256 month) internal pure returns (uint256) {
        if (month == 2) return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28;
        if (month == 4 || month == 6 || month == 9 || month == 11) return 30;
        return 31;
    }
}
