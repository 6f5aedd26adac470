// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Schnorr} from "../crypto/Schnorr.sol";

/// @title SchnorrHarness
/// @notice Test-only: exposes the Schnorr library, and a state-changing verify to measure gas.
contract SchnorrHarness {
    uint256 public verified;

    function verify(uint256 px, uint8 parity, bytes32 message, uint256 s, address nonceAddress)
        external
        pure
        returns (bool)
    {
        return Schnorr.verify(px, parity, message, s, nonceAddress);
    }

    function challenge(uint256 px, uint8 parity, bytes32 message, address nonceAddress)
        external
        pure
        returns (uint256)
    {
        return Schnorr.challenge(px, parity, message, nonceAddress);
    }

    /// @dev For gas measurement: verifies and counts.
    function verifyAndCount(uint256 px, uint8 parity, bytes32 message, uint256 s, address nonceAddress) external {
        if (Schnorr.verify(px, parity, message, s, nonceAddress)) verified += 1;
    }
}
