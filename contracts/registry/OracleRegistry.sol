// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IOracleRegistry} from "../interfaces/IOracleRegistry.sol";

/// @title OracleRegistry
/// @notice Oracles' libp2p identities (see IOracleRegistry).
contract OracleRegistry is IOracleRegistry {
    uint256 private constant MAX_PEER_ID = 128;
    uint256 private constant MAX_ADDRS = 8;
    uint256 private constant MAX_ADDR = 256;

    struct Peer {
        string peerId;
        string[] addrs;
    }

    mapping(address oracle => Peer) private s_peers;

    /// @inheritdoc IOracleRegistry
    function register(string calldata peerId, string[] calldata addrs) external {
        uint256 length = bytes(peerId).length;
        if (length == 0 || length > MAX_PEER_ID) revert InvalidPeerId(length);
        if (addrs.length > MAX_ADDRS) revert InvalidAddresses(addrs.length);
        for (uint256 i = 0; i < addrs.length; ++i) {
            uint256 a = bytes(addrs[i]).length;
            if (a == 0 || a > MAX_ADDR) revert InvalidAddresses(addrs.length);
        }
        Peer storage p = s_peers[msg.sender];
        p.peerId = peerId;
        delete p.addrs;
        for (uint256 i = 0; i < addrs.length; ++i) {
            p.addrs.push(addrs[i]);
        }
        emit PeerRegistered(msg.sender, peerId, addrs);
    }

    /// @inheritdoc IOracleRegistry
    function peerOf(address oracle) external view returns (string memory peerId, string[] memory addrs) {
        Peer storage p = s_peers[oracle];
        return (p.peerId, p.addrs);
    }
}
