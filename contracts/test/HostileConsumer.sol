// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {OracleClient} from "../requests/OracleClient.sol";
import {Requests} from "../requests/Requests.sol";
import {IOperator} from "../interfaces/IOperator.sol";

/// @title HostileConsumer
/// @notice Test-only consumer whose callback misbehaves on demand, to show that the Operator
///         stays consistent and the fulfiller pays no more than its own gas limit.
contract HostileConsumer is OracleClient {
    using Requests for Requests.Request;

    uint8 public constant BEHAVE = 0;
    uint8 public constant REVERT = 1;
    uint8 public constant BURN_GAS = 2;
    uint8 public constant RETURN_BOMB = 3;
    uint8 public constant REENTER = 4;

    error Refused(bytes32 requestId);

    uint8 public mode;
    uint256 public answers;
    bytes32 public lastRequestId;
    /// @dev Parameters replayed by the REENTER mode.
    uint256 private s_payment;
    uint256 private s_expiration;

    constructor(address link, address oracle) {
        _setLinkToken(link);
        _setOracle(oracle);
    }

    function setMode(uint8 newMode) external {
        mode = newMode;
    }

    function setReplay(uint256 payment, uint256 expiration) external {
        s_payment = payment;
        s_expiration = expiration;
    }

    function request(uint256 payment, bool useOperatorRequest) external returns (bytes32) {
        if (useOperatorRequest) {
            Requests.Request memory req = _buildRequest(bytes32("hostile"), this.fulfillBytes.selector);
            req.add("get", "http://127.0.0.1/");
            return _sendOperatorRequest(req, payment);
        }
        Requests.Request memory r = _buildRequest(bytes32("hostile"), this.fulfill.selector);
        r.add("get", "http://127.0.0.1/");
        return _sendRequest(r, payment);
    }

    function cancel(bytes32 requestId, uint256 payment, bytes4 selector, uint256 expiration) external {
        _cancelRequest(requestId, payment, selector, expiration);
    }

    function fulfill(bytes32 requestId, bytes32) external {
        _misbehave(requestId);
        answers += 1;
        lastRequestId = requestId;
    }

    function fulfillBytes(bytes32 requestId, bytes calldata) external {
        _misbehave(requestId);
        answers += 1;
        lastRequestId = requestId;
    }

    function _misbehave(bytes32 requestId) private {
        uint8 m = mode;
        if (m == REVERT) revert Refused(requestId);
        if (m == BURN_GAS) {
            while (true) {
                answers += 1;
            }
        }
        if (m == RETURN_BOMB) {
            assembly {
                return(0, 1000000)
            }
        }
        if (m == REENTER) {
            IOperator(msg.sender).fulfillOracleRequest(
                requestId, s_payment, address(this), this.fulfill.selector, s_expiration, bytes32(uint256(1))
            );
        }
    }
}
