// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IOcaRewards} from "../interfaces/IOcaRewards.sol";
import {ILinkToken} from "../interfaces/ILinkToken.sol";
import {Owned} from "../shared/Owned.sol";

/// @title OcaRewards
/// @notice Pays a ThresholdAggregator committee per Algorithm 3 (see IOcaRewards).
contract OcaRewards is IOcaRewards, Owned {
    ILinkToken private immutable i_link;
    /// @notice LINK each rewarded member earns per round.
    uint256 public immutable paymentPerRound;

    address[] private s_members;
    mapping(address member => uint256) private s_owed;
    uint256 private s_available;
    uint32 private s_lastSettled;

    /// @param link The LINK token.
    /// @param initialOwner The provider, which settles.
    /// @param members The committee, in the aggregator's order (member i is bit i−1).
    /// @param paymentPerRound_ LINK per rewarded member per round.
    constructor(address link, address initialOwner, address[] memory members, uint256 paymentPerRound_)
        Owned(initialOwner)
    {
        if (members.length == 0 || members.length > 255) revert InvalidCommittee(members.length);
        i_link = ILinkToken(link);
        s_members = members;
        paymentPerRound = paymentPerRound_;
    }

    /// @inheritdoc IOcaRewards
    function onTokenTransfer(address sender, uint256 amount, bytes calldata) external {
        if (msg.sender != address(i_link)) revert NotLinkToken(msg.sender);
        s_available += amount;
        emit FundsAdded(sender, amount);
    }

    /// @inheritdoc IOcaRewards
    function settle(uint32 firstRound, uint256[] calldata bitmaps) external onlyOwner {
        uint32 expected = s_lastSettled + 1;
        if (firstRound != expected) revert RoundOutOfOrder(firstRound, expected);
        uint256 n = s_members.length;
        uint256 outside = ~((uint256(1) << n) - 1);
        // Rounds earned per member over the whole batch, then one write per member.
        uint256[] memory earned = new uint256[](n);
        uint256 total;
        for (uint256 k = 0; k < bitmaps.length; ++k) {
            uint256 bitmap = bitmaps[k];
            if (bitmap & outside != 0) revert UnknownMember(uint256(firstRound) + k, bitmap);
            // Bits beyond n were refused above, so every index written is inside `earned`.
            assembly ("memory-safe") {
                let slot := add(earned, 32)
                for {} bitmap {} {
                    if and(bitmap, 1) {
                        mstore(slot, add(mload(slot), 1))
                        total := add(total, 1)
                    }
                    bitmap := shr(1, bitmap)
                    slot := add(slot, 32)
                }
            }
        }
        uint256 paid = total * paymentPerRound;
        uint256 available = s_available;
        if (paid > available) revert InsufficientFunds(available, paid);
        s_available = available - paid;
        for (uint256 i = 0; i < n; ++i) {
            if (earned[i] != 0) s_owed[s_members[i]] += earned[i] * paymentPerRound;
        }
        s_lastSettled = uint32(firstRound + bitmaps.length - 1);
        emit Settled(firstRound, uint32(bitmaps.length), paid);
    }

    /// @inheritdoc IOcaRewards
    function withdraw(address recipient, uint256 amount) external {
        uint256 available = s_owed[msg.sender];
        if (amount > available) revert InsufficientOwed(amount, available);
        s_owed[msg.sender] = available - amount;
        if (!i_link.transfer(recipient, amount)) revert LinkTransferFailed(recipient, amount);
    }

    /// @inheritdoc IOcaRewards
    function owed(address member) external view returns (uint256) {
        return s_owed[member];
    }

    /// @inheritdoc IOcaRewards
    function availableFunds() external view returns (uint256) {
        return s_available;
    }

    /// @inheritdoc IOcaRewards
    function lastSettledRound() external view returns (uint32) {
        return s_lastSettled;
    }
}
