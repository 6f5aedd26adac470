// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAggregationFunction} from "../interfaces/IAggregationFunction.sol";
import {Aggregation} from "./Aggregation.sol";

/// @title MedianAggregation
/// @notice The median of at least `minValues` values. With 2f+1 for a committee tolerating f
///         liars, at most f values lie on either side of the honest ones, so the median stays
///         within the honest values' range.
contract MedianAggregation is IAggregationFunction {
    /// @notice The parameter must be at least 1.
    error InvalidParameter();

    /// @notice Fewer values than this: no answer.
    uint256 public immutable minValues;

    constructor(uint256 minValues_) {
        if (minValues_ == 0) revert InvalidParameter();
        minValues = minValues_;
    }

    /// @inheritdoc IAggregationFunction
    function aggregate(int256[] calldata values) external view returns (bool ok, int256 answer) {
        if (values.length < minValues) return (false, 0);
        return Aggregation.median(values);
    }
}

/// @title TrimmedMeanAggregation
/// @notice The mean after dropping the `k` largest and the `k` smallest values (k = f drops any
///         f liars); needs more than 2k values.
contract TrimmedMeanAggregation is IAggregationFunction {
    /// @notice Values dropped at each end.
    uint256 public immutable k;

    constructor(uint256 k_) {
        k = k_;
    }

    /// @inheritdoc IAggregationFunction
    function aggregate(int256[] calldata values) external view returns (bool ok, int256 answer) {
        return Aggregation.trimmedMean(values, k);
    }
}

/// @title MajorityAggregation
/// @notice The value at least `threshold` values agree on (f+1 for a committee tolerating f
///         liars: at least one honest oracle reported it). For yes/no and other discrete answers.
contract MajorityAggregation is IAggregationFunction {
    /// @notice The parameter must be at least 1.
    error InvalidParameter();

    /// @notice Equal values needed.
    uint256 public immutable threshold;

    constructor(uint256 threshold_) {
        if (threshold_ == 0) revert InvalidParameter();
        threshold = threshold_;
    }

    /// @inheritdoc IAggregationFunction
    function aggregate(int256[] calldata values) external view returns (bool ok, int256 answer) {
        return Aggregation.majority(values, threshold);
    }
}
