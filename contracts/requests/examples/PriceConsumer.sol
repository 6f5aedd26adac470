// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {OracleClient} from "../OracleClient.sol";
import {Requests} from "../Requests.sol";

/// @title PriceConsumer
/// @notice Example consumer asking for one uint256: fetch `get`, read `path`, multiply by
///         `times`. Works with v1 (`oracleRequest`) and v2 (`operatorRequest`) alike, since
///         both deliver `fulfill(bytes32 requestId, uint256 value)`.
contract PriceConsumer is OracleClient {
    using Requests for Requests.Request;

    /// @notice Only the owner may spend this contract's LINK.
    error NotOwner(address caller);

    event AnswerReceived(bytes32 indexed requestId, uint256 value);

    address public immutable owner;
    /// @notice The latest answer and the request it answered.
    uint256 public latestAnswer;
    bytes32 public latestRequestId;
    mapping(bytes32 requestId => uint256) public answers;

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    constructor(address link, address oracle) {
        _setLinkToken(link);
        _setOracle(oracle);
        owner = msg.sender;
    }

    /// @notice Asks the oracle for the number at `path` in the JSON at `url`, times `times`.
    /// @param useOperatorRequest Send as a v2 `operatorRequest` instead of a v1 `oracleRequest`.
    function requestValue(
        bytes32 specId,
        uint256 payment,
        string calldata url,
        string calldata path,
        int256 times,
        bool useOperatorRequest
    ) external onlyOwner returns (bytes32 requestId) {
        Requests.Request memory req = _buildRequest(specId, this.fulfill.selector);
        req.add("get", url);
        req.add("path", path);
        req.addInt("times", times);
        requestId = useOperatorRequest ? _sendOperatorRequest(req, payment) : _sendRequest(req, payment);
    }

    /// @notice Called by the Operator with the answer.
    function fulfill(bytes32 requestId, uint256 value) external recordFulfillment(requestId) {
        answers[requestId] = value;
        latestAnswer = value;
        latestRequestId = requestId;
        emit AnswerReceived(requestId, value);
    }

    /// @notice Cancels an unanswered request after its expiration; the LINK comes back here.
    function cancel(bytes32 requestId, uint256 payment, uint256 expiration) external onlyOwner {
        _cancelRequest(requestId, payment, this.fulfill.selector, expiration);
    }

    /// @notice Whether `requestId` still awaits its answer.
    function isPending(bytes32 requestId) external view returns (bool) {
        return _pendingOracle(requestId) != address(0);
    }
}
