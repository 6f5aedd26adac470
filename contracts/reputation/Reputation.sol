// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IReputation} from "../interfaces/IReputation.sol";
import {Owned} from "../shared/Owned.sol";

/// @title Reputation
/// @notice Per-oracle, per-spec service record (whitepaper §5.2); see IReputation.
/// @dev Two slots per (oracle, specId), split by who writes them: an assignment touches only the
///      counts slot (assigned, deposits locked), so selecting a committee costs one write per
///      member; an outcome touches the counts slot and the totals slot.
contract Reputation is IReputation, Owned {
    /// @inheritdoc IReputation
    uint256 public constant SCORE_PRIOR = 3;

    uint256 private constant BPS = 10_000;

    /// @dev Written on assignment and on outcome.
    struct Counts {
        uint32 assigned;
        uint32 completed;
        uint32 accepted;
        uint32 missed;
        uint128 depositsLocked;
    }

    /// @dev Written on outcome only.
    struct Totals {
        uint64 totalResponseSeconds;
        uint128 penaltiesPaid;
    }

    mapping(address writer => bool) private s_writers;
    mapping(address oracle => mapping(bytes32 specId => Counts)) private s_counts;
    mapping(address oracle => mapping(bytes32 specId => Totals)) private s_totals;

    /// @param initialOwner Registers the writers.
    constructor(address initialOwner) Owned(initialOwner) {}

    modifier onlyWriter() {
        if (!s_writers[msg.sender]) revert NotWriter(msg.sender);
        _;
    }

    // ------------------------------------------------------------------ writes

    /// @inheritdoc IReputation
    function setWriter(address writer, bool allowed) external onlyOwner {
        if (writer == address(0)) revert ZeroAddress();
        s_writers[writer] = allowed;
        emit WriterSet(writer, allowed);
    }

    /// @inheritdoc IReputation
    function recordAssignments(bytes32 specId, address[] calldata oracles, uint256 deposit) external onlyWriter {
        for (uint256 i = 0; i < oracles.length; ++i) {
            address oracle = oracles[i];
            if (oracle == address(0)) revert ZeroAddress();
            Counts storage c = s_counts[oracle][specId];
            c.assigned += 1;
            c.depositsLocked += uint128(deposit);
            emit Assigned(oracle, specId, msg.sender, deposit);
        }
    }

    /// @inheritdoc IReputation
    function recordOutcomes(bytes32 specId, Outcome[] calldata outcomes) external onlyWriter {
        for (uint256 i = 0; i < outcomes.length; ++i) {
            Outcome calldata o = outcomes[i];
            if (o.oracle == address(0)) revert ZeroAddress();
            if (!o.completed && (o.accepted || o.responseSeconds != 0)) revert InvalidOutcome(o.oracle);
            Counts storage c = s_counts[o.oracle][specId];
            if (o.completed) {
                c.completed += 1;
                if (o.accepted) c.accepted += 1;
            } else {
                c.missed += 1;
            }
            if (o.responseSeconds != 0 || o.penalty != 0) {
                Totals storage t = s_totals[o.oracle][specId];
                t.totalResponseSeconds += o.responseSeconds;
                t.penaltiesPaid += o.penalty;
            }
            emit OutcomeRecorded(o.oracle, specId, msg.sender, o.completed, o.accepted, o.responseSeconds, o.penalty);
        }
    }

    // ------------------------------------------------------------------ reads

    /// @inheritdoc IReputation
    function isWriter(address account) external view returns (bool) {
        return s_writers[account];
    }

    /// @inheritdoc IReputation
    function getRecord(address oracle, bytes32 specId) public view returns (Record memory r) {
        Counts memory c = s_counts[oracle][specId];
        Totals memory t = s_totals[oracle][specId];
        r = Record({
            assigned: c.assigned,
            completed: c.completed,
            accepted: c.accepted,
            missed: c.missed,
            depositsLocked: c.depositsLocked,
            totalResponseSeconds: t.totalResponseSeconds,
            penaltiesPaid: t.penaltiesPaid
        });
    }

    /// @inheritdoc IReputation
    function getRecords(address[] calldata oracles, bytes32 specId) external view returns (Record[] memory records) {
        records = new Record[](oracles.length);
        for (uint256 i = 0; i < oracles.length; ++i) {
            records[i] = getRecord(oracles[i], specId);
        }
    }

    /// @inheritdoc IReputation
    function completionRateBps(address oracle, bytes32 specId) external view returns (uint256) {
        Counts memory c = s_counts[oracle][specId];
        return c.assigned == 0 ? 0 : (uint256(c.completed) * BPS) / c.assigned;
    }

    /// @inheritdoc IReputation
    function accuracyRateBps(address oracle, bytes32 specId) external view returns (uint256) {
        Counts memory c = s_counts[oracle][specId];
        return c.completed == 0 ? 0 : (uint256(c.accepted) * BPS) / c.completed;
    }

    /// @inheritdoc IReputation
    function averageResponseSeconds(address oracle, bytes32 specId) external view returns (uint256) {
        Counts memory c = s_counts[oracle][specId];
        return c.completed == 0 ? 0 : uint256(s_totals[oracle][specId].totalResponseSeconds) / c.completed;
    }

    /// @inheritdoc IReputation
    function score(address oracle, bytes32 specId) external view returns (uint256) {
        return _score(s_counts[oracle][specId]);
    }

    /// @inheritdoc IReputation
    function scores(address[] calldata oracles, bytes32 specId) external view returns (uint256[] memory out) {
        out = new uint256[](oracles.length);
        for (uint256 i = 0; i < oracles.length; ++i) {
            out[i] = _score(s_counts[oracles[i]][specId]);
        }
    }

    function _score(Counts memory c) private pure returns (uint256) {
        return (uint256(c.accepted) * BPS) / (uint256(c.completed) + c.missed + SCORE_PRIOR);
    }
}
