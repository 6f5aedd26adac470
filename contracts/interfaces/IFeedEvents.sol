// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IFeedEvents
/// @notice The events of Chainlink's feed interface (AggregatorInterface), emitted by every
///         Orakel feed so indexers written for Chainlink feeds follow ours.
interface IFeedEvents {
    /// @notice A round finalised with `current`.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    /// @notice A round was started by `startedBy`.
    event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);
}
