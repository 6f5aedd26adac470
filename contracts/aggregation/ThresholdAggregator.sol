// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IThresholdAggregator} from "../interfaces/IThresholdAggregator.sol";
import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {FeedMetadata} from "./FeedMetadata.sol";
import {Schnorr} from "../crypto/Schnorr.sol";

/// @title ThresholdAggregator
/// @notice One committee epoch's feed, answered by one threshold Schnorr signature per round
///         (see IThresholdAggregator).
/// @dev Gas: the key, digest and bounds are immutables (no storage reads); a transmission reads
///      and writes one slot (answer, round, time) and calls `ecrecover` once.
contract ThresholdAggregator is IThresholdAggregator, FeedMetadata {
    struct Latest {
        int192 answer;
        uint32 round;
        uint32 updatedAt;
    }

    uint256 private immutable i_px;
    uint8 private immutable i_parity;
    bytes32 private immutable i_configDigest;
    int192 private immutable i_minAnswer;
    int192 private immutable i_maxAnswer;
    uint8 private immutable i_f;
    uint32 private immutable i_epoch;

    Latest private s_latest;
    address[] private s_oracles;

    /// @param px The group key's x coordinate (from the committee's DKG).
    /// @param parity The parity of the group key's y coordinate.
    /// @param oracles The committee (their on-chain addresses).
    /// @param f Faulty members tolerated (n ≥ 3f+1; t = f+1 partials make a signature).
    /// @param epoch The committee epoch (increases with each new aggregator of a feed).
    /// @param minAnswer Smallest acceptable answer.
    /// @param maxAnswer Largest acceptable answer.
    /// @param decimals_ Decimal places of answers.
    /// @param description_ What the feed reports.
    constructor(
        uint256 px,
        uint8 parity,
        address[] memory oracles,
        uint8 f,
        uint32 epoch,
        int192 minAnswer,
        int192 maxAnswer,
        uint8 decimals_,
        string memory description_
    ) FeedMetadata(decimals_, description_) {
        if (px == 0 || px >= Schnorr.Q || parity > 1) revert InvalidGroupKey(px, parity);
        uint256 n = oracles.length;
        if (n == 0 || n > type(uint8).max || n < 3 * uint256(f) + 1) revert InvalidCommittee(n, f);
        for (uint256 i = 0; i < n; ++i) {
            if (oracles[i] == address(0)) revert InvalidOracle(oracles[i]);
            for (uint256 j = 0; j < i; ++j) {
                if (oracles[j] == oracles[i]) revert InvalidOracle(oracles[i]);
            }
        }
        if (minAnswer > maxAnswer) revert InvalidBounds(minAnswer, maxAnswer);
        i_px = px;
        i_parity = parity;
        i_f = f;
        i_epoch = epoch;
        i_minAnswer = minAnswer;
        i_maxAnswer = maxAnswer;
        i_configDigest =
            keccak256(abi.encode(block.chainid, address(this), keccak256(abi.encodePacked(oracles)), f, epoch));
        s_oracles = oracles;
    }

    /// @inheritdoc IThresholdAggregator
    function transmit(uint32 round, int192 answer, bytes32 observationsHash, uint256 s, address nonceAddress)
        external
    {
        uint32 latest = s_latest.round;
        if (round <= latest) revert StaleRound(round, latest);
        if (answer < i_minAnswer || answer > i_maxAnswer) revert AnswerOutOfBounds(answer, i_minAnswer, i_maxAnswer);
        if (!Schnorr.verify(i_px, i_parity, _message(round, answer, observationsHash), s, nonceAddress)) {
            revert InvalidSignature();
        }
        s_latest = Latest(answer, round, uint32(block.timestamp));
        emit AnswerUpdated(answer, round, block.timestamp);
    }

    /// @inheritdoc IThresholdAggregator
    function reportMessage(uint32 round, int192 answer, bytes32 observationsHash) external view returns (bytes32) {
        return _message(round, answer, observationsHash);
    }

    function _message(uint32 round, int192 answer, bytes32 observationsHash) private view returns (bytes32) {
        return keccak256(abi.encode(i_configDigest, round, answer, observationsHash));
    }

    /// @inheritdoc IThresholdAggregator
    function configDigest() external view returns (bytes32) {
        return i_configDigest;
    }

    /// @inheritdoc IThresholdAggregator
    function groupKey() external view returns (uint256 px, uint8 parity) {
        return (i_px, i_parity);
    }

    /// @inheritdoc IThresholdAggregator
    function committee() external view returns (address[] memory oracles, uint8 f, uint32 epoch) {
        return (s_oracles, i_f, i_epoch);
    }

    /// @inheritdoc IThresholdAggregator
    function bounds() external view returns (int192 minAnswer, int192 maxAnswer) {
        return (i_minAnswer, i_maxAnswer);
    }




    /// @inheritdoc AggregatorV3Interface
    /// @dev Only the latest round is kept; older rounds revert `NoDataPresent`.
    function getRoundData(uint80 roundId) public view returns (uint80, int256, uint256, uint256, uint80) {
        Latest memory l = s_latest;
        if (l.round == 0 || roundId != l.round) revert NoDataPresent();
        return (roundId, l.answer, l.updatedAt, l.updatedAt, roundId);
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return getRoundData(s_latest.round);
    }
}
