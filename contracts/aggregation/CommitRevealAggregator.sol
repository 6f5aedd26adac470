// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ICommitRevealAggregator} from "../interfaces/ICommitRevealAggregator.sol";
import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {FeedMetadata} from "./FeedMetadata.sol";
import {IAggregationFunction} from "../interfaces/IAggregationFunction.sol";
import {ILinkToken} from "../interfaces/ILinkToken.sol";
import {Owned} from "../shared/Owned.sol";
import {RequestCalldata} from "../shared/RequestCalldata.sol";

/// @title CommitRevealAggregator
/// @notice A committee answering requests and keeping a feed by commit–reveal (see
///         ICommitRevealAggregator; whitepaper §4.2, Algorithm 1).
/// @dev Gas notes. A commit and a reveal each touch four slots: the packed configuration, the
///      oracle's record, the round's core and the oracle's entry. Entries (a commitment, later the
///      revealed value, tagged with the round id) live in a ring of `RING` slots per committee
///      member that rounds reuse once they no longer need them, so a commit usually writes a
///      non-zero slot (5k gas) instead of a fresh one (22k); when the ring slot is still needed
///      by an older round, the entry goes to a per-round mapping instead. A commitment is kept
///      as its low 224 bits: opening a truncated commitment to two values still needs a
///      2^112-work collision.
contract CommitRevealAggregator is ICommitRevealAggregator, FeedMetadata, Owned {
    /// @notice Largest committee (round bitmaps are 32 bits).
    uint256 public constant MAX_ORACLES = 31;
    /// @notice Ring slots per committee member.
    uint256 public constant RING = 8;

    uint8 private constant STATUS_NONE = 0;
    uint8 private constant STATUS_OPEN = 1;
    uint8 private constant STATUS_FINALIZED = 2;
    uint8 private constant STATUS_FAILED = 3;
    uint256 private constant PAYLOAD_BITS = 224;
    uint256 private constant PAYLOAD_MASK = (1 << PAYLOAD_BITS) - 1;
    /// @dev Kept back beyond the callback's gas: the 1/64th the EVM withholds, and the work after.
    uint256 private constant CALLBACK_OVERHEAD = 15_000;

    /// @dev The configuration a commit or reveal needs, in one slot.
    struct ConfigCore {
        uint16 version;
        uint8 n;
        uint8 f;
        uint8 minReveals;
        uint8 revealThreshold;
        uint32 commitWindow;
        uint32 revealWindow;
        uint96 payment;
        uint16 agreementBps;
        uint32 callbackGasLimit;
    }

    struct Bounds {
        int128 minAnswer;
        int128 maxAnswer;
    }

    /// @dev One slot per oracle: its place in the committee (valid while `version` is current),
    ///      its counters and its earnings.
    struct OracleRecord {
        uint8 index;
        uint16 version;
        uint32 commits;
        uint32 reveals;
        uint40 totalResponseSeconds;
        uint32 lastFeedStart;
        uint96 withdrawable;
    }

    /// @dev One slot per round.
    struct RoundCore {
        uint32 commitBitmap;
        uint32 revealBitmap;
        uint8 commits;
        uint8 reveals;
        uint8 status;
        bool isFeed;
        bool revealsOpen;
        uint16 configVersion;
        uint32 startedAt;
        uint96 escrow;
    }

    struct RoundResult {
        int128 answer;
        uint32 agreeBitmap;
        uint32 updatedAt;
    }

    struct Request {
        address callback;
        bytes4 selector;
        address requester;
        bytes32 requestId;
    }

    ILinkToken private immutable i_link;

    ConfigCore private s_config;
    Bounds private s_bounds;
    address private s_aggregation;
    address[] private s_oracleList;
    mapping(address oracle => OracleRecord) private s_oracles;

    uint256 private s_lastRoundId;
    uint256 private s_latestFeedRound;
    uint256 private s_latestAnsweredFeedRound;
    uint256 private s_availableFunds;
    /// @dev Feed rounds started so far (a member's `lastFeedStart` counts in these).
    uint256 private s_feedRounds;
    mapping(uint256 roundId => RoundCore) private s_rounds;
    mapping(uint256 roundId => RoundResult) private s_results;
    mapping(uint256 roundId => Request) private s_requests;
    mapping(bytes32 requestId => uint256 roundId) private s_requestRounds;

    uint256[RING][MAX_ORACLES] private s_ring;
    mapping(uint256 roundId => mapping(uint256 index => uint256)) private s_overflow;

    /// @param link The LINK token rounds are paid in.
    /// @param initialOwner Sets the configuration.
    /// @param decimals_ Decimal places of the feed's answers.
    /// @param description_ What the feed reports, e.g. "ETH / USD".
    constructor(address link, address initialOwner, uint8 decimals_, string memory description_)
        FeedMetadata(decimals_, description_)
        Owned(initialOwner)
    {
        i_link = ILinkToken(link);
    }

    // ------------------------------------------------------------------ configuration

    /// @inheritdoc ICommitRevealAggregator
    function setConfig(Config calldata c) external onlyOwner {
        uint256 n = c.oracles.length;
        if (n == 0 || n > MAX_ORACLES) revert InvalidCommitteeSize(n);
        if (n < 3 * uint256(c.f) + 1) revert CommitteeTooSmall(n, c.f);
        if (c.minReveals < uint256(c.f) + 1 || c.minReveals > n - c.f) {
            revert InvalidMinReveals(c.minReveals, c.f, n);
        }
        if (c.commitWindow == 0 || c.revealWindow == 0) revert InvalidWindows(c.commitWindow, c.revealWindow);
        if (c.minAnswer > c.maxAnswer) revert InvalidBounds(c.minAnswer, c.maxAnswer);
        if (c.aggregation.code.length == 0) revert InvalidAggregation(c.aggregation);
        if (c.agreementBps > 10_000) revert InvalidAgreementBps(c.agreementBps);

        uint16 nextVersion = s_config.version + 1;
        for (uint256 i = 0; i < n; ++i) {
            address oracle = c.oracles[i];
            if (oracle == address(0)) revert ZeroOracle();
            OracleRecord storage record = s_oracles[oracle];
            if (record.version == nextVersion) revert DuplicateOracle(oracle);
            record.index = uint8(i);
            record.version = nextVersion;
        }
        uint256 threshold = 2 * uint256(c.f) + 1;
        if (c.minReveals > threshold) threshold = c.minReveals;
        s_config = ConfigCore({
            version: nextVersion,
            n: uint8(n),
            f: c.f,
            minReveals: c.minReveals,
            revealThreshold: uint8(threshold),
            commitWindow: c.commitWindow,
            revealWindow: c.revealWindow,
            payment: c.paymentPerAnswer,
            agreementBps: c.agreementBps,
            callbackGasLimit: c.callbackGasLimit
        });
        s_bounds = Bounds(c.minAnswer, c.maxAnswer);
        s_aggregation = c.aggregation;
        s_oracleList = c.oracles;
        emit ConfigSet(nextVersion, c.oracles, c.f, c.minReveals);
    }

    /// @inheritdoc ICommitRevealAggregator
    function latestConfig() external view returns (uint16 configVersion, Config memory config) {
        ConfigCore memory cfg = s_config;
        Bounds memory b = s_bounds;
        config = Config({
            oracles: s_oracleList,
            f: cfg.f,
            minReveals: cfg.minReveals,
            commitWindow: cfg.commitWindow,
            revealWindow: cfg.revealWindow,
            paymentPerAnswer: cfg.payment,
            minAnswer: b.minAnswer,
            maxAnswer: b.maxAnswer,
            aggregation: s_aggregation,
            callbackGasLimit: cfg.callbackGasLimit,
            agreementBps: cfg.agreementBps
        });
        configVersion = cfg.version;
    }

    // ------------------------------------------------------------------ opening rounds

    /// @inheritdoc ICommitRevealAggregator
    function onTokenTransfer(address sender, uint256 amount, bytes calldata data) external {
        if (msg.sender != address(i_link)) revert NotLinkToken(msg.sender);
        if (data.length == 0) {
            s_availableFunds += amount;
            emit FundsAdded(sender, amount);
            return;
        }
        RequestCalldata.Header memory h = RequestCalldata.decode(data, sender);
        _request(
            sender,
            amount,
            h.specId,
            h.callback,
            h.callbackSelector,
            h.nonce,
            RequestCalldata.bytesArgument(data, h.paramsWord)
        );
    }

    function _request(
        address requester,
        uint256 payment,
        bytes32 specId,
        address callback,
        bytes4 callbackSelector,
        uint256 nonce,
        bytes calldata data
    ) private {
        if (callback == address(i_link)) revert CallbackIsLinkToken();
        ConfigCore memory cfg = _configured();
        uint256 required = uint256(cfg.n) * cfg.payment;
        if (payment < required) revert InsufficientPayment(payment, required);
        bytes32 requestId = keccak256(abi.encodePacked(requester, nonce));
        if (s_requestRounds[requestId] != 0) revert DuplicateRequest(requestId);
        uint256 roundId = _open(cfg, payment, requester, requestId, specId, data);
        s_requestRounds[requestId] = roundId;
        s_requests[roundId] = Request(callback, callbackSelector, requester, requestId);
    }

    /// @inheritdoc ICommitRevealAggregator
    function startFeedRound() external returns (uint256 roundId) {
        ConfigCore memory cfg = _configured();
        (OracleRecord storage record,) = _member(cfg);
        uint256 count = s_feedRounds + 1;
        uint256 last = record.lastFeedStart;
        if (last != 0 && count - last <= cfg.f) revert FeedRoundStartTooSoon(msg.sender, count - last - 1, cfg.f);
        uint256 previous = s_latestFeedRound;
        if (previous != 0) {
            RoundCore memory p = s_rounds[previous];
            if (p.status == STATUS_OPEN) {
                if (p.configVersion == cfg.version && block.timestamp < _revealDeadline(p, cfg)) {
                    revert FeedRoundInProgress(previous);
                }
                _settle(previous, p);
            }
        }
        uint256 required = uint256(cfg.n) * cfg.payment;
        uint256 available = s_availableFunds;
        if (available < required) revert InsufficientFunds(available, required);
        s_availableFunds = available - required;
        roundId = _open(cfg, required, address(0), 0, 0, msg.data[0:0]);
        s_latestFeedRound = roundId;
        s_feedRounds = count;
        record.lastFeedStart = uint32(count);
        emit NewRound(roundId, msg.sender, block.timestamp);
    }

    /// @dev Opens a round; a zero `requester` makes it a feed round.
    function _open(
        ConfigCore memory cfg,
        uint256 escrow,
        address requester,
        bytes32 requestId,
        bytes32 specId,
        bytes calldata data
    ) private returns (uint256 roundId) {
        roundId = ++s_lastRoundId;
        s_rounds[roundId] = RoundCore({
            commitBitmap: 0,
            revealBitmap: 0,
            commits: 0,
            reveals: 0,
            status: STATUS_OPEN,
            isFeed: requester == address(0),
            revealsOpen: false,
            configVersion: cfg.version,
            startedAt: uint32(block.timestamp),
            escrow: uint96(escrow)
        });
        emit RoundStarted(
            roundId,
            requester,
            cfg.version,
            requestId,
            specId,
            uint32(block.timestamp + cfg.commitWindow),
            uint32(block.timestamp + cfg.commitWindow + cfg.revealWindow),
            data
        );
    }

    // ------------------------------------------------------------------ commit and reveal

    /// @inheritdoc ICommitRevealAggregator
    function commit(uint256 roundId, bytes32 commitment) external {
        if (commitment == 0) revert ZeroCommitment();
        ConfigCore memory cfg = s_config;
        (OracleRecord storage record, uint256 index) = _member(cfg);
        RoundCore memory r = s_rounds[roundId];
        if (r.status != STATUS_OPEN || r.configVersion != cfg.version) revert RoundNotOpen(roundId);
        if (r.reveals != 0 || block.timestamp >= uint256(r.startedAt) + cfg.commitWindow) {
            revert CommitsClosed(roundId);
        }
        uint32 bit = uint32(1 << index);
        if (r.commitBitmap & bit != 0) revert AlreadyCommitted(roundId, msg.sender);
        r.commitBitmap |= bit;
        r.commits += 1;
        if (r.commits == cfg.revealThreshold) {
            r.revealsOpen = true;
            emit RevealsOpened(roundId);
        }
        s_rounds[roundId] = r;
        _storeNewEntry(roundId, index, uint256(commitment) & PAYLOAD_MASK, cfg);
        record.commits += 1;
        emit Committed(roundId, msg.sender);
    }

    /// @inheritdoc ICommitRevealAggregator
    function reveal(uint256 roundId, int256 value, bytes32 salt) external {
        ConfigCore memory cfg = s_config;
        (OracleRecord storage record, uint256 index) = _member(cfg);
        RoundCore memory r = s_rounds[roundId];
        if ((r.status != STATUS_OPEN && r.status != STATUS_FINALIZED) || r.configVersion != cfg.version) {
            revert RoundNotOpen(roundId);
        }
        if (block.timestamp >= _revealDeadline(r, cfg)) revert RevealsClosed(roundId);
        if (!r.revealsOpen && block.timestamp < uint256(r.startedAt) + cfg.commitWindow) {
            revert RevealsNotOpen(roundId);
        }
        uint32 bit = uint32(1 << index);
        if (r.commitBitmap & bit == 0) revert NotCommitted(roundId, msg.sender);
        if (r.revealBitmap & bit != 0) revert AlreadyRevealed(roundId, msg.sender);
        Bounds memory b = s_bounds;
        if (value < b.minAnswer || value > b.maxAnswer) revert ValueOutOfBounds(value, b.minAnswer, b.maxAnswer);

        (uint256 slot, uint256 entry) = _entry(roundId, index);
        bytes32 expected = _commitment(cfg.version, roundId, msg.sender, value, salt);
        if (entry & PAYLOAD_MASK != uint256(expected) & PAYLOAD_MASK) revert InvalidReveal(roundId, msg.sender);
        _writeSlot(slot, (roundId << PAYLOAD_BITS) | (uint256(value) & PAYLOAD_MASK));

        uint256 elapsed = block.timestamp - r.startedAt;
        r.revealBitmap |= bit;
        r.reveals += 1;
        r.escrow -= cfg.payment;
        record.reveals += 1;
        record.totalResponseSeconds += uint40(elapsed);
        record.withdrawable += cfg.payment;
        emit Revealed(roundId, msg.sender, value, elapsed);

        if (r.status == STATUS_FINALIZED) {
            s_rounds[roundId] = r;
            RoundResult storage result = s_results[roundId];
            if (_agrees(value, result.answer, cfg.agreementBps)) result.agreeBitmap |= bit;
            return;
        }
        if (r.reveals < cfg.minReveals || !_tryFinalize(roundId, r, cfg, b)) s_rounds[roundId] = r;
    }

    /// @dev Asks the aggregation function; on an in-bounds answer finalises the round (writes
    ///      `r`), refunds what no late revealer can claim, and delivers the answer.
    function _tryFinalize(uint256 roundId, RoundCore memory r, ConfigCore memory cfg, Bounds memory b)
        private
        returns (bool)
    {
        int256[] memory values = new int256[](r.reveals);
        uint256 k;
        for (uint256 i = 0; i < cfg.n; ++i) {
            if (r.revealBitmap & (1 << i) != 0) {
                (, uint256 entry) = _entry(roundId, i);
                values[k++] = _valueOf(entry);
            }
        }
        int256 answer;
        try IAggregationFunction(s_aggregation).aggregate(values) returns (bool ok, int256 a) {
            if (!ok || a < b.minAnswer || a > b.maxAnswer) return false;
            answer = a;
        } catch {
            return false;
        }

        uint32 agree;
        k = 0;
        for (uint256 i = 0; i < cfg.n; ++i) {
            if (r.revealBitmap & (1 << i) != 0) {
                if (_agrees(values[k++], answer, cfg.agreementBps)) agree |= uint32(1 << i);
            }
        }
        r.status = STATUS_FINALIZED;
        uint256 keep = uint256(r.commits - r.reveals) * cfg.payment;
        uint256 refund = r.escrow - keep;
        r.escrow = uint96(keep);
        s_rounds[roundId] = r;
        s_results[roundId] = RoundResult(int128(answer), agree, uint32(block.timestamp));
        emit RoundFinalized(roundId, answer, r.reveals, agree);
        if (refund != 0) _refund(roundId, r.isFeed, refund);

        if (r.isFeed) {
            if (roundId > s_latestAnsweredFeedRound) s_latestAnsweredFeedRound = roundId;
            emit AnswerUpdated(answer, roundId, block.timestamp);
        } else {
            _deliver(roundId, answer, cfg.callbackGasLimit);
        }
        return true;
    }

    /// @dev Calls the requester's callback with exactly `gasLimit` gas and copies no return data:
    ///      a reverting, gas-burning or return-bombing consumer cannot undo the round. The caller
    ///      must leave enough gas, or the whole reveal reverts (no revealer can starve it).
    function _deliver(uint256 roundId, int256 answer, uint256 gasLimit) private {
        Request memory q = s_requests[roundId];
        bytes memory payload = abi.encodeWithSelector(q.selector, q.requestId, answer);
        uint256 required = gasLimit + gasLimit / 63 + CALLBACK_OVERHEAD;
        if (gasleft() < required) revert InsufficientGasForCallback(gasleft(), required);
        address target = q.callback;
        bool success;
        assembly ("memory-safe") {
            success := call(gasLimit, target, 0, add(payload, 32), mload(payload), 0, 0)
        }
        emit RequestFulfilled(roundId, q.requestId, success);
    }

    // ------------------------------------------------------------------ settlement and funds

    /// @inheritdoc ICommitRevealAggregator
    function settle(uint256 roundId) external {
        RoundCore memory r = s_rounds[roundId];
        ConfigCore memory cfg = s_config;
        bool stale = r.configVersion != cfg.version;
        if (
            r.status == STATUS_NONE || (r.status != STATUS_OPEN && r.escrow == 0)
                || (!stale && block.timestamp < _revealDeadline(r, cfg))
        ) revert NotSettleable(roundId);
        _settle(roundId, r);
    }

    function _settle(uint256 roundId, RoundCore memory r) private {
        if (r.status == STATUS_OPEN) {
            r.status = STATUS_FAILED;
            emit RoundFailed(roundId, r.commits, r.reveals);
        }
        uint256 refund = r.escrow;
        r.escrow = 0;
        s_rounds[roundId] = r;
        if (refund != 0) _refund(roundId, r.isFeed, refund);
    }

    function _refund(uint256 roundId, bool isFeed, uint256 amount) private {
        if (isFeed) {
            s_availableFunds += amount;
            emit Refunded(roundId, address(0), amount);
        } else {
            address requester = s_requests[roundId].requester;
            _transfer(requester, amount);
            emit Refunded(roundId, requester, amount);
        }
    }

    /// @inheritdoc ICommitRevealAggregator
    function withdraw(address recipient, uint256 amount) external {
        OracleRecord storage record = s_oracles[msg.sender];
        uint256 available = record.withdrawable;
        if (amount > available) revert InsufficientWithdrawable(amount, available);
        record.withdrawable = uint96(available - amount);
        _transfer(recipient, amount);
    }

    function _transfer(address to, uint256 amount) private {
        if (!i_link.transfer(to, amount)) revert LinkTransferFailed(to, amount);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ICommitRevealAggregator
    function commitmentFor(uint16 configVersion, uint256 roundId, address oracle, int256 value, bytes32 salt)
        external
        view
        returns (bytes32)
    {
        return _commitment(configVersion, roundId, oracle, value, salt);
    }

    /// @inheritdoc ICommitRevealAggregator
    function getRound(uint256 roundId) external view returns (RoundView memory v) {
        RoundCore memory r = s_rounds[roundId];
        RoundResult memory result = s_results[roundId];
        ConfigCore memory cfg = s_config;
        v.status = RoundStatus(r.status);
        v.isFeed = r.isFeed;
        v.configVersion = r.configVersion;
        v.startedAt = r.startedAt;
        if (r.status != STATUS_NONE && r.configVersion == cfg.version) {
            v.commitDeadline = r.startedAt + cfg.commitWindow;
            v.revealDeadline = uint32(_revealDeadline(r, cfg));
        }
        v.commitBitmap = r.commitBitmap;
        v.revealBitmap = r.revealBitmap;
        v.agreeBitmap = result.agreeBitmap;
        v.revealsOpen = r.revealsOpen || (v.commitDeadline != 0 && block.timestamp >= v.commitDeadline);
        v.escrow = r.escrow;
        v.answer = result.answer;
        v.updatedAt = result.updatedAt;
    }

    /// @inheritdoc ICommitRevealAggregator
    function getOracle(address oracle) external view returns (OracleView memory) {
        OracleRecord memory record = s_oracles[oracle];
        return OracleView({
            isMember: record.version != 0 && record.version == s_config.version,
            index: record.index,
            commits: record.commits,
            reveals: record.reveals,
            totalResponseSeconds: record.totalResponseSeconds,
            withdrawable: record.withdrawable
        });
    }

    /// @inheritdoc ICommitRevealAggregator
    function latestRoundId() external view returns (uint256) {
        return s_lastRoundId;
    }

    /// @inheritdoc ICommitRevealAggregator
    function latestFeedRoundId() external view returns (uint256) {
        return s_latestFeedRound;
    }

    /// @inheritdoc ICommitRevealAggregator
    function availableFunds() external view returns (uint256) {
        return s_availableFunds;
    }

    /// @inheritdoc ICommitRevealAggregator
    function roundOfRequest(bytes32 requestId) external view returns (uint256) {
        return s_requestRounds[requestId];
    }

    /// @inheritdoc ICommitRevealAggregator
    function linkToken() external view returns (address) {
        return address(i_link);
    }




    /// @inheritdoc AggregatorV3Interface
    function getRoundData(uint80 roundId) public view returns (uint80, int256, uint256, uint256, uint80) {
        RoundCore memory r = s_rounds[roundId];
        if (!r.isFeed || r.status != STATUS_FINALIZED) revert NoDataPresent();
        RoundResult memory result = s_results[roundId];
        return (roundId, result.answer, r.startedAt, result.updatedAt, roundId);
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        uint256 roundId = s_latestAnsweredFeedRound;
        if (roundId == 0) revert NoDataPresent();
        return getRoundData(uint80(roundId));
    }

    // ------------------------------------------------------------------ internals

    function _configured() private view returns (ConfigCore memory cfg) {
        cfg = s_config;
        if (cfg.version == 0) revert NotConfigured();
    }

    /// @dev The caller's record and committee index; reverts unless it is a current member.
    function _member(ConfigCore memory cfg) private view returns (OracleRecord storage record, uint256 index) {
        record = s_oracles[msg.sender];
        uint16 v = record.version;
        if (v == 0 || v != cfg.version) revert NotCommitteeMember(msg.sender);
        index = record.index;
    }

    function _revealDeadline(RoundCore memory r, ConfigCore memory cfg) private pure returns (uint256) {
        return uint256(r.startedAt) + cfg.commitWindow + cfg.revealWindow;
    }

    function _commitment(uint16 configVersion, uint256 roundId, address oracle, int256 value, bytes32 salt)
        private
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(block.chainid, address(this), uint256(configVersion), roundId, oracle, value, salt));
    }

    function _agrees(int256 value, int256 answer, uint256 bps) private pure returns (bool) {
        if (bps == 0) return value == answer;
        int256 diff = value - answer;
        uint256 absDiff = uint256(diff < 0 ? -diff : diff);
        uint256 absAnswer = uint256(answer < 0 ? -answer : answer);
        return absDiff * 10_000 <= absAnswer * bps;
    }

    function _valueOf(uint256 entry) private pure returns (int256) {
        return int256(int224(uint224(entry & PAYLOAD_MASK)));
    }

    /// @dev Storage slot of member `index`'s ring entry for `roundId`.
    function _ringSlot(uint256 roundId, uint256 index) private pure returns (uint256 slot) {
        assembly ("memory-safe") {
            slot := add(s_ring.slot, add(mul(index, RING), mod(roundId, RING)))
        }
    }

    function _overflowSlot(uint256 roundId, uint256 index) private pure returns (uint256 slot) {
        assembly ("memory-safe") {
            mstore(0x00, roundId)
            mstore(0x20, s_overflow.slot)
            mstore(0x20, keccak256(0x00, 0x40))
            mstore(0x00, index)
            slot := keccak256(0x00, 0x40)
        }
    }

    function _readSlot(uint256 slot) private view returns (uint256 v) {
        assembly ("memory-safe") {
            v := sload(slot)
        }
    }

    function _writeSlot(uint256 slot, uint256 v) private {
        assembly ("memory-safe") {
            sstore(slot, v)
        }
    }

    /// @dev Where member `index`'s entry for `roundId` is, and the entry.
    function _entry(uint256 roundId, uint256 index) private view returns (uint256 slot, uint256 entry) {
        slot = _ringSlot(roundId, index);
        entry = _readSlot(slot);
        if (entry >> PAYLOAD_BITS != roundId) {
            slot = _overflowSlot(roundId, index);
            entry = _readSlot(slot);
        }
    }

    /// @dev Stores a new entry in the ring slot unless an older round still needs that slot.
    function _storeNewEntry(uint256 roundId, uint256 index, uint256 payload, ConfigCore memory cfg) private {
        uint256 slot = _ringSlot(roundId, index);
        uint256 old = _readSlot(slot);
        if (old != 0 && _stillNeeded(old >> PAYLOAD_BITS, index, cfg)) slot = _overflowSlot(roundId, index);
        _writeSlot(slot, (roundId << PAYLOAD_BITS) | payload);
    }

    /// @dev Whether member `index`'s entry for `roundId` may still be read: the round is open (its
    ///      values are aggregated when it finalises) or finalised with this member's reveal
    ///      still outstanding, and its reveal deadline has not passed under the current config.
    function _stillNeeded(uint256 roundId, uint256 index, ConfigCore memory cfg) private view returns (bool) {
        RoundCore memory r = s_rounds[roundId];
        if (r.configVersion != cfg.version || block.timestamp >= _revealDeadline(r, cfg)) return false;
        if (r.status == STATUS_OPEN) return true;
        return r.status == STATUS_FINALIZED && (r.commitBitmap & ~r.revealBitmap) & (1 << index) != 0;
    }
}
