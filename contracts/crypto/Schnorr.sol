// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Schnorr
/// @notice Verifies Schnorr signatures over secp256k1 with one `ecrecover` (DESIGN.md §5;
///         the signer is `src/crypto/schnorr.ts`).
/// @dev Key (px, parity): P's x coordinate and the parity of its y. Signature (s, nonceAddress):
///      the address of the nonce point R. Challenge
///      `e = keccak256(abi.encodePacked(px, uint8(parity), message, nonceAddress)) mod Q`. Valid
///      when the address of s·G − e·P equals nonceAddress. `ecrecover(h, v, r, σ)` returns the
///      address of r⁻¹(σ·R' − h·G), R' the point with x = r and y parity v − 27; with r = px,
///      v = 27 + parity, σ = −e·px and h = −s·px (mod Q) that is s·G − e·P.
///      Refused: s = 0, s ≥ Q, a zero nonce address, px = 0, px ≥ Q (ecrecover needs r < Q;
///      register only keys with px < Q), e = 0. The message must already be domain-separated.
library Schnorr {
    /// @notice The order of secp256k1's group.
    uint256 internal constant Q = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    /// @notice The challenge e for key (px, parity), `message` and the nonce's address.
    function challenge(uint256 px, uint8 parity, bytes32 message, address nonceAddress)
        internal
        pure
        returns (uint256)
    {
        return uint256(keccak256(abi.encodePacked(px, parity, message, nonceAddress))) % Q;
    }

    /// @notice Whether (s, nonceAddress) is a valid signature of `message` under (px, parity).
    function verify(uint256 px, uint8 parity, bytes32 message, uint256 s, address nonceAddress)
        internal
        pure
        returns (bool)
    {
        if (px == 0 || px >= Q || parity > 1 || s == 0 || s >= Q || nonceAddress == address(0)) return false;
        uint256 e = challenge(px, parity, message, nonceAddress);
        if (e == 0) return false;
        bytes32 h = bytes32(Q - mulmod(s, px, Q));
        bytes32 sigma = bytes32(Q - mulmod(e, px, Q));
        address recovered = ecrecover(h, parity + 27, bytes32(px), sigma);
        return recovered != address(0) && recovered == nonceAddress;
    }
}
