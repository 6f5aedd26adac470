// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IOrderMatching} from "../interfaces/IOrderMatching.sol";
import {ICommitRevealAggregator} from "../interfaces/ICommitRevealAggregator.sol";
import {ILinkToken} from "../interfaces/ILinkToken.sol";
import {IOwned} from "../interfaces/IOwned.sol";
import {IReputation} from "../interfaces/IReputation.sol";
import {IThresholdAggregatorFactory} from "../interfaces/IThresholdAggregatorFactory.sol";
import {Owned} from "../shared/Owned.sol";
import {SlaAggregatorFactory} from "./SlaAggregatorFactory.sol";

/// @title OrderMatching
/// @notice SLA proposals, bids with penalty deposits, committee selection and settlement
///         (whitepaper §2.1); see IOrderMatching.
/// @dev Gas notes. A bid reads the SLA's terms and writes two slots, both usually non-zero
///      already: the SLA's hot slot (status, window, bid count, book, newest bidder) and the
///      bidder's entry in the SLA's bid book. Books are borrowed by SLAs from propose to
///      finalize and given back, so an entry overwrites what an earlier SLA's bid left behind
///      (5k gas) instead of a fresh slot (22k). An entry holds the previous bidder (the bids of
///      an SLA form a list from its newest bidder), the price and a live flag; finalize walks the
///      list and clears the flags (keeping the slots non-zero), so a live flag means "already bid
///      on this SLA". A bid locks exactly the SLA's minimum deposit, so no per-bid deposit is
///      stored. Likewise a pool aggregator keeps its committee's slots (member, its reveal count
///      and response seconds on the aggregator when the round opened) for the next SLA.
///      Off-chain aggregation: the committee's slots are keyed by the SLA's predicted aggregator;
///      the factory, created in the constructor, keeps the key confirmations and the
///      aggregator's init code out of this contract's runtime code (EIP-170).
contract OrderMatching is IOrderMatching, Owned {
    /// @notice Smallest committee.
    uint256 public constant MIN_ORACLES = 4;
    /// @notice Largest committee (the aggregator's limit).
    uint256 public constant MAX_ORACLES = 31;
    /// @notice Most bids one SLA takes (bounds finalize's gas).
    uint256 public constant MAX_BIDS = 128;
    /// @notice Gas the aggregator gives the market's answer callback.
    uint32 public constant CALLBACK_GAS_LIMIT = 30_000;

    uint256 private constant BPS = 10_000;
    uint256 private constant MAX_AMOUNT = type(uint88).max;
    uint8 private constant NONE = 0;
    uint8 private constant BIDDING = 1;
    uint8 private constant SERVING = 2;
    uint8 private constant SETTLED = 3;
    uint8 private constant CANCELLED = 4;
    /// @dev Set in every book entry ever written, so a cleared entry stays non-zero.
    uint256 private constant USED = 1 << 255;
    /// @dev Set while the entry is a bid on the SLA holding the book.
    uint256 private constant LIVE = 1 << 254;
    uint8 private constant OCA = uint8(AggregationMode.OffchainAggregation);
    /// @dev `operatorRequest(address,uint256,bytes32,bytes4,uint256,uint256,bytes)`.
    bytes4 private constant OPERATOR_REQUEST = 0x3c6d41b9;

    /// @dev What a bid writes, in one slot. `head` is the newest bidder.
    struct SLACore {
        uint8 status;
        uint32 biddingEnd;
        uint8 bids;
        uint32 book;
        address head;
    }

    /// @dev The SLA's terms, in one slot (read by a bid, never written after propose).
    struct SLATerms {
        uint88 payment;
        uint88 minDeposit;
        uint8 n;
        uint8 mode;
        uint16 minReputation;
        uint16 agreementBps;
        uint32 responseDeadline;
    }

    struct SLAInfo {
        // slot 0
        address purchaser;
        uint96 escrow;
        // slot 1
        bytes32 specId;
        // slot 2
        address aggregation;
        uint96 clearingPrice;
        // slot 3 (from finalize on)
        address aggregator;
        uint64 roundId;
        uint32 finalizedAt;
        // slot 4...
        bytes data;
    }

    /// @dev A pool aggregator: `freeSlot` is its 1-based position in the free stack (0 while serving).
    struct Pooled {
        bool registered;
        uint32 freeSlot;
        uint64 slaId;
    }

    ILinkToken private immutable i_link;
    IReputation private immutable i_reputation;
    IThresholdAggregatorFactory private immutable i_factory;

    uint256 private s_slaCount;
    mapping(uint256 slaId => SLACore) private s_core;
    mapping(uint256 slaId => SLATerms) private s_terms;
    mapping(uint256 slaId => SLAInfo) private s_info;

    /// @dev Books ever made and the sizes of the two free stacks, in one slot that stays non-zero
    ///      once a book or an aggregator exists, so emptying a stack never zeroes it.
    struct Stacks {
        uint32 books;
        uint32 freeBooks;
        uint32 freeAggregators;
    }

    /// @dev The stacks' entries are left in place when popped, so a push overwrites a non-zero
    ///      slot (5k gas) instead of filling an empty one (22k).
    Stacks private s_stacks;
    mapping(uint256 index => uint256 book) private s_freeBookAt;
    mapping(uint256 index => address aggregator) private s_freeAggregatorAt;
    /// @dev Entry of `oracle` in `book`: previous bidder | price << 160 | LIVE | USED.
    mapping(uint256 book => mapping(address oracle => uint256 entry)) private s_bids;

    mapping(address aggregator => Pooled) private s_pool;
    /// @dev Committee slot i of an aggregator: member | reveals << 160 | responseSeconds << 192.
    mapping(address aggregator => mapping(uint256 index => uint256)) private s_members;

    mapping(address account => uint256) private s_owed;

    /// @param link The LINK token escrows, deposits and payments are in.
    /// @param reputationContract The reputation contract (this market must be one of its writers).
    /// @param initialOwner Manages the aggregator pool.
    constructor(address link, address reputationContract, address initialOwner) Owned(initialOwner) {
        i_link = ILinkToken(link);
        i_reputation = IReputation(reputationContract);
        i_factory = new SlaAggregatorFactory();
    }

    // ------------------------------------------------------------------ propose and bid

    /// @inheritdoc IOrderMatching
    function onTokenTransfer(address sender, uint256 amount, bytes calldata data) external {
        if (msg.sender != address(i_link)) revert NotLinkToken(msg.sender);
        bytes4 selector = data.length >= 4 ? bytes4(data[:4]) : bytes4(0);
        if (selector == IOrderMatching.bid.selector) {
            if (data.length != 68) revert MalformedData(selector, data.length);
            (uint256 slaId, uint256 price) = abi.decode(data[4:], (uint256, uint256));
            _bid(sender, amount, slaId, price);
        } else if (selector == IOrderMatching.propose.selector) {
            Proposal memory p = abi.decode(data[4:], (Proposal));
            _propose(sender, amount, p);
        } else {
            revert UnknownAction(selector);
        }
    }

    /// @inheritdoc IOrderMatching
    function propose(Proposal calldata) external view {
        revert NotLinkToken(msg.sender);
    }

    /// @inheritdoc IOrderMatching
    function bid(uint256, uint256) external view {
        revert NotLinkToken(msg.sender);
    }

    function _propose(address purchaser, uint256 escrow, Proposal memory p) private {
        if (p.n < MIN_ORACLES || p.n > MAX_ORACLES) revert InvalidCommitteeSize(p.n);
        if (p.mode == AggregationMode.CommitReveal ? p.aggregation.code.length == 0 : p.aggregation != address(0)) {
            revert InvalidAggregation(p.aggregation);
        }
        if (p.minReputation > BPS) revert InvalidMinReputation(p.minReputation);
        if (p.agreementBps > BPS) revert InvalidAgreementBps(p.agreementBps);
        if (p.paymentPerOracle > MAX_AMOUNT) revert AmountTooLarge(p.paymentPerOracle);
        if (p.minDeposit > MAX_AMOUNT) revert AmountTooLarge(p.minDeposit);
        if (p.biddingEnd <= block.timestamp) revert InvalidBiddingEnd(p.biddingEnd, block.timestamp);
        if (p.responseDeadline <= p.biddingEnd) revert InvalidResponseDeadline(p.responseDeadline, p.biddingEnd);
        uint256 required = uint256(p.n) * p.paymentPerOracle;
        if (escrow < required) revert InsufficientEscrow(escrow, required);

        uint256 slaId = ++s_slaCount;
        s_core[slaId] =
            SLACore({status: BIDDING, biddingEnd: p.biddingEnd, bids: 0, book: _takeBook(), head: address(0)});
        s_terms[slaId] = SLATerms({
            payment: uint88(p.paymentPerOracle),
            minDeposit: uint88(p.minDeposit),
            n: p.n,
            mode: uint8(p.mode),
            minReputation: p.minReputation,
            agreementBps: p.agreementBps,
            responseDeadline: p.responseDeadline
        });
        SLAInfo storage info = s_info[slaId];
        info.purchaser = purchaser;
        info.specId = p.specId;
        info.aggregation = p.aggregation;
        info.escrow = uint96(escrow);
        info.data = p.data;
        emit SLAProposed(slaId, purchaser, p.specId, p, escrow);
    }

    function _bid(address oracle, uint256 deposit, uint256 slaId, uint256 price) private {
        SLACore memory c = s_core[slaId];
        if (c.status == NONE) revert UnknownSLA(slaId);
        if (c.status != BIDDING || block.timestamp >= c.biddingEnd) revert BiddingClosed(slaId, c.biddingEnd);
        mapping(address => uint256) storage book = s_bids[c.book];
        if (book[oracle] & LIVE != 0) revert AlreadyBid(slaId, oracle);
        SLATerms memory t = s_terms[slaId];
        if (deposit < t.minDeposit) revert DepositTooLow(deposit, t.minDeposit);
        if (price > t.payment) revert PriceTooHigh(price, t.payment);
        if (c.bids >= MAX_BIDS) revert TooManyBids(slaId, MAX_BIDS);
        book[oracle] = USED | LIVE | (price << 160) | uint256(uint160(c.head));
        c.head = oracle;
        c.bids += 1;
        s_core[slaId] = c;
        emit BidPlaced(slaId, oracle, price);
        if (deposit > t.minDeposit) _pay(oracle, deposit - t.minDeposit);
    }

    // ------------------------------------------------------------------ finalize

    /// @dev The bids of an SLA, as finalize reads them.
    struct Bids {
        address[] oracles;
        uint256[] prices;
    }

    /// @inheritdoc IOrderMatching
    function finalize(uint256 slaId) external {
        SLACore memory c = s_core[slaId];
        if (c.status == NONE) revert UnknownSLA(slaId);
        if (c.status != BIDDING) revert AlreadyFinalized(slaId, _status(c.status));
        if (block.timestamp < c.biddingEnd) revert BiddingOpen(slaId, c.biddingEnd);
        SLAInfo storage info = s_info[slaId];
        SLATerms memory t = s_terms[slaId];
        Bids memory b = _viewBids(c);
        _clearBids(c.book, b);
        _freeBook(c.book);

        (uint256[] memory selected, uint256 k) = _select(b, info.specId, t.n, t.minReputation);
        if (k < t.n) return _cancel(slaId, c, t, b, CancelReason.TooFewBids);
        if (block.timestamp + 2 > t.responseDeadline) return _cancel(slaId, c, t, b, CancelReason.DeadlinePassed);

        uint256 n = k;
        address[] memory committee = new address[](n);
        uint256 price;
        uint256 chosen; // bitmap over bid indices
        for (uint256 j = 0; j < n; ++j) {
            uint256 i = selected[j];
            committee[j] = b.oracles[i];
            if (b.prices[i] > price) price = b.prices[i];
            chosen |= 1 << i;
        }
        address aggregator;
        uint256 roundId = 1;
        uint256 kept; // escrow the market keeps for the SLA
        if (t.mode == OCA) {
            // The aggregator is created once the committee agrees on a key; its address is known now.
            aggregator = i_factory.predict(slaId);
            mapping(uint256 => uint256) storage members = s_members[aggregator];
            for (uint256 j = 0; j < n; ++j) {
                members[j] = uint160(committee[j]);
            }
            kept = n * price;
        } else {
            uint256 freeCount = s_stacks.freeAggregators;
            if (freeCount == 0) return _cancel(slaId, c, t, b, CancelReason.NoAggregator);
            aggregator = s_freeAggregatorAt[freeCount - 1];
            if (!_configure(aggregator, t, info.aggregation, committee, price)) {
                return _cancel(slaId, c, t, b, CancelReason.AggregatorRejected);
            }
            bool opened;
            (opened, roundId) = _openRound(aggregator, slaId, info, n * price);
            if (!opened) return _cancel(slaId, c, t, b, CancelReason.AggregatorRejected);
            // The round is open: the SLA is served by `aggregator` from now on.
            _takeAggregator(aggregator, slaId);
        }

        c.status = SERVING;
        s_core[slaId] = c;
        uint256 refund = info.escrow - n * price;
        info.escrow = uint96(kept);
        info.aggregator = aggregator;
        info.clearingPrice = uint96(price);
        info.roundId = uint64(roundId);
        info.finalizedAt = uint32(block.timestamp);
        emit SLAFinalized(slaId, committee, price, aggregator, roundId);

        i_reputation.recordAssignments(info.specId, committee, t.minDeposit);
        for (uint256 i = 0; i < b.oracles.length; ++i) {
            if (chosen & (1 << i) == 0) _returnDeposit(slaId, b.oracles[i], t.minDeposit);
        }
        _refundPurchaser(slaId, info.purchaser, refund);
    }

    /// @dev The bids of an SLA in bid order, read by walking its list from the newest bidder.
    function _viewBids(SLACore memory c) private view returns (Bids memory b) {
        uint256 m = c.bids;
        b.oracles = new address[](m);
        b.prices = new uint256[](m);
        mapping(address => uint256) storage book = s_bids[c.book];
        address oracle = c.head;
        for (uint256 i = m; i > 0; --i) {
            uint256 entry = book[oracle];
            b.oracles[i - 1] = oracle;
            b.prices[i - 1] = (entry >> 160) & MAX_AMOUNT;
            oracle = address(uint160(entry));
        }
    }

    /// @dev Clears the live flags of the bids `b` in `book` (the slots stay non-zero).
    function _clearBids(uint256 book, Bids memory b) private {
        mapping(address => uint256) storage entries = s_bids[book];
        address previous;
        for (uint256 i = 0; i < b.oracles.length; ++i) {
            address oracle = b.oracles[i];
            entries[oracle] = USED | (b.prices[i] << 160) | uint256(uint160(previous));
            previous = oracle;
        }
    }

    /// @dev The indices of the (at most n) best qualified bids, best first, and how many there
    ///      are. A bid's key orders by score (desc), then price (asc), then bid index (asc); keys
    ///      are distinct, so the order is total and deterministic. O(bids × n) comparisons.
    function _select(Bids memory b, bytes32 specId, uint256 n, uint256 minReputation)
        private
        view
        returns (uint256[] memory selected, uint256 k)
    {
        uint256 m = b.oracles.length;
        uint256[] memory top = new uint256[](n);
        if (m == 0) return (top, 0);
        uint256[] memory sc = i_reputation.scores(b.oracles, specId);
        for (uint256 i = 0; i < m; ++i) {
            if (sc[i] < minReputation) continue;
            uint256 key = (sc[i] << 104) | ((MAX_AMOUNT - b.prices[i]) << 16) | (type(uint16).max - i);
            if (k == n && key <= top[n - 1]) continue;
            uint256 j = k < n ? k++ : n - 1;
            while (j > 0 && top[j - 1] < key) {
                top[j] = top[j - 1];
                --j;
            }
            top[j] = key;
        }
        selected = top;
        for (uint256 j = 0; j < k; ++j) {
            selected[j] = type(uint16).max - (top[j] & type(uint16).max);
        }
    }

    /// @dev Configures `aggregator` for the committee; false when it refuses.
    function _configure(
        address aggregator,
        SLATerms memory t,
        address aggregation,
        address[] memory committee,
        uint256 price
    ) private returns (bool) {
        uint256 n = committee.length;
        uint8 f = uint8((n - 1) / 3);
        uint256 window = t.responseDeadline - block.timestamp;
        uint32 commitWindow = uint32(window / 2);
        ICommitRevealAggregator.Config memory config = ICommitRevealAggregator.Config({
            oracles: committee,
            f: f,
            minReveals: 2 * f + 1,
            commitWindow: commitWindow,
            revealWindow: uint32(window - commitWindow),
            paymentPerAnswer: uint96(price),
            minAnswer: type(int128).min,
            maxAnswer: type(int128).max,
            aggregation: aggregation,
            callbackGasLimit: CALLBACK_GAS_LIMIT,
            agreementBps: t.agreementBps
        });
        try ICommitRevealAggregator(aggregator).setConfig(config) {}
        catch {
            return false;
        }
        // Each member's reveal count and response seconds so far, to tell its response time at settle.
        mapping(uint256 => uint256) storage members = s_members[aggregator];
        for (uint256 j = 0; j < n; ++j) {
            ICommitRevealAggregator.OracleView memory o = ICommitRevealAggregator(aggregator).getOracle(committee[j]);
            members[j] = uint256(uint160(committee[j])) | (uint256(o.reveals) << 160)
                | (uint256(o.totalResponseSeconds) << 192);
        }
        return true;
    }

    /// @dev Opens the SLA's round with a request paying `payment`; false (nothing sent) when the
    ///      aggregator refuses it.
    function _openRound(address aggregator, uint256 slaId, SLAInfo storage info, uint256 payment)
        private
        returns (bool, uint256)
    {
        bytes memory request = abi.encodeWithSelector(
            OPERATOR_REQUEST,
            address(0),
            payment,
            info.specId,
            this.onSLAAnswer.selector,
            slaId,
            uint256(1),
            info.data
        );
        try i_link.transferAndCall(aggregator, payment, request) returns (bool ok) {
            if (!ok) return (false, 0);
        } catch {
            return (false, 0);
        }
        return (true, ICommitRevealAggregator(aggregator).roundOfRequest(_requestId(slaId)));
    }

    /// @dev Cancels an SLA still in its bidding phase (its book already freed or about to be):
    ///      every deposit and the escrow go back.
    function _cancel(uint256 slaId, SLACore memory c, SLATerms memory t, Bids memory b, CancelReason reason)
        private
    {
        c.status = CANCELLED;
        s_core[slaId] = c;
        SLAInfo storage info = s_info[slaId];
        uint256 escrow = info.escrow;
        info.escrow = 0;
        emit SLACancelled(slaId, reason);
        for (uint256 i = 0; i < b.oracles.length; ++i) {
            _returnDeposit(slaId, b.oracles[i], t.minDeposit);
        }
        _refundPurchaser(slaId, info.purchaser, escrow);
    }

    /// @inheritdoc IOrderMatching
    function cancel(uint256 slaId) external {
        SLACore memory c = s_core[slaId];
        if (c.status == NONE) revert UnknownSLA(slaId);
        SLAInfo storage info = s_info[slaId];
        if (msg.sender != info.purchaser) revert NotPurchaser(slaId, msg.sender);
        if (c.status == SETTLED || c.status == CANCELLED) revert SLAClosed(slaId, _status(c.status));
        if (c.status != BIDDING || c.bids != 0) revert EscrowLocked(slaId, _status(c.status));
        _freeBook(c.book);
        _cancel(slaId, c, s_terms[slaId], Bids(new address[](0), new uint256[](0)), CancelReason.ByPurchaser);
    }

    // ------------------------------------------------------------------ the round

    /// @inheritdoc IOrderMatching
    function onSLAAnswer(bytes32 requestId, int256 answer) external {
        uint256 slaId = s_pool[msg.sender].slaId;
        if (slaId == 0 || requestId != _requestId(slaId)) revert NotServingAggregator(msg.sender, requestId);
        emit SLAAnswered(slaId, answer);
    }

    /// @dev What settle does for each member and tells in `SLASettled`, by mode.
    struct Settlement {
        IReputation.Outcome[] outcomes;
        uint256 revealBitmap;
        uint256 agreeBitmap;
        uint256 refunded;
        /// @dev Paid by the market to each member that completed (off-chain aggregation).
        uint256 pay;
    }

    /// @inheritdoc IOrderMatching
    function settle(uint256 slaId) external {
        SLACore memory c = _serving(slaId);
        SLAInfo storage info = s_info[slaId];
        SLATerms memory t = s_terms[slaId];
        Settlement memory s = t.mode == OCA ? _offchainRound(slaId, info, t) : _commitRevealRound(slaId, info, t);
        c.status = SETTLED;
        s_core[slaId] = c;

        uint256 deposit = t.minDeposit;
        uint256 forfeited;
        for (uint256 i = 0; i < s.outcomes.length; ++i) {
            IReputation.Outcome memory o = s.outcomes[i];
            if (o.completed) {
                emit DepositReturned(slaId, o.oracle, deposit);
                _pay(o.oracle, deposit + s.pay);
            } else {
                o.penalty = uint96(deposit);
                forfeited += deposit;
                emit DepositForfeited(slaId, o.oracle, deposit);
            }
        }
        emit SLASettled(slaId, s.revealBitmap, s.agreeBitmap, forfeited, s.refunded);
        i_reputation.recordOutcomes(info.specId, s.outcomes);
        _refundPurchaser(slaId, info.purchaser, s.refunded + forfeited);
    }

    /// @dev The round of a commit–reveal SLA, settled on its aggregator if need be (which
    ///      refunds the escrow of missing reveals to the market); the aggregator returns to the pool.
    function _commitRevealRound(uint256 slaId, SLAInfo storage info, SLATerms memory t)
        private
        returns (Settlement memory s)
    {
        ICommitRevealAggregator aggregator = ICommitRevealAggregator(info.aggregator);
        uint256 roundId = info.roundId;
        ICommitRevealAggregator.RoundView memory r = aggregator.getRound(roundId);
        if (r.status == ICommitRevealAggregator.RoundStatus.Open || r.escrow != 0) {
            // Members may still reveal (and be paid) until the reveal deadline.
            if (block.timestamp < r.revealDeadline) revert RoundInProgress(slaId, roundId, r.revealDeadline);
            aggregator.settle(roundId);
            r = aggregator.getRound(roundId);
        }
        _releaseAggregator(address(aggregator));

        uint256 n = t.n;
        mapping(uint256 => uint256) storage members = s_members[address(aggregator)];
        s.outcomes = new IReputation.Outcome[](n);
        uint256 reveals;
        for (uint256 i = 0; i < n; ++i) {
            uint256 m = members[i];
            IReputation.Outcome memory o = s.outcomes[i];
            o.oracle = address(uint160(m));
            if (r.revealBitmap & (1 << i) != 0) {
                reveals += 1;
                o.completed = true;
                o.accepted = r.agreeBitmap & (1 << i) != 0;
                o.responseSeconds = _responseSeconds(aggregator, o.oracle, m);
            }
        }
        s.revealBitmap = r.revealBitmap;
        s.agreeBitmap = r.agreeBitmap;
        s.refunded = (n - reveals) * info.clearingPrice;
    }

    /// @inheritdoc IOrderMatching
    function confirmGroupKey(uint256 slaId, uint256 px, uint8 parity) external {
        _serving(slaId);
        if (s_terms[slaId].mode != OCA) revert NotOffchainAggregation(slaId);
        i_factory.confirm(slaId, msg.sender, px, parity);
    }

    /// @dev The round of an off-chain-aggregation SLA: an answer on its aggregator by the
    ///      response deadline pays every member that confirmed the aggregator's key (the others
    ///      forfeit their deposits); no answer by the deadline forfeits every deposit and refunds
    ///      the whole escrow (see docs/protocol/market.md).
    function _offchainRound(uint256 slaId, SLAInfo storage info, SLATerms memory t)
        private
        returns (Settlement memory s)
    {
        (bool answered, int256 answer, uint256 updatedAt, uint256 confirmed) = _outcome(slaId, t.responseDeadline);
        if (!answered && block.timestamp < t.responseDeadline) {
            revert RoundInProgress(slaId, 1, t.responseDeadline);
        }
        uint256 n = t.n;
        uint256 price = info.clearingPrice;
        s.refunded = info.escrow;
        info.escrow = 0;
        s.revealBitmap = confirmed;
        if (answered) {
            emit SLAAnswered(slaId, answer);
            s.agreeBitmap = confirmed;
            s.pay = price;
        }
        uint256 elapsed = answered ? updatedAt - info.finalizedAt : 0;
        uint32 responseSeconds = elapsed > type(uint32).max ? type(uint32).max : uint32(elapsed);
        mapping(uint256 => uint256) storage members = s_members[info.aggregator];
        s.outcomes = new IReputation.Outcome[](n);
        for (uint256 i = 0; i < n; ++i) {
            IReputation.Outcome memory o = s.outcomes[i];
            o.oracle = address(uint160(members[i]));
            if (s.agreeBitmap & (1 << i) != 0) {
                o.completed = true;
                o.accepted = true;
                o.responseSeconds = responseSeconds;
                s.refunded -= price;
            }
        }
    }

    /// @dev The member's response time in this round: the growth of its response seconds on the
    ///      aggregator since the round opened, per reveal (one reveal unless someone else opened
    ///      rounds on the aggregator meanwhile, in which case this is their mean).
    function _responseSeconds(ICommitRevealAggregator aggregator, address oracle, uint256 m)
        private
        view
        returns (uint32)
    {
        ICommitRevealAggregator.OracleView memory o = aggregator.getOracle(oracle);
        uint256 reveals = o.reveals - uint32(m >> 160);
        if (reveals == 0) return 0;
        uint256 seconds_ = (uint256(o.totalResponseSeconds) - uint64(m >> 192)) / reveals;
        return seconds_ > type(uint32).max ? type(uint32).max : uint32(seconds_);
    }

    // ------------------------------------------------------------------ money

    /// @inheritdoc IOrderMatching
    function withdraw() external {
        uint256 amount = s_owed[msg.sender];
        if (amount == 0) revert NothingOwed(msg.sender);
        s_owed[msg.sender] = 0;
        if (!i_link.transfer(msg.sender, amount)) revert LinkTransferFailed(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    function _returnDeposit(uint256 slaId, address oracle, uint256 amount) private {
        emit DepositReturned(slaId, oracle, amount);
        _pay(oracle, amount);
    }

    function _refundPurchaser(uint256 slaId, address purchaser, uint256 amount) private {
        if (amount == 0) return;
        emit PurchaserRefunded(slaId, purchaser, amount);
        _pay(purchaser, amount);
    }

    /// @dev Pushes `amount` to `to`; when the token refuses, `to` is owed it instead.
    function _pay(address to, uint256 amount) private {
        if (amount == 0) return;
        try i_link.transfer(to, amount) returns (bool ok) {
            if (ok) return;
        } catch {}
        s_owed[to] += amount;
        emit PaymentOwed(to, amount);
    }

    // ------------------------------------------------------------------ books and pool

    function _takeBook() private returns (uint32 book) {
        Stacks memory st = s_stacks;
        if (st.freeBooks == 0) {
            book = ++st.books;
        } else {
            book = uint32(s_freeBookAt[--st.freeBooks]);
        }
        s_stacks = st;
    }

    function _freeBook(uint32 book) private {
        Stacks memory st = s_stacks;
        s_freeBookAt[st.freeBooks++] = book;
        s_stacks = st;
    }

    /// @inheritdoc IOrderMatching
    function addAggregator(address aggregator) external onlyOwner {
        if (s_pool[aggregator].registered) revert AggregatorAlreadyAdded(aggregator);
        if (aggregator.code.length == 0) revert NotAggregatorOwner(aggregator);
        if (IOwned(aggregator).owner() != address(this)) IOwned(aggregator).acceptOwnership();
        if (IOwned(aggregator).owner() != address(this)) revert NotAggregatorOwner(aggregator);
        if (ICommitRevealAggregator(aggregator).linkToken() != address(i_link)) revert WrongLinkToken(aggregator);
        _releaseAggregator(aggregator);
        emit AggregatorAdded(aggregator);
    }

    /// @inheritdoc IOrderMatching
    function removeAggregator(address aggregator, address newOwner) external onlyOwner {
        Pooled memory p = s_pool[aggregator];
        if (!p.registered || p.freeSlot == 0) revert AggregatorNotFree(aggregator);
        _removeFree(p.freeSlot);
        delete s_pool[aggregator];
        emit AggregatorRemoved(aggregator, newOwner);
        IOwned(aggregator).transferOwnership(newOwner);
    }

    /// @dev Takes `aggregator`, the top of the free stack, for `slaId`.
    function _takeAggregator(address aggregator, uint256 slaId) private {
        s_stacks.freeAggregators -= 1;
        s_pool[aggregator] = Pooled({registered: true, freeSlot: 0, slaId: uint64(slaId)});
    }

    /// @dev Pushes `aggregator` on the free stack.
    function _releaseAggregator(address aggregator) private {
        Stacks memory st = s_stacks;
        s_freeAggregatorAt[st.freeAggregators++] = aggregator;
        s_stacks = st;
        s_pool[aggregator] = Pooled({registered: true, freeSlot: st.freeAggregators, slaId: 0});
    }

    /// @dev Removes the free aggregator at 1-based position `slot`, moving the top one into it.
    function _removeFree(uint256 slot) private {
        uint256 last = s_stacks.freeAggregators;
        if (slot != last) {
            address moved = s_freeAggregatorAt[last - 1];
            s_freeAggregatorAt[slot - 1] = moved;
            s_pool[moved].freeSlot = uint32(slot);
        }
        s_stacks.freeAggregators = uint32(last - 1);
    }

    /// @inheritdoc IOrderMatching
    function freeAggregators() external view returns (address[] memory free) {
        free = new address[](s_stacks.freeAggregators);
        for (uint256 i = 0; i < free.length; ++i) {
            free[i] = s_freeAggregatorAt[i];
        }
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IOrderMatching
    function getSLA(uint256 slaId) external view returns (SLAView memory v) {
        SLACore memory c = s_core[slaId];
        SLATerms memory t = s_terms[slaId];
        SLAInfo storage info = s_info[slaId];
        v.status = _status(c.status);
        v.purchaser = info.purchaser;
        v.specId = info.specId;
        v.n = t.n;
        v.mode = AggregationMode(t.mode);
        v.aggregation = info.aggregation;
        v.minReputation = t.minReputation;
        v.agreementBps = t.agreementBps;
        v.paymentPerOracle = t.payment;
        v.minDeposit = t.minDeposit;
        v.biddingEnd = c.biddingEnd;
        v.responseDeadline = t.responseDeadline;
        v.bids = c.bids;
        v.escrow = info.escrow;
        v.aggregator = info.aggregator;
        v.roundId = info.roundId;
        v.clearingPrice = info.clearingPrice;
        if (c.status == BIDDING) {
            v.lockedDeposits = uint256(c.bids) * t.minDeposit;
        } else if (c.status == SERVING) {
            v.lockedDeposits = uint256(t.n) * t.minDeposit;
            if (t.mode == OCA) return v;
            ICommitRevealAggregator.RoundView memory r = ICommitRevealAggregator(info.aggregator).getRound(info.roundId);
            uint256 spent = _popcount(r.revealBitmap) * info.clearingPrice + r.escrow;
            v.aggregatorRefund = uint256(t.n) * info.clearingPrice - spent;
        }
    }

    /// @inheritdoc IOrderMatching
    function slaData(uint256 slaId) external view returns (bytes memory) {
        return s_info[slaId].data;
    }

    /// @inheritdoc IOrderMatching
    function bidsOf(uint256 slaId) external view returns (address[] memory oracles, uint256[] memory prices) {
        SLACore memory c = s_core[slaId];
        if (c.status != BIDDING) return (oracles, prices);
        Bids memory b = _viewBids(c);
        return (b.oracles, b.prices);
    }

    /// @inheritdoc IOrderMatching
    function committeeOf(uint256 slaId) external view returns (address[] memory committee) {
        if (s_core[slaId].status != SERVING) return committee;
        SLAInfo storage info = s_info[slaId];
        mapping(uint256 => uint256) storage members = s_members[info.aggregator];
        committee = new address[](s_terms[slaId].n);
        for (uint256 i = 0; i < committee.length; ++i) {
            committee[i] = address(uint160(members[i]));
        }
    }

    /// @inheritdoc IOrderMatching
    function answerOf(uint256 slaId) external view returns (bool answered, int256 answer, uint256 updatedAt) {
        SLAInfo storage info = s_info[slaId];
        if (info.aggregator == address(0)) return (false, 0, 0);
        if (s_terms[slaId].mode == OCA) {
            (answered, answer, updatedAt,) = _outcome(slaId, s_terms[slaId].responseDeadline);
            return (answered, answer, updatedAt);
        }
        ICommitRevealAggregator.RoundView memory r = ICommitRevealAggregator(info.aggregator).getRound(info.roundId);
        if (r.status != ICommitRevealAggregator.RoundStatus.Finalized) return (false, 0, 0);
        return (true, r.answer, r.updatedAt);
    }

    /// @inheritdoc IOrderMatching
    function requestIdOf(uint256 slaId) external view returns (bytes32) {
        return _requestId(slaId);
    }

    /// @inheritdoc IOrderMatching
    function owed(address account) external view returns (uint256) {
        return s_owed[account];
    }

    /// @inheritdoc IOrderMatching
    function slaCount() external view returns (uint256) {
        return s_slaCount;
    }

    /// @inheritdoc IOrderMatching
    function linkToken() external view returns (address) {
        return address(i_link);
    }

    /// @inheritdoc IOrderMatching
    function reputation() external view returns (address) {
        return address(i_reputation);
    }

    /// @inheritdoc IOrderMatching
    function aggregatorFactory() external view returns (address) {
        return address(i_factory);
    }

    // ------------------------------------------------------------------ internals

    /// @dev The request id of `slaId`'s round: the market is the requester and the SLA id its nonce.
    function _requestId(uint256 slaId) private view returns (bytes32) {
        return keccak256(abi.encodePacked(address(this), slaId));
    }

    function _outcome(uint256 slaId, uint256 deadline) private view returns (bool, int256, uint256, uint256) {
        return i_factory.outcome(slaId, deadline);
    }

    /// @dev `status` as an SLAStatus (always in range: only the constants above are stored).
    function _status(uint8 status) private pure returns (SLAStatus s) {
        assembly ("memory-safe") {
            s := status
        }
    }

    /// @dev The core of `slaId`, which must be served.
    function _serving(uint256 slaId) private view returns (SLACore memory c) {
        c = s_core[slaId];
        if (c.status == NONE) revert UnknownSLA(slaId);
        if (c.status != SERVING) revert NotServing(slaId, _status(c.status));
    }

    function _popcount(uint256 x) private pure returns (uint256 count) {
        while (x != 0) {
            x &= x - 1;
            ++count;
        }
    }
}
