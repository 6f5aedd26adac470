// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IAggregationFunction
/// @notice How an aggregating contract turns the values an oracle committee revealed into one
///         answer (whitepaper §4.2). A purchaser may name its own implementation.
interface IAggregationFunction {
    /// @notice Aggregates `values` (in any order; they are not modified).
    /// @param values The revealed values of one round.
    /// @return ok False when the function cannot decide from these values (too few of them, no
    ///         majority...); the round then waits for more reveals or fails at its deadline.
    /// @return answer The aggregate; meaningless when `ok` is false.
    function aggregate(int256[] calldata values) external view returns (bool ok, int256 answer);
}
