// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IOracleClient
/// @notice Events and errors of `OracleClient`, the base contract of oracle consumers.
interface IOracleClient {
    /// @notice `msg.sender` tried to fulfil `requestId`, which is pending with `expected`
    ///         (the zero address when the request is not pending at all).
    error UnexpectedFulfiller(bytes32 requestId, address expected, address actual);
    /// @notice `requestId` is not pending (never sent, already fulfilled or cancelled).
    error RequestNotPending(bytes32 requestId);
    /// @notice No oracle or no LINK token has been set.
    error ClientNotConfigured();
    /// @notice The LINK token refused the payment.
    error LinkTransferFailed(address oracle, uint256 payment);

    /// @notice A request was sent; `id` is the request id the Operator uses.
    event OracleRequested(bytes32 indexed id);
    /// @notice A pending request was answered by its oracle.
    event OracleFulfilled(bytes32 indexed id);
    /// @notice A pending request was cancelled and its payment refunded.
    event OracleCancelled(bytes32 indexed id);
}
