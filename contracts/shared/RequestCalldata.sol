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

    /// @dev Selector, 8 words of arguments, and the length word of the parameters.
    uint256 internal constant ORACLE_REQUEST_MIN_LENGTH = 4 + 8 * 32 + 32;
    /// @dev Selector, 7 words of arguments, and the length word of the parameters.
    uint256 internal constant OPERATOR_REQUEST_MIN_LENGTH = 4 + 7 * 32 + 32;

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
