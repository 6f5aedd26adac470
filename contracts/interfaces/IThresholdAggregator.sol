// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IFeedEvents} from "./IFeedEvents.sol";

/// @title IThresholdAggregator
/// @notice A feed answered by off-chain aggregation (whitepaper Appendix A): the committee agrees
///         on a report off chain and one threshold Schnorr signature Σ under the committee's
///         group key authorises it, whatever the committee's size. One transaction, one
///         `ecrecover`.
/// @dev One contract is one committee epoch: the group key, the committee, f, the bounds and the
///      config digest are fixed at deployment. A committee change deploys a new aggregator (its
///      address enters the digest, so no report of the old one is valid here); readers follow a
///      `FeedProxy`. The signed message is
///      `keccak256(abi.encode(configDigest, round, answer, observationsHash))` with
///      `configDigest = keccak256(abi.encode(block.chainid, address(this), keccak256(abi.encodePacked(committee)), f, epoch))`.
///      Anyone may transmit a validly signed report: the committee picks its transmitter, and
///      fallbacks need no permission. Only the latest answer is stored (the history is in the
///      `AnswerUpdated` events, the observations hash and the transmitter in the transmitting
///      transactions), which keeps a transmission at one storage write and one event.
interface IThresholdAggregator is IFeedEvents {
    /// @notice The group key's x coordinate must lie in (0, Q) and its parity be 0 or 1.
    error InvalidGroupKey(uint256 px, uint8 parity);
    /// @notice The committee must have 1 to 255 members and n ≥ 3f+1.
    error InvalidCommittee(uint256 n, uint256 f);
    /// @notice A committee member is the zero address or appears twice.
    error InvalidOracle(address oracle);
    /// @notice `minAnswer` must not exceed `maxAnswer`.
    error InvalidBounds(int192 minAnswer, int192 maxAnswer);
    /// @notice Reports must be for a round newer than the latest (`latest`).
    error StaleRound(uint32 round, uint32 latest);
    /// @notice The answer lies outside [minAnswer, maxAnswer]; it is refused, never clamped.
    error AnswerOutOfBounds(int192 answer, int192 minAnswer, int192 maxAnswer);
    /// @notice Σ is not the committee's signature of this report for this contract and chain.
    error InvalidSignature();
    /// @notice No answer for this round (only the latest round is kept).
    error NoDataPresent();

    /// @notice Accepts a report signed by the committee (Σ = (s, nonceAddress), see Schnorr.sol).
    function transmit(uint32 round, int192 answer, bytes32 observationsHash, uint256 s, address nonceAddress)
        external;

    /// @notice The message Σ must sign for this report.
    function reportMessage(uint32 round, int192 answer, bytes32 observationsHash) external view returns (bytes32);

    /// @notice The digest every signed message binds.
    function configDigest() external view returns (bytes32);

    /// @notice The committee's group key (x coordinate, parity of y).
    function groupKey() external view returns (uint256 px, uint8 parity);

    /// @notice The committee, f, and the epoch number.
    function committee() external view returns (address[] memory oracles, uint8 f, uint32 epoch);

    /// @notice The answer bounds.
    function bounds() external view returns (int192 minAnswer, int192 maxAnswer);
}
