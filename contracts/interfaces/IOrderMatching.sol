// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IOrderMatching
/// @notice The order-matching contract of whitepaper §2.1: a purchaser posts a service-level
///         agreement (SLA) with its LINK in escrow, oracle nodes bid by locking a penalty deposit,
///         the contract selects a committee by reputation, then price, then bid order, and the
///         committee serves the SLA by commit–reveal on one of the aggregators the market owns,
///         or by off-chain aggregation through a ThresholdAggregator made for the SLA.
///         After the round the deposits of oracles that answered are returned; the deposits of
///         oracles that did not answer are forfeited to the purchaser, and the reputation
///         contract records every assignment and outcome.
/// @dev Life of an SLA:
///      1. `propose`: `LINK.transferAndCall(market, escrow, abi.encodeCall(propose, (proposal)))`
///         escrows at least n × paymentPerOracle and logs `SLAProposed`. Status `Bidding`.
///      2. `bid`: `LINK.transferAndCall(market, deposit, abi.encodeCall(bid, (slaId, price)))`
///         before `biddingEnd`, with deposit ≥ minDeposit and price ≤ paymentPerOracle. Exactly
///         minDeposit is locked; any excess goes straight back.
///      3. `finalize` (anyone, from `biddingEnd` on): bids whose score is below minReputation do
///         not qualify; the n best qualified bids (score desc, price asc, bid order asc) form the
///         committee; every other deposit is returned in the same transaction. The clearing price
///         is the highest selected price, paid to every member (uniform price); the unspent
///         escrow goes back to the purchaser. A free pool aggregator is configured with the
///         committee and the round is opened on it with a request (specId, the SLA's CBOR data,
///         callback to the market) paid n × clearing price. Status `Serving`. Too few qualified
///         bids, no free aggregator or a response deadline already passed: status `Cancelled`,
///         every deposit and the whole escrow returned.
///      4. `settle` (anyone, once the round is over): per member, revealed → deposit returned
///         (accepted if its value agreed with the answer); not revealed → deposit forfeited to
///         the purchaser and recorded as a penalty. Escrow the aggregator refunded goes to the
///         purchaser. The aggregator returns to the pool. Status `Settled`.
///
///      Off-chain aggregation (`mode` = OffchainAggregation): finalize selects the same way but
///      keeps n × clearing price in the market and opens no round; the SLA's aggregator is the
///      factory's CREATE2 address `predict(slaId)`, to which the committee binds its DKG. Each
///      member calls `confirmGroupKey`; when n − f members confirmed the same key, the factory
///      deploys the SlaThresholdAggregator with it. `settle` (once the aggregator has an answer,
///      or from the response deadline on): an answer with `updatedAt` ≤ responseDeadline pays
///      every member that confirmed that key the clearing price and returns its deposit; the
///      others forfeit theirs. No answer by the deadline: every member's deposit is forfeited to
///      the purchaser and the whole escrow refunded.
///
///      Money moves by push; a transfer the token refuses is credited to the recipient instead
///      (`owed`, `withdraw`). Invariant: LINK held by the market =
///      Σ escrow(SLA in Bidding, or Serving in OCA mode) + Σ lockedDeposits(SLA in Bidding or Serving)
///      + Σ aggregatorRefund(SLA in Serving) + Σ owed(account), plus any LINK sent by plain transfer.
interface IOrderMatching {
    // ------------------------------------------------------------------ types

    /// @notice How the selected committee aggregates: `CommitReveal` on a pool
    ///         CommitRevealAggregator, or `OffchainAggregation` (DKG, one threshold Schnorr
    ///         signature) on a SlaThresholdAggregator created for the SLA.
    enum AggregationMode {
        CommitReveal,
        OffchainAggregation
    }

    enum SLAStatus {
        None,
        Bidding,
        Serving,
        Settled,
        Cancelled
    }

    /// @notice Why an SLA was cancelled.
    enum CancelReason {
        ByPurchaser,
        TooFewBids,
        NoAggregator,
        DeadlinePassed,
        AggregatorRejected
    }

    /// @notice A purchaser's service-level agreement, as `propose` takes it.
    /// @param specId The job the nodes run (their `commitreveal` or `offchainaggregation` job's
    ///        external job id).
    /// @param data The query parameters, CBOR as in a Chainlink request.
    /// @param n Committee size, 4 to 31; the committee tolerates f = ⌊(n−1)/3⌋ faults.
    /// @param mode The aggregation mode.
    /// @param aggregation Commit–reveal: the IAggregationFunction the committee's reveals go
    ///        through (a contract; it should decide from 2f+1 values, e.g. MedianAggregation(2f+1)).
    ///        Off-chain aggregation: unused, must be the zero address (the committee signs the
    ///        median of 2f+1 signed observations).
    /// @param minReputation Smallest score (IReputation.score, basis points) a bid needs to qualify.
    /// @param agreementBps A revealed value within this many basis points of the answer agrees
    ///        (commit–reveal; unused in off-chain aggregation, where no member's value is on chain).
    /// @param paymentPerOracle Most a member may be paid for its answer (LINK).
    /// @param minDeposit Penalty deposit each bid locks (LINK).
    /// @param biddingEnd Bids are accepted before this timestamp; finalize from it on.
    /// @param responseDeadline The round's reveals close at this timestamp (off-chain aggregation:
    ///        the aggregator's answer must be on chain by it).
    struct Proposal {
        bytes32 specId;
        bytes data;
        uint8 n;
        AggregationMode mode;
        address aggregation;
        uint16 minReputation;
        uint16 agreementBps;
        uint96 paymentPerOracle;
        uint96 minDeposit;
        uint32 biddingEnd;
        uint32 responseDeadline;
    }

    /// @notice An SLA as the market holds it.
    /// @param escrow The purchaser's LINK still held for it (while `Bidding`; in off-chain
    ///        aggregation also while `Serving`: n × clearing price, paid out at settle).
    /// @param lockedDeposits The deposits held for it (bids while `Bidding`, the committee's while `Serving`).
    /// @param aggregatorRefund Escrow the aggregator has already refunded to the market and that
    ///        `settle` will pass to the purchaser (while `Serving`).
    /// @param aggregator The pool aggregator serving it (from `Serving` on); in off-chain
    ///        aggregation the factory's CREATE2 address for it (code only once the key is agreed).
    /// @param roundId Its round on that aggregator (from `Serving` on; 1 in off-chain aggregation).
    /// @param clearingPrice What each member is paid per answer (from `Serving` on).
    struct SLAView {
        SLAStatus status;
        address purchaser;
        bytes32 specId;
        uint8 n;
        AggregationMode mode;
        address aggregation;
        uint16 minReputation;
        uint16 agreementBps;
        uint96 paymentPerOracle;
        uint96 minDeposit;
        uint32 biddingEnd;
        uint32 responseDeadline;
        uint256 bids;
        uint256 escrow;
        uint256 lockedDeposits;
        uint256 aggregatorRefund;
        address aggregator;
        uint256 roundId;
        uint96 clearingPrice;
    }

    // ------------------------------------------------------------------ errors

    /// @notice Only the LINK token may call this function (propose and bid come through
    ///         `LINK.transferAndCall`).
    error NotLinkToken(address caller);
    /// @notice The `transferAndCall` data names neither `propose` nor `bid`.
    error UnknownAction(bytes4 selector);
    /// @notice A `bid` payload must be exactly its ABI encoding (68 bytes); this one has `length`.
    error MalformedData(bytes4 selector, uint256 length);
    /// @notice The committee size must be between 4 and 31.
    error InvalidCommitteeSize(uint256 n);
    /// @notice The aggregation function must be a contract (commit–reveal) or zero (off-chain aggregation).
    error InvalidAggregation(address aggregation);
    /// @notice The minimum reputation must be at most 10,000.
    error InvalidMinReputation(uint256 minReputation);
    /// @notice `agreementBps` must be at most 10,000.
    error InvalidAgreementBps(uint256 agreementBps);
    /// @notice A LINK amount of the proposal exceeds 2^88 − 1.
    error AmountTooLarge(uint256 amount);
    /// @notice The bidding window must end in the future.
    error InvalidBiddingEnd(uint256 biddingEnd, uint256 now_);
    /// @notice The response deadline must come after the bidding window.
    error InvalidResponseDeadline(uint256 responseDeadline, uint256 biddingEnd);
    /// @notice The escrow must cover n × paymentPerOracle.
    error InsufficientEscrow(uint256 escrow, uint256 required);
    /// @notice No SLA with this id.
    error UnknownSLA(uint256 slaId);
    /// @notice The SLA takes no more bids (its window ended or it left the bidding phase).
    error BiddingClosed(uint256 slaId, uint256 biddingEnd);
    /// @notice `oracle` already bid on this SLA.
    error AlreadyBid(uint256 slaId, address oracle);
    /// @notice The deposit is below the SLA's minimum.
    error DepositTooLow(uint256 deposit, uint256 minimum);
    /// @notice The price is above the SLA's payment per oracle.
    error PriceTooHigh(uint256 price, uint256 paymentPerOracle);
    /// @notice The SLA already holds the most bids one SLA takes.
    error TooManyBids(uint256 slaId, uint256 maxBids);
    /// @notice The bidding window is still open.
    error BiddingOpen(uint256 slaId, uint256 biddingEnd);
    /// @notice The SLA was already finalized (or cancelled).
    error AlreadyFinalized(uint256 slaId, SLAStatus status);
    /// @notice Only an SLA being served can be settled.
    error NotServing(uint256 slaId, SLAStatus status);
    /// @notice The SLA's round may still change (reveals are open until `revealDeadline`).
    error RoundInProgress(uint256 slaId, uint256 roundId, uint256 revealDeadline);
    /// @notice Only the SLA's purchaser may do this.
    error NotPurchaser(uint256 slaId, address caller);
    /// @notice The escrow is committed: bids are locked against it, or its round is running.
    ///         The unspent part comes back at finalize, the rest at settle.
    error EscrowLocked(uint256 slaId, SLAStatus status);
    /// @notice The SLA is already settled or cancelled.
    error SLAClosed(uint256 slaId, SLAStatus status);
    /// @notice Nothing is owed to `account`.
    error NothingOwed(address account);
    /// @notice The LINK token refused a transfer.
    error LinkTransferFailed(address to, uint256 amount);
    /// @notice The aggregator is already in the pool.
    error AggregatorAlreadyAdded(address aggregator);
    /// @notice The aggregator is not owned by the market (hand it over with `transferOwnership`).
    error NotAggregatorOwner(address aggregator);
    /// @notice The aggregator pays in another LINK token.
    error WrongLinkToken(address aggregator);
    /// @notice The aggregator is not in the pool, or is serving an SLA.
    error AggregatorNotFree(address aggregator);
    /// @notice The caller is not the aggregator serving the SLA of this request.
    error NotServingAggregator(address caller, bytes32 requestId);
    /// @notice The SLA is served by commit–reveal: it has no group key.
    error NotOffchainAggregation(uint256 slaId);
    /// @notice `caller` is not on the SLA's committee.
    error NotCommitteeMember(uint256 slaId, address caller);
    /// @notice `oracle` already confirmed a group key for this SLA (one confirmation per member).
    error KeyAlreadyConfirmed(uint256 slaId, address oracle);
    /// @notice Not a Schnorr group key: px must lie in (0, Q) and be the x of a secp256k1 point,
    ///         parity 0 or 1.
    error InvalidGroupKey(uint256 px, uint8 parity);

    // ------------------------------------------------------------------ events

    /// @notice A purchaser posted an SLA with `escrow` LINK.
    event SLAProposed(
        uint256 indexed slaId, address indexed purchaser, bytes32 indexed specId, Proposal proposal, uint256 escrow
    );
    /// @notice `oracle` bid `price` on `slaId`, locking the SLA's minimum deposit.
    event BidPlaced(uint256 indexed slaId, address indexed oracle, uint256 price);
    /// @notice The committee of `slaId` was selected, in aggregator index order, and its round
    ///         opened (off-chain aggregation: `aggregator` is the predicted address, `roundId` 1).
    event SLAFinalized(
        uint256 indexed slaId, address[] oracles, uint256 clearingPrice, address aggregator, uint256 roundId
    );
    /// @notice `slaId` was cancelled; every deposit and its escrow went back.
    event SLACancelled(uint256 indexed slaId, CancelReason reason);
    /// @notice The round of `slaId` produced `answer` (the aggregator's callback).
    event SLAAnswered(uint256 indexed slaId, int256 answer);
    /// @notice `slaId` was settled: members with bit i of `revealBitmap` answered, those with
    ///         bit i of `agreeBitmap` agreed; `forfeited` LINK of deposits and `refunded` LINK of
    ///         escrow went to the purchaser. Off-chain aggregation: `revealBitmap` = the members
    ///         that confirmed the aggregator's key, `agreeBitmap` = those paid (the same when the
    ///         answer landed by the deadline, else 0).
    event SLASettled(
        uint256 indexed slaId, uint256 revealBitmap, uint256 agreeBitmap, uint256 forfeited, uint256 refunded
    );
    /// @notice The deposit `oracle` locked on `slaId` went back to it (off-chain aggregation: in
    ///         the same transfer as its pay, the clearing price, when its bit of `agreeBitmap` in
    ///         `SLASettled` is set).
    event DepositReturned(uint256 indexed slaId, address indexed oracle, uint256 amount);
    /// @notice The deposit `oracle` locked on `slaId` went to the purchaser.
    event DepositForfeited(uint256 indexed slaId, address indexed oracle, uint256 amount);
    /// @notice `amount` LINK of escrow (unspent, refunded or cancelled) went back to the purchaser.
    event PurchaserRefunded(uint256 indexed slaId, address indexed purchaser, uint256 amount);
    /// @notice The token refused to send `amount` to `account`: it is owed and can be withdrawn.
    event PaymentOwed(address indexed account, uint256 amount);
    /// @notice `account` withdrew `amount` it was owed.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice `aggregator` joined the pool.
    event AggregatorAdded(address indexed aggregator);
    /// @notice `aggregator` left the pool; ownership is offered to `newOwner`.
    event AggregatorRemoved(address indexed aggregator, address indexed newOwner);

    // ------------------------------------------------------------------ entry points

    /// @notice Entry point of `propose` and `bid`: only the LINK token calls it, from
    ///         `transferAndCall`, with `data` the ABI encoding of one of them.
    function onTokenTransfer(address sender, uint256 amount, bytes calldata data) external;

    /// @notice Not called directly (reverts `NotLinkToken`): its encoding is the `data` of
    ///         `LINK.transferAndCall(market, escrow, data)` that posts an SLA.
    function propose(Proposal calldata proposal) external;

    /// @notice Not called directly (reverts `NotLinkToken`): its encoding is the `data` of
    ///         `LINK.transferAndCall(market, deposit, data)` that bids `price` on `slaId`.
    function bid(uint256 slaId, uint256 price) external;

    /// @notice Selects the committee of `slaId` and opens its round, or cancels it (see above).
    ///         Anyone, from the end of the bidding window on.
    function finalize(uint256 slaId) external;

    /// @notice Returns or forfeits the committee's deposits, records the outcomes, refunds the
    ///         purchaser and frees the aggregator. Anyone, once the round is finalised and no
    ///         member can still reveal, or once its reveal deadline passed (the aggregator's
    ///         round is then settled first). Off-chain aggregation: once the SLA's aggregator
    ///         has an answer, or from the response deadline on.
    function settle(uint256 slaId) external;

    /// @notice A member of an off-chain-aggregation SLA's committee confirms the group key its
    ///         DKG made (bound to the config digest of the aggregator at `getSLA(slaId).aggregator`).
    ///         Once per member. The confirmation that makes n − f members agree on one key
    ///         deploys the aggregator with it; later ones are recorded too (only members that
    ///         confirmed the aggregator's key are paid). Recorded by `aggregatorFactory()`, which
    ///         emits `GroupKeyConfirmed` and `AggregatorDeployed` (IThresholdAggregatorFactory).
    function confirmGroupKey(uint256 slaId, uint256 px, uint8 parity) external;

    /// @notice The purchaser takes its escrow back: only while the SLA has no bid.
    function cancel(uint256 slaId) external;

    /// @notice Sends the caller everything it is owed (payments the token refused).
    function withdraw() external;

    /// @notice The aggregator's callback with the answer of an SLA's round.
    function onSLAAnswer(bytes32 requestId, int256 answer) external;

    // ------------------------------------------------------------------ pool

    /// @notice Adds a CommitRevealAggregator to the pool (owner only). The market must own it, or
    ///         be its pending owner (it then accepts the ownership).
    function addAggregator(address aggregator) external;

    /// @notice Removes a free aggregator from the pool and offers its ownership to `newOwner`.
    function removeAggregator(address aggregator, address newOwner) external;

    /// @notice The aggregators free to serve an SLA.
    function freeAggregators() external view returns (address[] memory);

    // ------------------------------------------------------------------ views

    /// @notice The SLA `slaId`.
    function getSLA(uint256 slaId) external view returns (SLAView memory);

    /// @notice The SLA's query parameters (CBOR).
    function slaData(uint256 slaId) external view returns (bytes memory);

    /// @notice The bids on `slaId`, in bid order (only while it is `Bidding`).
    function bidsOf(uint256 slaId) external view returns (address[] memory oracles, uint256[] memory prices);

    /// @notice The committee serving `slaId`, in aggregator index order (only while `Serving`;
    ///         afterwards see `SLAFinalized`).
    function committeeOf(uint256 slaId) external view returns (address[] memory);

    /// @notice The answer of `slaId`'s round: `answered` once the round finalised (off-chain
    ///         aggregation: once its aggregator has an answer from no later than the deadline).
    function answerOf(uint256 slaId) external view returns (bool answered, int256 answer, uint256 updatedAt);

    /// @notice The request id the market used for `slaId`'s round.
    function requestIdOf(uint256 slaId) external view returns (bytes32);

    /// @notice LINK owed to `account` (transfers the token refused).
    function owed(address account) external view returns (uint256);

    /// @notice Number of SLAs proposed so far (ids run from 1).
    function slaCount() external view returns (uint256);

    /// @notice The LINK token.
    function linkToken() external view returns (address);

    /// @notice The reputation contract selection reads and outcomes are written to.
    function reputation() external view returns (address);

    /// @notice The factory of the off-chain-aggregation SLAs' aggregators (created with the market).
    function aggregatorFactory() external view returns (address);
}
