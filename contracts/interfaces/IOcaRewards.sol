// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IOcaRewards
/// @notice On-chain settlement of Algorithm 3 (RewardOracles, whitepaper Appendix A) for one
///         ThresholdAggregator committee: the provider, which runs Algorithm 3 off chain, posts
///         which members earned each round, in batches; each earns `paymentPerRound` per round.
/// @dev Rounds are settled in order, each once: a batch covers rounds
///      `lastSettledRound + 1 ..` with one bitmap per round (bit i−1 = member i). A batch adds up
///      each member's earnings in memory and writes each member once, so a batch of many rounds
///      costs about as much as one. Invariant:
///      `LINK.balanceOf(this) == availableFunds() + Σ owed(member)` (+ LINK sent by plain `transfer`).
interface IOcaRewards {
    /// @notice Only the LINK token may call this function.
    error NotLinkToken(address caller);
    /// @notice The batch must start right after the last settled round (`expected`).
    error RoundOutOfOrder(uint32 firstRound, uint32 expected);
    /// @notice A bitmap names a member the committee does not have.
    error UnknownMember(uint256 round, uint256 bitmap);
    /// @notice The batch pays `required` but only `available` is funded.
    error InsufficientFunds(uint256 available, uint256 required);
    /// @notice The caller asked for `requested` LINK but is owed `available`.
    error InsufficientOwed(uint256 requested, uint256 available);
    /// @notice The LINK token refused a transfer.
    error LinkTransferFailed(address to, uint256 amount);
    /// @notice The committee must have 1 to 255 members.
    error InvalidCommittee(uint256 n);

    /// @notice Rounds `firstRound .. firstRound + count − 1` were settled for `paid` LINK in total.
    event Settled(uint32 firstRound, uint32 count, uint256 paid);
    /// @notice `amount` LINK was added to the funds by `from`.
    event FundsAdded(address indexed from, uint256 amount);

    /// @notice Funding: `LINK.transferAndCall(this, amount, "")`.
    function onTokenTransfer(address sender, uint256 amount, bytes calldata data) external;

    /// @notice Settles rounds `firstRound ..` (owner, the provider, only): `bitmaps[k]` names the
    ///         members rewarded for round `firstRound + k`.
    function settle(uint32 firstRound, uint256[] calldata bitmaps) external;

    /// @notice Sends `amount` of the caller's earnings to `recipient`.
    function withdraw(address recipient, uint256 amount) external;

    /// @notice LINK owed to `member`.
    function owed(address member) external view returns (uint256);

    /// @notice LINK not yet promised to anyone.
    function availableFunds() external view returns (uint256);

    /// @notice The last round settled (0 before the first batch).
    function lastSettledRound() external view returns (uint32);
}
