// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title AggregatorV3Interface
/// @notice The read interface of a price feed, with the same functions and selectors as
///         Chainlink's, so contracts written against it read Orakel feeds unchanged.
interface AggregatorV3Interface {
    /// @notice Decimal places of `answer` (8 means an answer of 123456789 reads 1.23456789).
    function decimals() external view returns (uint8);

    /// @notice What the feed reports, e.g. "ETH / USD".
    function description() external view returns (string memory);

    /// @notice Version of the feed contract.
    function version() external view returns (uint256);

    /// @notice One finalised round of the feed.
    /// @dev Reverts for a round that does not exist or did not produce an answer.
    function getRoundData(uint80 roundId)
        external
        view
        returns (uint80 roundId_, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);

    /// @notice The newest finalised round. `updatedAt` tells how old the answer is.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}
