// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IOracleRegistry
/// @notice Where an oracle registers the libp2p identity its committee peers must see (issue 7:
///         "a peer is accepted only if its libp2p key is the one registered for that oracle").
///         Each oracle writes only its own entry (`msg.sender` is the oracle address the
///         aggregators know), so nobody can register a key in another oracle's name.
interface IOracleRegistry {
    /// @notice The peer id must be 1 to 128 bytes.
    error InvalidPeerId(uint256 length);
    /// @notice At most 8 listen addresses of at most 256 bytes each.
    error InvalidAddresses(uint256 count);

    /// @notice `oracle` registered (or replaced) its libp2p peer id and listen addresses.
    event PeerRegistered(address indexed oracle, string peerId, string[] addrs);

    /// @notice Registers the caller's libp2p peer id (e.g. `12D3KooW…`, an Ed25519 key) and the
    ///         multiaddrs it listens on.
    function register(string calldata peerId, string[] calldata addrs) external;

    /// @notice The entry of `oracle` (empty when it never registered).
    function peerOf(address oracle) external view returns (string memory peerId, string[] memory addrs);
}
