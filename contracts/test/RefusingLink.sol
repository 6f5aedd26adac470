// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC677Receiver} from "../interfaces/IERC677Receiver.sol";

/// @title RefusingLink
/// @notice Test token: LINK's ERC20 + ERC677 surface, but transfers to accounts the deployer
///         marks are refused, by returning false (mode 1) or by reverting (mode 2). Lets tests
///         check that a contract paying in it loses nothing when a transfer fails.
contract RefusingLink {
    error Refused(address to);
    error InsufficientBalance(address account, uint256 balance, uint256 needed);

    event Transfer(address indexed from, address indexed to, uint256 value);

    uint256 public constant totalSupply = 1e27;
    uint8 public constant decimals = 18;
    address private immutable i_deployer;

    mapping(address account => uint256) public balanceOf;
    mapping(address account => uint8) public refusal;

    constructor() {
        i_deployer = msg.sender;
        balanceOf[msg.sender] = totalSupply;
    }

    /// @notice Refuse transfers to `account`: 0 accept, 1 return false, 2 revert. Deployer only.
    function setRefusal(address account, uint8 mode) external {
        if (msg.sender != i_deployer) revert Refused(msg.sender);
        refusal[account] = mode;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        uint8 mode = refusal[to];
        if (mode == 1) return false;
        if (mode == 2) revert Refused(to);
        _move(msg.sender, to, value);
        return true;
    }

    function transferAndCall(address to, uint256 value, bytes calldata data) external returns (bool) {
        _move(msg.sender, to, value);
        if (to.code.length != 0) IERC677Receiver(to).onTokenTransfer(msg.sender, value, data);
        return true;
    }

    function _move(address from, address to, uint256 value) private {
        uint256 balance = balanceOf[from];
        if (balance < value) revert InsufficientBalance(from, balance, value);
        balanceOf[from] = balance - value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
