// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Aggregation
/// @notice Median, trimmed mean and majority over int256 values, as pure functions that work on
///         a sorted copy. Sorting is insertion sort: committees are small (the contracts using
///         these cap the count at MAX_VALUES).
library Aggregation {
    /// @notice The most values any function here accepts.
    uint256 internal constant MAX_VALUES = 255;

    /// @notice More values than MAX_VALUES were given.
    error TooManyValues(uint256 count, uint256 max);

    /// @notice The median: the middle value, or for an even count the mean of the two middle
    ///         values rounded toward zero. False for no values.
    function median(int256[] memory values) internal pure returns (bool ok, int256 answer) {
        uint256 n = values.length;
        if (n == 0) return (false, 0);
        int256[] memory s = sorted(values);
        if (n % 2 == 1) return (true, s[n / 2]);
        return (true, meanOfTwo(s[n / 2 - 1], s[n / 2]));
    }

    /// @notice The mean of the values left after dropping the `k` smallest and the `k` largest,
    ///         rounded toward zero. False unless more than 2k values are given.
    function trimmedMean(int256[] memory values, uint256 k)
        internal
        pure
        returns (bool ok, int256 answer)
    {
        uint256 n = values.length;
        if (n <= 2 * k) return (false, 0);
        int256[] memory s = sorted(values);
        // Sum as quotient and remainder parts so that no partial sum overflows int256.
        uint256 m = n - 2 * k;
        int256 m_ = int256(m);
        int256 q;
        int256 r;
        for (uint256 i = k; i < n - k; i++) {
            q += s[i] / m_;
            r += s[i] % m_;
        }
        // |r| < m * m ≤ 255²: exact; q + r / m is the mean rounded toward zero, except when q
        // and the remainder sum have opposite signs, corrected below.
        int256 mean = q + r / m_;
        int256 rest = r % m_;
        if (mean > 0 && rest < 0) mean -= 1;
        else if (mean < 0 && rest > 0) mean += 1;
        return (true, mean);
    }

    /// @notice The value at least `threshold` of the values are equal to. False when none is
    ///         (two values cannot both reach a threshold over half the count; with a lower
    ///         threshold the smallest such value wins).
    function majority(int256[] memory values, uint256 threshold)
        internal
        pure
        returns (bool ok, int256 answer)
    {
        uint256 n = values.length;
        if (n == 0 || threshold == 0) return (false, 0);
        int256[] memory s = sorted(values);
        uint256 run = 1;
        for (uint256 i = 1; i <= n; i++) {
            if (i < n && s[i] == s[i - 1]) {
                run++;
                continue;
            }
            if (run >= threshold) return (true, s[i - 1]);
            run = 1;
        }
        return (false, 0);
    }

    /// @notice A sorted copy of `values` (ascending).
    function sorted(int256[] memory values) internal pure returns (int256[] memory s) {
        uint256 n = values.length;
        if (n > MAX_VALUES) revert TooManyValues(n, MAX_VALUES);
        s = new int256[](n);
        for (uint256 i = 0; i < n; i++) {
            int256 v = values[i];
            uint256 j = i;
            while (j > 0 && s[j - 1] > v) {
                s[j] = s[j - 1];
                j--;
            }
            s[j] = v;
        }
    }

    /// @notice (a + b) / 2 rounded toward zero, without overflow.
    function meanOfTwo(int256 a, int256 b) internal pure returns (int256) {
        int256 half = a / 2 + b / 2;
        int256 odd = a % 2 + b % 2; // -2..2
        int256 mean = half + odd / 2;
        // half and odd/2 exact; when they have opposite signs, a remainder of ±1 rounds the
        // wrong way: correct toward zero.
        int256 rest = odd % 2;
        if (mean > 0 && rest < 0) mean -= 1;
        else if (mean < 0 && rest > 0) mean += 1;
        return mean;
    }
}
