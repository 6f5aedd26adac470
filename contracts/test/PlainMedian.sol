// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Aggregation} from "../aggregation/Aggregation.sol";

/// @title PlainMedian
/// @notice Benchmark anchor: the simplest in-contract aggregation, without commit–reveal. Each
///         of n oracles submits its value once per round; the n-th submission stores the median.
///         Freeloaders can copy earlier submissions — this is what commit–reveal costs to prevent.
contract PlainMedian {
    error NotOracle(address caller);
    error AlreadySubmitted(uint256 roundId, address oracle);

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    mapping(address oracle => bool) public isOracle;
    uint256 public immutable n;
    mapping(uint256 roundId => int256[]) private s_values;
    mapping(uint256 roundId => mapping(address oracle => bool)) private s_submitted;
    int256 public latestAnswer;
    uint256 public latestRound;

    constructor(address[] memory oracles) {
        for (uint256 i = 0; i < oracles.length; ++i) isOracle[oracles[i]] = true;
        n = oracles.length;
    }

    function submit(uint256 roundId, int256 value) external {
        if (!isOracle[msg.sender]) revert NotOracle(msg.sender);
        if (s_submitted[roundId][msg.sender]) revert AlreadySubmitted(roundId, msg.sender);
        s_submitted[roundId][msg.sender] = true;
        int256[] storage values = s_values[roundId];
        values.push(value);
        if (values.length == n) {
            (, int256 answer) = Aggregation.median(values);
            latestAnswer = answer;
            latestRound = roundId;
            emit AnswerUpdated(answer, roundId, block.timestamp);
        }
    }
}
