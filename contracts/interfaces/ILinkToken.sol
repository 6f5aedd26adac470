// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ILinkToken
/// @notice LINK: an ERC20 token with ERC677 `transferAndCall`, so a payment and the request it
///         pays for reach a contract in one transaction.
interface ILinkToken {
    /// @notice `account` holds `balance` tokens but the transfer needs `needed`.
    error InsufficientBalance(address account, uint256 balance, uint256 needed);
    /// @notice `spender` may move `allowance` of `owner`'s tokens but the transfer needs `needed`.
    error InsufficientAllowance(address owner, address spender, uint256 allowance, uint256 needed);
    /// @notice Tokens may not be sent to the zero address or to the token contract itself.
    error InvalidRecipient(address recipient);

    /// @notice ERC20 transfer.
    event Transfer(address indexed from, address indexed to, uint256 value);
    /// @notice ERC677 transfer with the payload handed to the recipient.
    event Transfer(address indexed from, address indexed to, uint256 value, bytes data);
    /// @notice ERC20 approval.
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function name() external view returns (string memory);
    function symbol() external view returns (string memory);
    function decimals() external view returns (uint8);
    function totalSupply() external view returns (uint256);
    function balanceOf(address account) external view returns (uint256);
    function allowance(address owner, address spender) external view returns (uint256);

    /// @notice Moves `value` tokens from the caller to `to`.
    function transfer(address to, uint256 value) external returns (bool);
    /// @notice Lets `spender` move up to `value` of the caller's tokens.
    function approve(address spender, uint256 value) external returns (bool);
    /// @notice Moves `value` of `from`'s tokens to `to` within the caller's allowance.
    ///         An allowance of `type(uint256).max` is never decreased.
    function transferFrom(address from, address to, uint256 value) external returns (bool);

    /// @notice Moves `value` tokens to `to`, then, if `to` is a contract, calls
    ///         `IERC677Receiver(to).onTokenTransfer(msg.sender, value, data)`. A revert in the
    ///         receiver undoes the transfer.
    /// @return Always true; failures revert.
    function transferAndCall(address to, uint256 value, bytes calldata data) external returns (bool);
}
