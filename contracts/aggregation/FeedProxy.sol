// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {Owned} from "../shared/Owned.sol";

/// @title FeedProxy
/// @notice A fixed address for a feed whose aggregator changes (a new committee epoch deploys a
///         new ThresholdAggregator): readers call the proxy, the owner points it at the current
///         aggregator. Reads pass through unchanged.
contract FeedProxy is AggregatorV3Interface, Owned {
    /// @notice The aggregator must be a contract.
    error InvalidAggregator(address aggregator);

    /// @notice Reads now go to `current` (they went to `previous`).
    event AggregatorChanged(address indexed previous, address indexed current);

    AggregatorV3Interface public aggregator;

    constructor(address initialOwner, AggregatorV3Interface aggregator_) Owned(initialOwner) {
        _set(aggregator_);
    }

    /// @notice Points the proxy at `next` (owner only).
    function setAggregator(AggregatorV3Interface next) external onlyOwner {
        _set(next);
    }

    function _set(AggregatorV3Interface next) private {
        if (address(next).code.length == 0) revert InvalidAggregator(address(next));
        emit AggregatorChanged(address(aggregator), address(next));
        aggregator = next;
    }

    /// @inheritdoc AggregatorV3Interface
    function decimals() external view returns (uint8) {
        return aggregator.decimals();
    }

    /// @inheritdoc AggregatorV3Interface
    function description() external view returns (string memory) {
        return aggregator.description();
    }

    /// @inheritdoc AggregatorV3Interface
    function version() external view returns (uint256) {
        return aggregator.version();
    }

    /// @inheritdoc AggregatorV3Interface
    function getRoundData(uint80 roundId) external view returns (uint80, int256, uint256, uint256, uint80) {
        return aggregator.getRoundData(roundId);
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return aggregator.latestRoundData();
    }
}
