// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title RequestCalldata
/// @notice Reads Chainlink's request payloads (`oracleRequest`, `operatorRequest`) straight from
///         the calldata a LINK `transferAndCall` delivers: no self-call, no memory copy.
/// @dev Check the length with `checkLength` before reading any word.
library RequestCalldata {
    /// @notice The request payload has `length` bytes; the selector needs at least `minimum`.
    error RequestDataTooShort(uint256 length, uint256 minimum);
    /// @notice The request payload's ABI encoding is invalid at argument word `word`.
    error MalformedRequestData(uint256 word);
    /// @notice The request payload starts with a selector other than oracleRequest/operatorRequest.
    error UnsupportedRequestSelector(bytes4 selector);

    /// @dev `oracleRequest(address,uint256,bytes32,address,bytes4,uint256,uint256,bytes)`.
    bytes4 internal constant ORACLE_REQUEST = 0x40429946;
    /// @dev `operatorRequest(address,uint256,bytes32,bytes4,uint256,uint256,bytes)`.
    bytes4 internal constant OPERATOR_REQUEST = 0x3c6d41b9;
    /// @dev Selector, 8 words of arguments, and the length word of the parameters.
    uint256 internal constant ORACLE_REQUEST_MIN_LENGTH = 4 + 8 * 32 + 32;
    /// @dev Selector, 7 words of arguments, and the length word of the parameters.
    uint256 internal constant OPERATOR_REQUEST_MIN_LENGTH = 4 + 7 * 32 + 32;

    /// @notice A request as `transferAndCall` delivers it, but its CBOR parameters.
    /// @param specId The job asked for.
    /// @param callback The contract to call back (`sender` for an `operatorRequest`).
    /// @param callbackSelector The function to call back.
    /// @param nonce The requester's nonce (request id = keccak256(requester, nonce)).
    /// @param dataVersion As the payload gives it.
    /// @param paramsWord The argument word holding the offset of the CBOR parameters
    ///        (read them with `bytesArgument(data, paramsWord)`).
    struct Header {
        bytes32 specId;
        address callback;
        bytes4 callbackSelector;
        uint256 nonce;
        uint256 dataVersion;
        uint256 paramsWord;
    }

    /// @notice Decodes an `oracleRequest` or `operatorRequest` payload. Its first two argument
    ///         words (sender, payment) are ignored: the token vouches for those.
    function decode(bytes calldata data, address sender) internal pure returns (Header memory h) {
        if (data.length < 4) revert RequestDataTooShort(data.length, 4);
        bytes4 selector = bytes4(data[:4]);
        if (selector == ORACLE_REQUEST) {
            checkLength(data, ORACLE_REQUEST_MIN_LENGTH);
            h.callback = addressWord(data, 3);
            h.callbackSelector = selectorWord(data, 4);
            h.nonce = word(data, 5);
            h.dataVersion = word(data, 6);
            h.paramsWord = 7;
        } else if (selector == OPERATOR_REQUEST) {
            checkLength(data, OPERATOR_REQUEST_MIN_LENGTH);
            h.callback = sender;
            h.callbackSelector = selectorWord(data, 3);
            h.nonce = word(data, 4);
            h.dataVersion = word(data, 5);
            h.paramsWord = 6;
        } else {
            revert UnsupportedRequestSelector(selector);
        }
        h.specId = bytes32(word(data, 2));
    }

    function checkLength(bytes calldata data, uint256 minimum) internal pure {
        if (data.length < minimum) revert RequestDataTooShort(data.length, minimum);
    }

    /// @dev Argument word `i` of an ABI-encoded call (after the selector).
    function word(bytes calldata data, uint256 i) internal pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := calldataload(add(data.offset, add(4, shl(5, i))))
        }
    }

    function addressWord(bytes calldata data, uint256 i) internal pure returns (address) {
        uint256 w = word(data, i);
        if (w > type(uint160).max) revert MalformedRequestData(i);
        return address(uint160(w));
    }

    function selectorWord(bytes calldata data, uint256 i) internal pure returns (bytes4) {
        uint256 w = word(data, i);
        if (w << 32 != 0) revert MalformedRequestData(i);
        return bytes4(bytes32(w));
    }

    /// @dev The dynamic `bytes` argument whose offset is argument word `i`, as a calldata slice.
    function bytesArgument(bytes calldata data, uint256 i) internal pure returns (bytes calldata) {
        uint256 args = data.length - 4;
        uint256 offset = word(data, i);
        if (offset > args - 32) revert MalformedRequestData(i);
        uint256 start = 4 + offset + 32;
        uint256 length;
        assembly ("memory-safe") {
            length := calldataload(add(data.offset, add(4, offset)))
        }
        if (length > data.length - start) revert MalformedRequestData(i);
        return data[start:start + length];
    }
}
