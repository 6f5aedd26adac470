// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IOracleClient} from "../interfaces/IOracleClient.sol";
import {IOperator} from "../interfaces/IOperator.sol";
import {ILinkToken} from "../interfaces/ILinkToken.sol";
import {Requests} from "./Requests.sol";

/// @title OracleClient
/// @notice Base contract for consumers: build a request, pay an Operator in LINK, and accept
///         the answer only from the Operator the request went to.
/// @dev Usage: `Requests.Request memory req = _buildRequest(specId, this.fulfill.selector);
///      req.add("get", url); _sendRequest(req, payment);` and guard the callback with
///      `recordFulfillment(requestId)`.
abstract contract OracleClient is IOracleClient {
    using Requests for Requests.Request;

    /// @dev dataVersion of `oracleRequest` (answered by fulfillOracleRequest).
    uint256 internal constant ORACLE_ARGS_VERSION = 1;
    /// @dev dataVersion of `operatorRequest` (answered by fulfillOracleRequest2).
    uint256 internal constant OPERATOR_ARGS_VERSION = 2;

    ILinkToken private s_link;
    address private s_oracle;
    /// @dev Next nonce; starts at 1 so that the first request pays a non-zero store.
    uint256 private s_nonce = 1;
    mapping(bytes32 requestId => address oracle) private s_pending;

    /// @notice Only the oracle a pending request was sent to may answer it; the request then
    ///         stops being pending.
    modifier recordFulfillment(bytes32 requestId) {
        address expected = s_pending[requestId];
        if (msg.sender != expected) revert UnexpectedFulfiller(requestId, expected, msg.sender);
        delete s_pending[requestId];
        emit OracleFulfilled(requestId);
        _;
    }

    function _setLinkToken(address link) internal {
        s_link = ILinkToken(link);
    }

    function _setOracle(address oracle) internal {
        s_oracle = oracle;
    }

    function _linkToken() internal view returns (address) {
        return address(s_link);
    }

    function _oracle() internal view returns (address) {
        return s_oracle;
    }

    /// @notice The oracle a request is pending with, or the zero address.
    function _pendingOracle(bytes32 requestId) internal view returns (address) {
        return s_pending[requestId];
    }

    /// @notice A request for `specId` answered by calling `callbackFunctionId` on this contract.
    function _buildRequest(bytes32 specId, bytes4 callbackFunctionId) internal view returns (Requests.Request memory req) {
        return req.initialize(specId, address(this), callbackFunctionId);
    }

    /// @notice Sends a v1 request (`oracleRequest`, answered by `fulfillOracleRequest` with one
    ///         word) to the default oracle.
    function _sendRequest(Requests.Request memory req, uint256 payment) internal returns (bytes32) {
        return _sendRequestTo(s_oracle, req, payment);
    }

    /// @notice Sends a v1 request to `oracle`.
    function _sendRequestTo(address oracle, Requests.Request memory req, uint256 payment)
        internal
        returns (bytes32)
    {
        uint256 nonce = s_nonce;
        bytes memory payload = abi.encodeCall(
            IOperator.oracleRequest,
            (
                address(0), // replaced by the Operator with the real sender
                0, // replaced by the Operator with the real amount
                req.specId,
                req.callbackAddress,
                req.callbackFunctionId,
                nonce,
                ORACLE_ARGS_VERSION,
                req.params()
            )
        );
        return _send(oracle, nonce, payment, payload);
    }

    /// @notice Sends a v2 request (`operatorRequest`, answered by `fulfillOracleRequest2` with
    ///         any bytes) to the default oracle. The callback is always this contract.
    function _sendOperatorRequest(Requests.Request memory req, uint256 payment) internal returns (bytes32) {
        return _sendOperatorRequestTo(s_oracle, req, payment);
    }

    /// @notice Sends a v2 request to `oracle`.
    function _sendOperatorRequestTo(address oracle, Requests.Request memory req, uint256 payment)
        internal
        returns (bytes32)
    {
        uint256 nonce = s_nonce;
        bytes memory payload = abi.encodeCall(
            IOperator.operatorRequest,
            (address(0), 0, req.specId, req.callbackFunctionId, nonce, OPERATOR_ARGS_VERSION, req.params())
        );
        return _send(oracle, nonce, payment, payload);
    }

    /// @notice Cancels an expired pending request; the Operator refunds the payment here.
    /// @param expiration The `cancelExpiration` from the Operator's `OracleRequest` event.
    function _cancelRequest(bytes32 requestId, uint256 payment, bytes4 callbackFunctionId, uint256 expiration)
        internal
    {
        address oracle = s_pending[requestId];
        if (oracle == address(0)) revert RequestNotPending(requestId);
        delete s_pending[requestId];
        emit OracleCancelled(requestId);
        IOperator(oracle).cancelOracleRequest(requestId, payment, callbackFunctionId, expiration);
    }

    function _send(address oracle, uint256 nonce, uint256 payment, bytes memory payload)
        private
        returns (bytes32 requestId)
    {
        if (oracle == address(0) || address(s_link) == address(0)) revert ClientNotConfigured();
        s_nonce = nonce + 1;
        requestId = keccak256(abi.encodePacked(address(this), nonce));
        s_pending[requestId] = oracle;
        emit OracleRequested(requestId);
        if (!s_link.transferAndCall(oracle, payment, payload)) revert LinkTransferFailed(oracle, payment);
    }
}
