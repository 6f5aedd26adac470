// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IOwned} from "../interfaces/IOwned.sol";

/// @title Owned
/// @notice Single owner with a two-step hand-over.
abstract contract Owned is IOwned {
    address private s_owner;
    address private s_pendingOwner;

    constructor(address initialOwner) {
        if (initialOwner == address(0)) revert InvalidOwner(initialOwner);
        s_owner = initialOwner;
        emit OwnershipTransferred(address(0), initialOwner);
    }

    modifier onlyOwner() {
        if (msg.sender != s_owner) revert NotOwner(msg.sender);
        _;
    }

    /// @inheritdoc IOwned
    function owner() public view returns (address) {
        return s_owner;
    }

    /// @inheritdoc IOwned
    function transferOwnership(address to) external onlyOwner {
        if (to == address(0) || to == msg.sender) revert InvalidOwner(to);
        s_pendingOwner = to;
        emit OwnershipTransferRequested(msg.sender, to);
    }

    /// @inheritdoc IOwned
    function acceptOwnership() external {
        if (msg.sender != s_pendingOwner) revert NotPendingOwner(msg.sender);
        address previous = s_owner;
        s_owner = msg.sender;
        s_pendingOwner = address(0);
        emit OwnershipTransferred(previous, msg.sender);
    }
}
