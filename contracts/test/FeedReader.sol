// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title FeedReader
/// @notice A consumer written only against AggregatorV3Interface, as a price-feed reader would
///         be: it reads the latest round and refuses answers older than `maxAge`.
contract FeedReader {
    error StaleAnswer(uint256 updatedAt, uint256 maxAge);
    error NonPositiveAnswer(int256 answer);

    AggregatorV3Interface public immutable feed;
    uint256 public immutable maxAge;

    constructor(AggregatorV3Interface feed_, uint256 maxAge_) {
        feed = feed_;
        maxAge = maxAge_;
    }

    /// @notice The latest round as the feed reports it.
    function latest()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return feed.latestRoundData();
    }

    /// @notice The latest answer scaled to 18 decimals, if fresh and positive.
    function price() external view returns (uint256) {
        (, int256 answer,, uint256 updatedAt,) = feed.latestRoundData();
        if (answer <= 0) revert NonPositiveAnswer(answer);
        if (block.timestamp - updatedAt > maxAge) revert StaleAnswer(updatedAt, maxAge);
        return uint256(answer) * 10 ** (18 - feed.decimals());
    }
}
