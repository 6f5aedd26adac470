// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IOperator} from "../interfaces/IOperator.sol";
import {IERC677Receiver} from "../interfaces/IERC677Receiver.sol";
import {ILinkToken} from "../interfaces/ILinkToken.sol";
import {Owned} from "../shared/Owned.sol";
import {RequestCalldata} from "../shared/RequestCalldata.sol";

/// @title Operator
/// @notice One oracle operator's request/fulfil contract (see IOperator).
/// @dev Gas notes: requests are decoded straight from calldata (no self-delegatecall, no
///      memory copy of the parameters); the only storage a request writes is its one-slot
///      commitment; the Operator keeps a running total of earned LINK instead of an escrow
///      total, so a request never touches a shared counter.
contract Operator is IOperator, IERC677Receiver, Owned {
    /// @notice Seconds after a request before its requester may cancel it.
    uint256 public constant EXPIRY_TIME = 5 minutes;
    /// @notice Gas that must remain for the consumer's callback when fulfilling.
    uint256 public constant MINIMUM_CONSUMER_GAS_LIMIT = 400_000;

    uint256 private constant V1 = 1;
    uint256 private constant V2 = 2;

    /// @dev One storage slot per open request.
    struct Commitment {
        bytes31 paramsHash;
        uint8 dataVersion;
    }

    ILinkToken private immutable i_link;

    mapping(bytes32 requestId => Commitment) private s_commitments;
    mapping(address sender => bool) private s_authorized;
    address[] private s_authorizedList;
    /// @dev Earned and not withdrawn, plus one: the slot never returns to zero, so a fulfilment
    ///      always pays the cheap non-zero-to-non-zero store.
    uint256 private s_earnedPlusOne = 1;

    modifier onlyLink() {
        if (msg.sender != address(i_link)) revert NotLinkToken(msg.sender);
        _;
    }

    /// @param link The LINK token requests pay in.
    /// @param initialOwner The operator's owner (manages senders, withdraws earnings).
    constructor(address link, address initialOwner) Owned(initialOwner) {
        i_link = ILinkToken(link);
    }

    // ------------------------------------------------------------------ requests

    /// @notice Entry point for requests: `LINK.transferAndCall(this, payment, request)`.
    /// @dev The first two argument words of `data` are ignored and replaced by `sender` and
    ///      `amount`, which the token vouches for.
    function onTokenTransfer(address sender, uint256 amount, bytes calldata data) external onlyLink {
        RequestCalldata.Header memory h = RequestCalldata.decode(data, sender);
        _request(
            sender,
            amount,
            h.specId,
            h.callback,
            h.callbackSelector,
            h.nonce,
            h.dataVersion,
            RequestCalldata.bytesArgument(data, h.paramsWord)
        );
    }

    /// @inheritdoc IOperator
    function oracleRequest(
        address sender,
        uint256 payment,
        bytes32 specId,
        address callbackAddress,
        bytes4 callbackFunctionId,
        uint256 nonce,
        uint256 dataVersion,
        bytes calldata data
    ) external onlyLink {
        _request(sender, payment, specId, callbackAddress, callbackFunctionId, nonce, dataVersion, data);
    }

    /// @inheritdoc IOperator
    function operatorRequest(
        address sender,
        uint256 payment,
        bytes32 specId,
        bytes4 callbackFunctionId,
        uint256 nonce,
        uint256 dataVersion,
        bytes calldata data
    ) external onlyLink {
        _request(sender, payment, specId, sender, callbackFunctionId, nonce, dataVersion, data);
    }

    function _request(
        address requester,
        uint256 payment,
        bytes32 specId,
        address callbackAddress,
        bytes4 callbackFunctionId,
        uint256 nonce,
        uint256 dataVersion,
        bytes calldata data
    ) private {
        if (callbackAddress == address(i_link)) revert CallbackIsLinkToken();
        if (dataVersion > type(uint8).max) revert UnsupportedDataVersion(dataVersion);
        bytes32 requestId = keccak256(abi.encodePacked(requester, nonce));
        Commitment storage c = s_commitments[requestId];
        if (c.paramsHash != 0) revert DuplicateRequest(requestId);
        uint256 expiration = block.timestamp + EXPIRY_TIME;
        c.paramsHash = _paramsHash(payment, callbackAddress, callbackFunctionId, expiration);
        c.dataVersion = uint8(dataVersion);
        emit OracleRequest(
            specId, requester, requestId, payment, callbackAddress, callbackFunctionId, expiration, dataVersion, data
        );
    }

    // ------------------------------------------------------------------ fulfilment

    /// @inheritdoc IOperator
    function fulfillOracleRequest(
        bytes32 requestId,
        uint256 payment,
        address callbackAddress,
        bytes4 callbackFunctionId,
        uint256 expiration,
        bytes32 data
    ) external returns (bool) {
        _settle(requestId, payment, callbackAddress, callbackFunctionId, expiration, V1);
        return _callback(callbackAddress, abi.encodeWithSelector(callbackFunctionId, requestId, data));
    }

    /// @inheritdoc IOperator
    function fulfillOracleRequest2(
        bytes32 requestId,
        uint256 payment,
        address callbackAddress,
        bytes4 callbackFunctionId,
        uint256 expiration,
        bytes calldata data
    ) external returns (bool) {
        bytes32 firstWord = data.length < 32 ? bytes32(0) : bytes32(data[:32]);
        if (data.length < 32 || firstWord != requestId) revert ResponseIdMismatch(requestId, firstWord);
        _settle(requestId, payment, callbackAddress, callbackFunctionId, expiration, V2);
        return _callback(callbackAddress, abi.encodePacked(callbackFunctionId, data));
    }

    /// @dev Checks the sender and the commitment, closes the request and books the payment.
    function _settle(
        bytes32 requestId,
        uint256 payment,
        address callbackAddress,
        bytes4 callbackFunctionId,
        uint256 expiration,
        uint256 dataVersion
    ) private {
        if (!s_authorized[msg.sender]) revert UnauthorizedSender(msg.sender);
        Commitment memory c = s_commitments[requestId];
        if (c.paramsHash == 0) revert UnknownRequest(requestId);
        if (c.paramsHash != _paramsHash(payment, callbackAddress, callbackFunctionId, expiration)) {
            revert RequestParamsMismatch(requestId);
        }
        if (c.dataVersion > dataVersion) revert DataVersionMismatch(requestId, c.dataVersion, dataVersion);
        delete s_commitments[requestId];
        s_earnedPlusOne += payment;
        emit OracleResponse(requestId);
    }

    /// @dev Calls the consumer with everything but the 1/64th the EVM keeps back, and copies no
    ///      return data, so neither a reverting, gas-burning nor return-bombing consumer can
    ///      undo the fulfilment or cost the fulfiller more than its own gas limit.
    function _callback(address target, bytes memory payload) private returns (bool success) {
        uint256 available = gasleft();
        if (available < MINIMUM_CONSUMER_GAS_LIMIT) {
            revert InsufficientGasForCallback(available, MINIMUM_CONSUMER_GAS_LIMIT);
        }
        assembly ("memory-safe") {
            success := call(gas(), target, 0, add(payload, 32), mload(payload), 0, 0)
        }
    }

    // ------------------------------------------------------------------ cancellation

    /// @inheritdoc IOperator
    function cancelOracleRequest(bytes32 requestId, uint256 payment, bytes4 callbackFunc, uint256 expiration)
        external
    {
        bytes31 stored = s_commitments[requestId].paramsHash;
        if (stored == 0) revert UnknownRequest(requestId);
        if (stored != _paramsHash(payment, msg.sender, callbackFunc, expiration)) {
            revert RequestParamsMismatch(requestId);
        }
        if (expiration > block.timestamp) revert RequestNotExpired(requestId, expiration);
        delete s_commitments[requestId];
        emit CancelOracleRequest(requestId);
        if (!i_link.transfer(msg.sender, payment)) revert LinkTransferFailed(msg.sender, payment);
    }

    // ------------------------------------------------------------------ administration

    /// @inheritdoc IOperator
    function setAuthorizedSenders(address[] calldata senders) external onlyOwner {
        address[] storage list = s_authorizedList;
        for (uint256 i = 0; i < list.length; ++i) {
            s_authorized[list[i]] = false;
        }
        for (uint256 i = 0; i < senders.length; ++i) {
            if (senders[i] == address(0)) revert InvalidAuthorizedSender(senders[i]);
            s_authorized[senders[i]] = true;
        }
        s_authorizedList = senders;
        emit AuthorizedSendersChanged(senders, msg.sender);
    }

    /// @inheritdoc IOperator
    function getAuthorizedSenders() external view returns (address[] memory) {
        return s_authorizedList;
    }

    /// @inheritdoc IOperator
    function isAuthorizedSender(address sender) external view returns (bool) {
        return s_authorized[sender];
    }

    /// @inheritdoc IOperator
    function withdraw(address recipient, uint256 amount) external onlyOwner {
        uint256 available = s_earnedPlusOne - 1;
        if (amount > available) revert InsufficientWithdrawable(amount, available);
        s_earnedPlusOne -= amount;
        emit Withdrawn(recipient, amount);
        if (!i_link.transfer(recipient, amount)) revert LinkTransferFailed(recipient, amount);
    }

    /// @inheritdoc IOperator
    function withdrawable() external view returns (uint256) {
        return s_earnedPlusOne - 1;
    }

    /// @inheritdoc IOperator
    function getChainlinkToken() external view returns (address) {
        return address(i_link);
    }

    /// @inheritdoc IOperator
    function typeAndVersion() external pure returns (string memory) {
        return "Operator 1.0.0";
    }

    // ------------------------------------------------------------------ helpers

    function _paramsHash(uint256 payment, address callbackAddress, bytes4 callbackFunctionId, uint256 expiration)
        private
        pure
        returns (bytes31)
    {
        return bytes31(keccak256(abi.encodePacked(payment, callbackAddress, callbackFunctionId, expiration)));
    }
}
