// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IOwned
/// @notice Single owner with a two-step hand-over: the new owner must accept.
interface IOwned {
    /// @notice Only the owner may call this function.
    error NotOwner(address caller);
    /// @notice Only the proposed owner may accept ownership.
    error NotPendingOwner(address caller);
    /// @notice The owner cannot be handed to itself or to the zero address.
    error InvalidOwner(address proposed);

    event OwnershipTransferRequested(address indexed from, address indexed to);
    event OwnershipTransferred(address indexed from, address indexed to);

    /// @notice The current owner.
    function owner() external view returns (address);
    /// @notice Proposes `to` as the next owner; it takes over when it calls `acceptOwnership`.
    function transferOwnership(address to) external;
    /// @notice Completes a hand-over started by `transferOwnership`.
    function acceptOwnership() external;
}
