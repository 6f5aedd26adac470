// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ILinkToken} from "../interfaces/ILinkToken.sol";
import {IERC677Receiver} from "../interfaces/IERC677Receiver.sol";

/// @title LinkToken
/// @notice ERC20 + ERC677 token with a fixed supply of 10^9 tokens (18 decimals), all minted
///         to the deployer.
contract LinkToken is ILinkToken {
    /// @inheritdoc ILinkToken
    uint256 public constant totalSupply = 1e27;
    /// @inheritdoc ILinkToken
    uint8 public constant decimals = 18;

    /// @inheritdoc ILinkToken
    mapping(address account => uint256) public balanceOf;
    /// @inheritdoc ILinkToken
    mapping(address owner => mapping(address spender => uint256)) public allowance;

    constructor() {
        balanceOf[msg.sender] = totalSupply;
        emit Transfer(address(0), msg.sender, totalSupply);
    }

    /// @inheritdoc ILinkToken
    function name() external pure returns (string memory) {
        return "ChainLink Token";
    }

    /// @inheritdoc ILinkToken
    function symbol() external pure returns (string memory) {
        return "LINK";
    }

    /// @inheritdoc ILinkToken
    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    /// @inheritdoc ILinkToken
    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    /// @inheritdoc ILinkToken
    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < value) revert InsufficientAllowance(from, msg.sender, allowed, value);
            unchecked {
                allowance[from][msg.sender] = allowed - value;
            }
        }
        _transfer(from, to, value);
        return true;
    }

    /// @inheritdoc ILinkToken
    function transferAndCall(address to, uint256 value, bytes calldata data) external returns (bool) {
        _transfer(msg.sender, to, value);
        emit Transfer(msg.sender, to, value, data);
        if (to.code.length != 0) IERC677Receiver(to).onTokenTransfer(msg.sender, value, data);
        return true;
    }

    function _transfer(address from, address to, uint256 value) private {
        if (to == address(0) || to == address(this)) revert InvalidRecipient(to);
        uint256 balance = balanceOf[from];
        if (balance < value) revert InsufficientBalance(from, balance, value);
        unchecked {
            // Cannot overflow: the sum of all balances is totalSupply.
            balanceOf[from] = balance - value;
            balanceOf[to] += value;
        }
        emit Transfer(from, to, value);
    }
}
