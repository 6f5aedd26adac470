// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title GasSink
/// @notice Benchmark-only consumer: the same small callback (two stores) for every Operator
///         being measured, so differences in gas come from the Operator alone.
contract GasSink {
    bytes32 public lastRequestId;
    uint256 public lastValue;

    function fulfill(bytes32 requestId, uint256 value) external {
        lastRequestId = requestId;
        lastValue = value;
    }

    function fulfillBytes(bytes32 requestId, bytes calldata value) external {
        lastRequestId = requestId;
        lastValue = value.length;
    }
}
