// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IOperator
/// @notice The request/fulfil contract of one oracle operator (whitepaper §2.1, Figure 1), with
///         the wire interface of Chainlink's Operator so existing consumers work unchanged.
/// @dev Requests arrive only as `LINK.transferAndCall(operator, payment, abi.encodeCall(
///      oracleRequest | operatorRequest, ...))`. The Operator replaces the first two argument
///      words (sender, payment) with the real token sender and amount, stores a commitment to
///      (payment, callback address, callback selector, expiration) under
///      `requestId = keccak256(abi.encodePacked(requester, nonce))`, and emits `OracleRequest`.
///      An authorized sender (a node key) fulfils with the same parameters; the payment then
///      becomes earned and withdrawable by the owner. After `expiration` the requester may cancel
///      and is refunded.
///
///      Invariant: `LINK.balanceOf(operator) == withdrawable() + sum(payments of open requests)`,
///      plus any LINK sent to the Operator by plain `transfer` (which is never withdrawable).
interface IOperator {
    /// @notice Only the LINK token may call this function.
    error NotLinkToken(address caller);
    /// @notice The request payload starts with a selector other than oracleRequest/operatorRequest.
    error UnsupportedRequestSelector(bytes4 selector);
    /// @notice The request payload has `length` bytes; the selector needs at least `minimum`.
    error RequestDataTooShort(uint256 length, uint256 minimum);
    /// @notice The request payload's ABI encoding is invalid at argument word `word`.
    error MalformedRequestData(uint256 word);
    /// @notice The callback would target the LINK token, which could move the Operator's funds.
    error CallbackIsLinkToken();
    /// @notice `dataVersion` does not fit the stored commitment (at most 255).
    error UnsupportedDataVersion(uint256 dataVersion);
    /// @notice A request with this id is already open: the requester reused a nonce.
    error DuplicateRequest(bytes32 requestId);
    /// @notice No open request has this id (never made, already fulfilled or cancelled).
    error UnknownRequest(bytes32 requestId);
    /// @notice Payment, callback address, callback selector or expiration differ from the
    ///         request's commitment. For a cancel, the callback address is the caller, so a cancel
    ///         by anyone but the requester also fails this way.
    error RequestParamsMismatch(bytes32 requestId);
    /// @notice The request was made for data version `requested`; this fulfil delivers `supplied`.
    error DataVersionMismatch(bytes32 requestId, uint256 requested, uint256 supplied);
    /// @notice Only authorized senders (the operator's node keys) may fulfil.
    error UnauthorizedSender(address sender);
    /// @notice The zero address cannot be an authorized sender.
    error InvalidAuthorizedSender(address sender);
    /// @notice A multi-word response must start with its request id.
    error ResponseIdMismatch(bytes32 requestId, bytes32 firstWord);
    /// @notice Less than `MINIMUM_CONSUMER_GAS_LIMIT` gas is left for the consumer's callback.
    error InsufficientGasForCallback(uint256 available, uint256 required);
    /// @notice The request cannot be cancelled before `expiration`.
    error RequestNotExpired(bytes32 requestId, uint256 expiration);
    /// @notice The owner asked for `requested` LINK but only `available` has been earned.
    error InsufficientWithdrawable(uint256 requested, uint256 available);
    /// @notice The LINK token refused a transfer.
    error LinkTransferFailed(address to, uint256 amount);

    /// @notice A request for job `specId` was accepted.
    /// @param specId The job the request is for.
    /// @param requester The contract that sent the LINK (owner of the nonce).
    /// @param requestId `keccak256(abi.encodePacked(requester, nonce))`.
    /// @param payment LINK (smallest unit) paid for the answer.
    /// @param callbackAddr Where the answer goes.
    /// @param callbackFunctionId The selector called on `callbackAddr`.
    /// @param cancelExpiration The time after which the requester may cancel.
    /// @param dataVersion 1 for `oracleRequest`, 2 (or as sent) for `operatorRequest`.
    /// @param data Request parameters in CBOR (diet: a map's entries without the header).
    event OracleRequest(
        bytes32 indexed specId,
        address requester,
        bytes32 requestId,
        uint256 payment,
        address callbackAddr,
        bytes4 callbackFunctionId,
        uint256 cancelExpiration,
        uint256 dataVersion,
        bytes data
    );
    /// @notice The request was fulfilled (whether or not the consumer's callback succeeded).
    event OracleResponse(bytes32 indexed requestId);
    /// @notice The requester cancelled the request and was refunded.
    event CancelOracleRequest(bytes32 indexed requestId);
    /// @notice The owner replaced the list of authorized senders.
    event AuthorizedSendersChanged(address[] senders, address changedBy);
    /// @notice The owner withdrew earned LINK.
    event Withdrawn(address indexed recipient, uint256 amount);

    /// @notice Opens a v1 request. Callable only by LINK (through `onTokenTransfer`).
    function oracleRequest(
        address sender,
        uint256 payment,
        bytes32 specId,
        address callbackAddress,
        bytes4 callbackFunctionId,
        uint256 nonce,
        uint256 dataVersion,
        bytes calldata data
    ) external;

    /// @notice Opens a request whose callback is the requester itself, answered with
    ///         `fulfillOracleRequest2`. Callable only by LINK (through `onTokenTransfer`).
    function operatorRequest(
        address sender,
        uint256 payment,
        bytes32 specId,
        bytes4 callbackFunctionId,
        uint256 nonce,
        uint256 dataVersion,
        bytes calldata data
    ) external;

    /// @notice Answers a request with one word; calls `callbackFunctionId(requestId, data)`.
    /// @dev Only authorized senders. At least `MINIMUM_CONSUMER_GAS_LIMIT` gas must remain for
    ///      the callback; a reverting callback does not undo the fulfilment or the payment.
    /// @return Whether the consumer's callback succeeded.
    function fulfillOracleRequest(
        bytes32 requestId,
        uint256 payment,
        address callbackAddress,
        bytes4 callbackFunctionId,
        uint256 expiration,
        bytes32 data
    ) external returns (bool);

    /// @notice Answers a request with any bytes whose first word is `requestId`; calls
    ///         `abi.encodePacked(callbackFunctionId, data)` on the callback address.
    /// @return Whether the consumer's callback succeeded.
    function fulfillOracleRequest2(
        bytes32 requestId,
        uint256 payment,
        address callbackAddress,
        bytes4 callbackFunctionId,
        uint256 expiration,
        bytes calldata data
    ) external returns (bool);

    /// @notice Cancels an expired request and refunds its payment to the caller, who must be
    ///         the request's callback address.
    function cancelOracleRequest(
        bytes32 requestId,
        uint256 payment,
        bytes4 callbackFunc,
        uint256 expiration
    ) external;

    /// @notice Replaces the set of keys allowed to fulfil. Owner only. An empty list revokes all.
    function setAuthorizedSenders(address[] calldata senders) external;
    /// @notice The keys allowed to fulfil.
    function getAuthorizedSenders() external view returns (address[] memory);
    /// @notice Whether `sender` may fulfil.
    function isAuthorizedSender(address sender) external view returns (bool);

    /// @notice Sends `amount` of earned LINK to `recipient`. Owner only. LINK committed to open
    ///         requests is never withdrawable.
    function withdraw(address recipient, uint256 amount) external;
    /// @notice LINK earned by fulfilments and not yet withdrawn.
    function withdrawable() external view returns (uint256);

    /// @notice The LINK token this Operator is paid in.
    function getChainlinkToken() external view returns (address);
    /// @notice `"Operator 1.0.0"`: the interface version this contract implements.
    function typeAndVersion() external pure returns (string memory);
}
