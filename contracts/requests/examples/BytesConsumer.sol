// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {OracleClient} from "../OracleClient.sol";
import {Requests} from "../Requests.sol";

/// @title BytesConsumer
/// @notice Example consumer asking for arbitrary bytes (a v2 `operatorRequest`), e.g. a string
///         read from a JSON document.
contract BytesConsumer is OracleClient {
    using Requests for Requests.Request;

    /// @notice Only the owner may spend this contract's LINK.
    error NotOwner(address caller);

    event BytesReceived(bytes32 indexed requestId, bytes value);

    address public immutable owner;
    bytes public latestValue;
    bytes32 public latestRequestId;

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    constructor(address link, address oracle) {
        _setLinkToken(link);
        _setOracle(oracle);
        owner = msg.sender;
    }

    /// @notice Asks the oracle for the value at `path` in the JSON at `url`, as bytes.
    function requestBytes(bytes32 specId, uint256 payment, string calldata url, string calldata path)
        external
        onlyOwner
        returns (bytes32)
    {
        Requests.Request memory req = _buildRequest(specId, this.fulfillBytes.selector);
        req.add("get", url);
        req.add("path", path);
        return _sendOperatorRequest(req, payment);
    }

    /// @notice Called by the Operator (fulfillOracleRequest2) with the answer.
    function fulfillBytes(bytes32 requestId, bytes calldata value) external recordFulfillment(requestId) {
        latestValue = value;
        latestRequestId = requestId;
        emit BytesReceived(requestId, value);
    }

    /// @notice Cancels an unanswered request after its expiration; the LINK comes back here.
    function cancel(bytes32 requestId, uint256 payment, uint256 expiration) external onlyOwner {
        _cancelRequest(requestId, payment, this.fulfillBytes.selector, expiration);
    }
}
