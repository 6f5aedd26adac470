// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IERC677Receiver
/// @notice A contract that accepts tokens sent with `transferAndCall` and acts on them in the
///         same transaction (whitepaper §5.5).
interface IERC677Receiver {
    /// @notice Called by the token after `amount` tokens moved from `sender` to this contract.
    /// @param sender The account that called `transferAndCall`.
    /// @param amount The number of tokens (smallest unit) now held for `sender`.
    /// @param data The payload `sender` attached.
    function onTokenTransfer(address sender, uint256 amount, bytes calldata data) external;
}
