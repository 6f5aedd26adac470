// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title FeedMetadata
/// @notice The descriptive part of AggregatorV3Interface shared by Orakel's feeds: decimals,
///         description and version, fixed at deployment.
abstract contract FeedMetadata is AggregatorV3Interface {
    uint8 private immutable i_decimals;
    string private s_description;

    constructor(uint8 decimals_, string memory description_) {
        i_decimals = decimals_;
        s_description = description_;
    }

    /// @inheritdoc AggregatorV3Interface
    function decimals() external view returns (uint8) {
        return i_decimals;
    }

    /// @inheritdoc AggregatorV3Interface
    function description() external view returns (string memory) {
        return s_description;
    }

    /// @inheritdoc AggregatorV3Interface
    function version() external pure returns (uint256) {
        return 1;
    }
}
