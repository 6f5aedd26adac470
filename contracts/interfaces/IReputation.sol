// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IReputation
/// @notice Public record of how oracles served, per oracle and per job type (spec id): the
///         reputation metrics of whitepaper §5.2. Written only by writers the owner registers
///         (the order-matching market, aggregators); read by anyone, so a purchaser's selection
///         and any indexer see the same numbers.
/// @dev Stored per (oracle, specId): assigned, completed, accepted and missed counts, total
///      response seconds, penalties paid and deposits locked (cumulative). Rates, the average
///      response time and the selection score are derived on reading, never stored twice.
///
///      score = accepted × 10,000 / (completed + missed + SCORE_PRIOR), in [0, 10,000): the
///      share of recorded outcomes that were accepted, counted as if every oracle had started
///      with SCORE_PRIOR outcomes that were not, so a long record of accepted answers outranks a
///      short perfect one. An oracle never assigned (or with no outcome yet) scores 0, so a
///      minimum reputation of 0 admits newcomers.
interface IReputation {
    // ------------------------------------------------------------------ types

    /// @notice What is recorded about one oracle for one spec id.
    /// @param assigned Times it was selected to serve this spec.
    /// @param completed Outcomes in which it answered (revealed a valid value).
    /// @param accepted Completed outcomes whose answer agreed with the aggregate.
    /// @param missed Outcomes in which it did not answer.
    /// @param depositsLocked Sum of the penalty deposits it had locked when assigned (LINK).
    /// @param totalResponseSeconds Sum of its response times over completed outcomes.
    /// @param penaltiesPaid Sum of the deposits it forfeited (LINK).
    struct Record {
        uint32 assigned;
        uint32 completed;
        uint32 accepted;
        uint32 missed;
        uint128 depositsLocked;
        uint64 totalResponseSeconds;
        uint128 penaltiesPaid;
    }

    /// @notice One outcome to record.
    /// @param oracle Whose outcome.
    /// @param completed It answered.
    /// @param accepted Its answer agreed with the aggregate (requires `completed`).
    /// @param responseSeconds Seconds from the round's start to its answer (0 unless completed).
    /// @param penalty LINK it forfeited (0 when none).
    struct Outcome {
        address oracle;
        bool completed;
        bool accepted;
        uint32 responseSeconds;
        uint96 penalty;
    }

    // ------------------------------------------------------------------ errors

    /// @notice Only a registered writer may record.
    error NotWriter(address caller);
    /// @notice The zero address cannot be a writer or an oracle.
    error ZeroAddress();
    /// @notice An outcome of `oracle` is accepted without being completed, or carries a response
    ///         time without being completed.
    error InvalidOutcome(address oracle);

    // ------------------------------------------------------------------ events

    /// @notice `writer` may (or may no longer) record.
    event WriterSet(address indexed writer, bool allowed);

    /// @notice `oracle` was selected to serve `specId`, locking `deposit` LINK.
    event Assigned(address indexed oracle, bytes32 indexed specId, address indexed writer, uint256 deposit);

    /// @notice An outcome of `oracle` for `specId` was recorded.
    event OutcomeRecorded(
        address indexed oracle,
        bytes32 indexed specId,
        address indexed writer,
        bool completed,
        bool accepted,
        uint256 responseSeconds,
        uint256 penalty
    );

    // ------------------------------------------------------------------ writes

    /// @notice Lets `writer` record (or stops it). Owner only.
    function setWriter(address writer, bool allowed) external;

    /// @notice Records that `oracles` were selected for `specId`, each locking `deposit` LINK.
    ///         Writers only.
    function recordAssignments(bytes32 specId, address[] calldata oracles, uint256 deposit) external;

    /// @notice Records the outcomes of one round of `specId`. Writers only.
    function recordOutcomes(bytes32 specId, Outcome[] calldata outcomes) external;

    // ------------------------------------------------------------------ reads

    /// @notice Whether `account` may record.
    function isWriter(address account) external view returns (bool);

    /// @notice The record of `oracle` for `specId` (all zero if never written).
    function getRecord(address oracle, bytes32 specId) external view returns (Record memory);

    /// @notice The records of several oracles for `specId`, in the order given.
    function getRecords(address[] calldata oracles, bytes32 specId) external view returns (Record[] memory);

    /// @notice completed × 10,000 / assigned (0 when never assigned).
    function completionRateBps(address oracle, bytes32 specId) external view returns (uint256);

    /// @notice accepted × 10,000 / completed (0 when nothing completed).
    function accuracyRateBps(address oracle, bytes32 specId) external view returns (uint256);

    /// @notice totalResponseSeconds / completed (0 when nothing completed), rounded down.
    function averageResponseSeconds(address oracle, bytes32 specId) external view returns (uint256);

    /// @notice The selection score of `oracle` for `specId` (see the formula above), in basis points.
    function score(address oracle, bytes32 specId) external view returns (uint256);

    /// @notice The scores of several oracles for `specId`, in the order given.
    function scores(address[] calldata oracles, bytes32 specId) external view returns (uint256[] memory);

    /// @notice Outcomes counted as unaccepted that every oracle starts with in its score.
    function SCORE_PRIOR() external view returns (uint256);
}
