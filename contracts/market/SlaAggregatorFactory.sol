// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IThresholdAggregatorFactory} from "../interfaces/IThresholdAggregatorFactory.sol";
import {IOrderMatching} from "../interfaces/IOrderMatching.sol";
import {IThresholdAggregator} from "../interfaces/IThresholdAggregator.sol";
import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {Schnorr} from "../crypto/Schnorr.sol";
import {SlaThresholdAggregator} from "../aggregation/SlaThresholdAggregator.sol";

/// @title SlaAggregatorFactory
/// @notice Creates the SlaThresholdAggregators of the market's off-chain-aggregation SLAs with
///         CREATE2 once their committees agree on a group key (see IThresholdAggregatorFactory).
///         The market creates it in its constructor and is the only account that may confirm.
/// @dev The SLA id and group key live in transient storage from just before the CREATE2 to just
///      after it; the committee is the market's (`committeeOf`), f = ⌊(n−1)/3⌋ as the market's.
///      Fixed for every SLA aggregator: epoch 1, answers bounded only by int128 (as the market's
///      commit–reveal rounds), 0 decimals (the answer is the job's integer result), description
///      "Orakel SLA".
contract SlaAggregatorFactory is IThresholdAggregatorFactory {
    /// @notice The epoch (config version) of every SLA aggregator.
    uint32 public constant EPOCH = 1;
    /// @notice The decimals every SLA aggregator reports.
    uint8 public constant DECIMALS = 0;

    address private immutable i_market;
    bytes32 private immutable i_initCodeHash;

    /// @dev Members of an SLA that confirmed a key (bit i = committee index i).
    mapping(uint256 slaId => uint256) private s_confirmed;
    /// @dev Members of an SLA that confirmed the key keccak256(abi.encode(px, parity)).
    mapping(uint256 slaId => mapping(bytes32 key => uint256)) private s_votes;

    /// @dev The deployment in progress (zero outside `_deploy`).
    uint256 private transient t_slaId;
    uint256 private transient t_px;
    uint8 private transient t_parity;

    constructor() {
        i_market = msg.sender;
        i_initCodeHash = keccak256(type(SlaThresholdAggregator).creationCode);
    }

    /// @inheritdoc IThresholdAggregatorFactory
    function confirm(uint256 slaId, address oracle, uint256 px, uint8 parity) external returns (address aggregator) {
        if (msg.sender != i_market) revert NotMarket(msg.sender);
        if (!_isGroupKey(px, parity)) revert IOrderMatching.InvalidGroupKey(px, parity);
        address[] memory committee = IOrderMatching(i_market).committeeOf(slaId);
        uint256 n = committee.length;
        uint256 index = n;
        for (uint256 i = 0; i < n; ++i) {
            if (committee[i] == oracle) index = i;
        }
        if (index == n) revert IOrderMatching.NotCommitteeMember(slaId, oracle);
        uint256 bit = 1 << index;
        uint256 confirmed = s_confirmed[slaId];
        if (confirmed & bit != 0) revert IOrderMatching.KeyAlreadyConfirmed(slaId, oracle);
        s_confirmed[slaId] = confirmed | bit;
        bytes32 key = _keyHash(px, parity);
        uint256 votes = s_votes[slaId][key] | bit;
        s_votes[slaId][key] = votes;
        emit GroupKeyConfirmed(slaId, oracle, px, parity);
        // At most one key can reach n − f confirmations (two would need 2(n − f) ≤ n members),
        // and it reaches it exactly once.
        if (_popcount(votes) == n - (n - 1) / 3) aggregator = _deploy(slaId, px, parity);
    }

    function _deploy(uint256 slaId, uint256 px, uint8 parity) private returns (address aggregator) {
        address predicted = predict(slaId);
        if (predicted.code.length != 0) revert AlreadyDeployed(slaId, predicted);
        t_slaId = slaId;
        t_px = px;
        t_parity = parity;
        aggregator = address(new SlaThresholdAggregator{salt: _salt(slaId)}());
        t_slaId = 0;
        t_px = 0;
        t_parity = 0;
        emit AggregatorDeployed(slaId, aggregator, px, parity);
    }

    /// @inheritdoc IThresholdAggregatorFactory
    function outcome(uint256 slaId, uint256 deadline)
        external
        view
        returns (bool answered, int256 answer, uint256 updatedAt, uint256 confirmedBitmap)
    {
        address aggregator = predict(slaId);
        if (aggregator.code.length == 0) return (false, 0, 0, 0);
        (uint256 px, uint8 parity) = IThresholdAggregator(aggregator).groupKey();
        confirmedBitmap = s_votes[slaId][_keyHash(px, parity)];
        // Only the latest round is kept; only the committee can make a round land, so a later
        // round overwriting an answer that was in time before anyone settled is its own doing.
        try AggregatorV3Interface(aggregator).latestRoundData() returns (
            uint80, int256 a, uint256, uint256 u, uint80
        ) {
            if (u <= deadline) (answered, answer, updatedAt) = (true, a, u);
        } catch {}
    }

    /// @inheritdoc IThresholdAggregatorFactory
    function confirmations(uint256 slaId) external view returns (uint256) {
        return s_confirmed[slaId];
    }

    /// @inheritdoc IThresholdAggregatorFactory
    function parameters() external view returns (Parameters memory) {
        uint256 slaId = t_slaId;
        if (slaId == 0) revert NotDeploying();
        address[] memory oracles = IOrderMatching(i_market).committeeOf(slaId);
        return Parameters({
            px: t_px,
            parity: t_parity,
            oracles: oracles,
            f: uint8((oracles.length - 1) / 3),
            epoch: EPOCH,
            minAnswer: type(int128).min,
            maxAnswer: type(int128).max,
            decimals: DECIMALS,
            description: "Orakel SLA"
        });
    }

    /// @inheritdoc IThresholdAggregatorFactory
    function predict(uint256 slaId) public view returns (address) {
        return address(
            uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), _salt(slaId), i_initCodeHash))))
        );
    }

    /// @inheritdoc IThresholdAggregatorFactory
    function market() external view returns (address) {
        return i_market;
    }

    /// @inheritdoc IThresholdAggregatorFactory
    function initCodeHash() external view returns (bytes32) {
        return i_initCodeHash;
    }

    function _salt(uint256 slaId) private view returns (bytes32) {
        return keccak256(abi.encode(i_market, slaId));
    }

    function _keyHash(uint256 px, uint8 parity) private pure returns (bytes32) {
        return keccak256(abi.encode(px, parity));
    }

    /// @dev Whether (px, parity) is a key the Schnorr verifier accepts and a secp256k1 point:
    ///      0 < px < Q, parity 0 or 1, and px³ + 7 a square mod P (Euler's criterion, one modexp).
    function _isGroupKey(uint256 px, uint8 parity) private view returns (bool valid) {
        if (px == 0 || px >= Schnorr.Q || parity > 1) return false;
        uint256 p = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;
        uint256 rhs = addmod(mulmod(mulmod(px, px, p), px, p), 7, p);
        assembly ("memory-safe") {
            // modexp(rhs, (p − 1) / 2, p), in scratch memory past the free memory pointer.
            let ptr := mload(0x40)
            mstore(ptr, 32)
            mstore(add(ptr, 0x20), 32)
            mstore(add(ptr, 0x40), 32)
            mstore(add(ptr, 0x60), rhs)
            mstore(add(ptr, 0x80), shr(1, sub(p, 1)))
            mstore(add(ptr, 0xa0), p)
            let ok := staticcall(gas(), 5, ptr, 0xc0, ptr, 0x20)
            valid := and(ok, eq(mload(ptr), 1))
        }
    }

    function _popcount(uint256 x) private pure returns (uint256 count) {
        while (x != 0) {
            x &= x - 1;
            ++count;
        }
    }
}
