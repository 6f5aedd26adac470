// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IFeedEvents} from "./IFeedEvents.sol";

/// @title ICommitRevealAggregator
/// @notice In-contract aggregation with commit–reveal (whitepaper §4.2, Algorithm 1): a committee
///         of n ≥ 3f+1 oracles answers each round. Rounds are opened either by a request (a
///         consumer's `LINK.transferAndCall` with Chainlink's `oracleRequest`/`operatorRequest`
///         payload, so a ChainlinkClient consumer may name this contract as its oracle) or, for
///         the feed this contract also serves, by a committee member (`startFeedRound`).
/// @dev A round:
///      1. Commit: each member sends `commit(roundId, c)` with
///         `c = keccak256(abi.encode(block.chainid, address(this), configVersion, roundId,
///         oracle, value, salt))` (see `commitmentFor`), so a commitment can be neither opened by
///         another oracle nor replayed in another round, contract or chain.
///      2. Reveals open once `revealThreshold` members (max(2f+1, minReveals)) committed, or
///         once the commit window ended. Commits are refused from the first reveal on, so no one
///         can commit to a value it saw revealed.
///      3. `reveal(roundId, value, salt)` must open the caller's own commitment. Each valid
///         revealer is paid `paymentPerAnswer` at once. When at least `minReveals` values are
///         revealed and the aggregation function can decide, the round finalises: the answer is
///         stored (and, for a request, passed to the consumer with bounded gas; a reverting
///         consumer does not undo the round), escrow no revealer can still claim is refunded.
///         Members that committed may still reveal (and be paid) until the reveal deadline.
///      4. After the reveal deadline anyone may `settle`: an unfinalised round fails and all its
///         remaining escrow is refunded (to the requester, or to the feed's funds).
///
///      Invariant: `LINK.balanceOf(this) == availableFunds() + Σ withdrawable(oracle) +
///      Σ escrow(round)`, plus any LINK sent by plain `transfer` (never spendable).
interface ICommitRevealAggregator is IFeedEvents {
    // ------------------------------------------------------------------ types

    /// @notice Committee configuration.
    /// @param oracles The committee (n = oracles.length, at most 31, distinct, non-zero).
    /// @param f Faulty oracles tolerated; n ≥ 3f+1.
    /// @param minReveals Valid reveals needed before the aggregation function is asked; between
    ///        f+1 and n−f (2f+1 for a median, so f liars cannot leave the honest range).
    /// @param commitWindow Seconds from a round's start during which commits are accepted.
    /// @param revealWindow Seconds after the commit window during which reveals are accepted.
    /// @param paymentPerAnswer LINK paid to each valid revealer of a round.
    /// @param minAnswer Smallest acceptable value (reveals and answers outside are refused).
    /// @param maxAnswer Largest acceptable value.
    /// @param aggregation The aggregation function (IAggregationFunction).
    /// @param callbackGasLimit Gas given to a requester's callback.
    /// @param agreementBps A revealed value "agrees" with the answer when within this many
    ///        basis points of it (0: only an equal value agrees).
    struct Config {
        address[] oracles;
        uint8 f;
        uint8 minReveals;
        uint32 commitWindow;
        uint32 revealWindow;
        uint96 paymentPerAnswer;
        int128 minAnswer;
        int128 maxAnswer;
        address aggregation;
        uint32 callbackGasLimit;
        uint16 agreementBps;
    }

    /// @notice Where a round is. `Open` covers both the commit and the reveal phase.
    enum RoundStatus {
        None,
        Open,
        Finalized,
        Failed
    }

    /// @notice A round as the contract holds it.
    /// @param status See RoundStatus.
    /// @param isFeed True for a feed round, false for a request's round.
    /// @param configVersion The configuration the round runs under.
    /// @param startedAt Block timestamp of the round's start.
    /// @param commitDeadline Commits are refused from this timestamp on.
    /// @param revealDeadline Reveals are refused from this timestamp on.
    /// @param commitBitmap Bit i set: committee member i committed.
    /// @param revealBitmap Bit i set: member i revealed a valid value.
    /// @param agreeBitmap Bit i set: member i's value agreed with the answer (once finalised).
    /// @param revealsOpen True once reveals are accepted.
    /// @param escrow LINK still held for the round.
    /// @param answer The answer (once finalised).
    /// @param updatedAt Timestamp of finalisation (0 before).
    struct RoundView {
        RoundStatus status;
        bool isFeed;
        uint16 configVersion;
        uint32 startedAt;
        uint32 commitDeadline;
        uint32 revealDeadline;
        uint32 commitBitmap;
        uint32 revealBitmap;
        uint32 agreeBitmap;
        bool revealsOpen;
        uint96 escrow;
        int256 answer;
        uint32 updatedAt;
    }

    /// @notice What the contract records about one oracle across rounds.
    /// @param isMember True when the oracle is in the current committee.
    /// @param index Its position in the current committee (bit in the round bitmaps).
    /// @param commits Rounds it committed to.
    /// @param reveals Valid reveals it made.
    /// @param totalResponseSeconds Sum over its valid reveals of (reveal time − round start).
    /// @param withdrawable LINK it has earned and not withdrawn.
    struct OracleView {
        bool isMember;
        uint8 index;
        uint32 commits;
        uint32 reveals;
        uint48 totalResponseSeconds;
        uint96 withdrawable;
    }

    // ------------------------------------------------------------------ errors

    /// @notice Only the LINK token may call this function.
    error NotLinkToken(address caller);
    /// @notice No committee is configured yet.
    error NotConfigured();
    /// @notice The committee must have 1 to 31 members; it has `n`.
    error InvalidCommitteeSize(uint256 n);
    /// @notice n must be at least 3f+1.
    error CommitteeTooSmall(uint256 n, uint256 f);
    /// @notice A committee member is the zero address.
    error ZeroOracle();
    /// @notice `oracle` appears twice in the committee.
    error DuplicateOracle(address oracle);
    /// @notice `minReveals` must lie in [f+1, n−f].
    error InvalidMinReveals(uint256 minReveals, uint256 f, uint256 n);
    /// @notice The commit and reveal windows must be non-zero.
    error InvalidWindows(uint256 commitWindow, uint256 revealWindow);
    /// @notice `minAnswer` must not exceed `maxAnswer`.
    error InvalidBounds(int256 minAnswer, int256 maxAnswer);
    /// @notice The aggregation function must be a contract.
    error InvalidAggregation(address aggregation);
    /// @notice `agreementBps` must be at most 10,000.
    error InvalidAgreementBps(uint256 agreementBps);
    /// @notice The caller is not a member of the current committee.
    error NotCommitteeMember(address caller);
    /// @notice No open round with this id under the current configuration.
    error RoundNotOpen(uint256 roundId);
    /// @notice Commits for this round closed (deadline passed, or a value was already revealed).
    error CommitsClosed(uint256 roundId);
    /// @notice The caller already committed to this round.
    error AlreadyCommitted(uint256 roundId, address oracle);
    /// @notice A commitment cannot be zero.
    error ZeroCommitment();
    /// @notice Reveals for this round are not open yet.
    error RevealsNotOpen(uint256 roundId);
    /// @notice The reveal deadline of this round passed.
    error RevealsClosed(uint256 roundId);
    /// @notice The caller did not commit to this round.
    error NotCommitted(uint256 roundId, address oracle);
    /// @notice The caller already revealed in this round.
    error AlreadyRevealed(uint256 roundId, address oracle);
    /// @notice (value, salt) does not open the caller's commitment for this round.
    error InvalidReveal(uint256 roundId, address oracle);
    /// @notice The value lies outside [minAnswer, maxAnswer]; it is refused, never clamped.
    error ValueOutOfBounds(int256 value, int256 minAnswer, int256 maxAnswer);
    /// @notice The round cannot be settled before its reveal deadline (or is already settled).
    error NotSettleable(uint256 roundId);
    /// @notice The request pays `payment`; the committee needs `required` (n × paymentPerAnswer).
    error InsufficientPayment(uint256 payment, uint256 required);
    /// @notice The feed's funds hold `available`; a round needs `required`.
    error InsufficientFunds(uint256 available, uint256 required);
    /// @notice A feed round is open until its reveal deadline or finalisation.
    error FeedRoundInProgress(uint256 roundId);
    /// @notice A member that started a feed round must let f other feed rounds start before it
    ///         starts another (so at most f faulty members cannot start rounds back to back and
    ///         spend the feed's funds); `since` feed rounds started since its last.
    error FeedRoundStartTooSoon(address oracle, uint256 since, uint256 required);
    /// @notice A request with this id is already open: the requester reused a nonce.
    error DuplicateRequest(bytes32 requestId);
    /// @notice The request payload starts with a selector other than oracleRequest/operatorRequest.
    error UnsupportedRequestSelector(bytes4 selector);
    /// @notice The callback would target the LINK token.
    error CallbackIsLinkToken();
    /// @notice Less gas is left than the requester's callback is promised.
    error InsufficientGasForCallback(uint256 available, uint256 required);
    /// @notice The caller asked for `requested` LINK but has `available`.
    error InsufficientWithdrawable(uint256 requested, uint256 available);
    /// @notice The LINK token refused a transfer.
    error LinkTransferFailed(address to, uint256 amount);
    /// @notice No finalised feed round with this id.
    error NoDataPresent();

    // ------------------------------------------------------------------ events

    /// @notice A new committee configuration took effect; rounds of older versions can no
    ///         longer be committed to or revealed in, only settled.
    event ConfigSet(uint16 indexed configVersion, address[] oracles, uint8 f, uint8 minReveals);

    /// @notice A round started.
    /// @param roundId The round.
    /// @param requester The requesting contract; zero for a feed round.
    /// @param configVersion The configuration the round runs under (part of every commitment).
    /// @param requestId For a request, `keccak256(abi.encodePacked(requester, nonce))`; else 0.
    /// @param specId For a request, the job it names; else 0.
    /// @param commitDeadline Commits are refused from this timestamp on.
    /// @param revealDeadline Reveals are refused from this timestamp on.
    /// @param data For a request, its CBOR parameters; else empty.
    event RoundStarted(
        uint256 indexed roundId,
        address indexed requester,
        uint16 configVersion,
        bytes32 requestId,
        bytes32 specId,
        uint32 commitDeadline,
        uint32 revealDeadline,
        bytes data
    );

    /// @notice `oracle` committed to `roundId`.
    event Committed(uint256 indexed roundId, address indexed oracle);

    /// @notice Enough commitments arrived: reveals are accepted from now on.
    event RevealsOpened(uint256 indexed roundId);

    /// @notice `oracle` opened its commitment to `value` `responseSeconds` after the round started.
    event Revealed(uint256 indexed roundId, address indexed oracle, int256 value, uint256 responseSeconds);

    /// @notice The round produced `answer` from `reveals` values; `agreeBitmap` marks the
    ///         members whose value agreed with it.
    event RoundFinalized(uint256 indexed roundId, int256 answer, uint256 reveals, uint256 agreeBitmap);

    /// @notice The round ended without an answer (deadline passed, or its configuration was replaced).
    event RoundFailed(uint256 indexed roundId, uint256 commits, uint256 reveals);

    /// @notice The requester's callback was called; `success` is false when it reverted.
    event RequestFulfilled(uint256 indexed roundId, bytes32 indexed requestId, bool success);

    /// @notice `amount` LINK of the round's escrow went back to `to` (the feed's funds if zero).
    event Refunded(uint256 indexed roundId, address indexed to, uint256 amount);

    /// @notice The feed's funds grew by `amount` (sent by `from`).
    event FundsAdded(address indexed from, uint256 amount);

    // ------------------------------------------------------------------ functions

    /// @notice Replaces the committee configuration (owner only). Open rounds of the old
    ///         configuration can then only be settled.
    function setConfig(Config calldata config) external;

    /// @notice The current configuration and its version.
    function latestConfig() external view returns (uint16 configVersion, Config memory config);

    /// @notice Entry point for requests and funding: `LINK.transferAndCall(this, amount, data)`.
    ///         Empty `data` adds `amount` to the feed's funds; an `oracleRequest` or
    ///         `operatorRequest` payload (Chainlink's encoding) opens a request round paying
    ///         `amount`, which must be at least n × paymentPerAnswer.
    function onTokenTransfer(address sender, uint256 amount, bytes calldata data) external;

    /// @notice Starts a feed round (committee members only), escrowing n × paymentPerAnswer from
    ///         the feed's funds. Nodes call it on a deviation or a heartbeat. A member may start
    ///         again only after f feed rounds started by others.
    /// @return roundId The new round.
    function startFeedRound() external returns (uint256 roundId);

    /// @notice Commits the caller to a value for `roundId` (see `commitmentFor`).
    function commit(uint256 roundId, bytes32 commitment) external;

    /// @notice Opens the caller's commitment; may finalise the round.
    function reveal(uint256 roundId, int256 value, bytes32 salt) external;

    /// @notice After the reveal deadline: fails an unfinalised round and refunds what is left of
    ///         its escrow. Anyone may call it.
    function settle(uint256 roundId) external;

    /// @notice Sends `amount` of the caller's earnings to `recipient`.
    function withdraw(address recipient, uint256 amount) external;

    /// @notice The commitment `oracle` must send for (`roundId`, `value`, `salt`) under
    ///         `configVersion` on this chain and contract.
    function commitmentFor(uint16 configVersion, uint256 roundId, address oracle, int256 value, bytes32 salt)
        external
        view
        returns (bytes32);

    /// @notice The state of a round.
    function getRound(uint256 roundId) external view returns (RoundView memory);

    /// @notice What the contract records about `oracle`.
    function getOracle(address oracle) external view returns (OracleView memory);

    /// @notice The id of the newest round (of either kind); 0 before the first.
    function latestRoundId() external view returns (uint256);

    /// @notice The newest feed round (open or not); 0 before the first.
    function latestFeedRoundId() external view returns (uint256);

    /// @notice LINK available to pay feed rounds.
    function availableFunds() external view returns (uint256);

    /// @notice The round a request opened (0 if none).
    function roundOfRequest(bytes32 requestId) external view returns (uint256);

    /// @notice The LINK token this contract pays in.
    function linkToken() external view returns (address);
}
