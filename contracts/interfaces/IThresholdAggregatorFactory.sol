// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IThresholdAggregatorFactory
/// @notice Deploys the ThresholdAggregator that serves an off-chain-aggregation SLA of the
///         order-matching market, at an address known before the committee's group key exists,
///         and keeps the committee's group-key confirmations that decide when (and with which
///         key) it is deployed and which members are paid.
/// @dev The committee binds its DKG to the aggregator's config digest, which contains the
///      aggregator's address, so the address must be fixed at finalize, before the key is made.
///      The aggregator is created with CREATE2 (salt `keccak256(abi.encode(market, slaId))`) from
///      init code that contains no parameter: its constructor reads them from the deploying
///      factory (`parameters()`), which holds them in transient storage only for the duration of
///      `deploy`. So `predict(slaId)` is the address whatever key the committee makes. Only the
///      market may confirm (it forwards its members' `confirmGroupKey`, after checking the SLA
///      is served by off-chain aggregation); the confirmation that makes n − f members agree on
///      one key deploys the aggregator, once per SLA. The committee is the market's
///      (`committeeOf`), f = ⌊(n−1)/3⌋. Kept out of the market to keep it under EIP-170.
interface IThresholdAggregatorFactory {
    /// @notice What an aggregator is constructed with (ThresholdAggregator's constructor arguments).
    struct Parameters {
        uint256 px;
        uint8 parity;
        address[] oracles;
        uint8 f;
        uint32 epoch;
        int192 minAnswer;
        int192 maxAnswer;
        uint8 decimals;
        string description;
    }

    /// @notice Only the market that created this factory may deploy.
    error NotMarket(address caller);
    /// @notice The aggregator of this SLA already exists.
    error AlreadyDeployed(uint256 slaId, address aggregator);
    /// @notice `parameters()` is only readable while `deploy` runs (by the aggregator's constructor).
    error NotDeploying();

    /// @notice Member `oracle` of `slaId`'s committee confirmed group key (px, parity).
    event GroupKeyConfirmed(uint256 indexed slaId, address indexed oracle, uint256 px, uint8 parity);
    /// @notice n − f members confirmed (px, parity): the aggregator of `slaId` was deployed with it.
    event AggregatorDeployed(uint256 indexed slaId, address indexed aggregator, uint256 px, uint8 parity);

    /// @notice Records that `oracle` confirmed (px, parity) for `slaId`; deploys the aggregator
    ///         at `predict(slaId)` with that key when this makes n − f members agree on it.
    ///         Market only. Reverts with the market's `NotCommitteeMember`,
    ///         `KeyAlreadyConfirmed` or `InvalidGroupKey`.
    /// @return aggregator The deployed aggregator, or zero when this confirmation deployed none.
    function confirm(uint256 slaId, address oracle, uint256 px, uint8 parity) external returns (address aggregator);

    /// @notice The outcome of `slaId` as settle reads it: whether its aggregator has an answer
    ///         with `updatedAt` ≤ `deadline` (the latest round; zero values otherwise), and the
    ///         members (bit i = committee index i) that confirmed the key the aggregator was
    ///         deployed with (0 while there is none).
    function outcome(uint256 slaId, uint256 deadline)
        external
        view
        returns (bool answered, int256 answer, uint256 updatedAt, uint256 confirmedBitmap);

    /// @notice The members of `slaId` that confirmed any key (bit i = committee index i).
    function confirmations(uint256 slaId) external view returns (uint256 bitmap);

    /// @notice The address the aggregator of `slaId` has (or will have).
    function predict(uint256 slaId) external view returns (address);

    /// @notice The parameters of the aggregator being deployed (only during `deploy`).
    function parameters() external view returns (Parameters memory);

    /// @notice The market allowed to deploy.
    function market() external view returns (address);

    /// @notice keccak256 of the aggregators' init code (the same for every SLA).
    function initCodeHash() external view returns (bytes32);
}
