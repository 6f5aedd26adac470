// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title CBOR
/// @notice Writes CBOR (RFC 8949) into a growable memory buffer, for request parameters.
/// @dev Integers use the shortest head; integers beyond 64 bits are bignums (tag 2, or tag 3
///      for negatives) over a 32-byte string. Arrays are written indefinite-length.
library CBOR {
    /// @notice A byte buffer with spare room, so appends do not copy every time.
    struct Buffer {
        bytes data;
        uint256 capacity;
    }

    uint256 private constant MAJOR_UINT = 0;
    uint256 private constant MAJOR_NEGATIVE = 1;
    uint256 private constant MAJOR_BYTES = 2;
    uint256 private constant MAJOR_TEXT = 3;
    uint256 private constant MAJOR_TAG = 6;
    uint256 private constant TAG_BIGNUM = 2;
    uint256 private constant TAG_NEGATIVE_BIGNUM = 3;
    uint256 private constant INDEFINITE_ARRAY = 0x9f;
    uint256 private constant BREAK = 0xff;

    /// @notice A new empty buffer with room for `capacity` bytes before it must grow.
    function create(uint256 capacity) internal pure returns (Buffer memory buf) {
        buf.data = _allocate(capacity);
        buf.capacity = capacity;
    }

    /// @notice Writes an unsigned integer.
    function writeUint(Buffer memory buf, uint256 value) internal pure {
        if (value <= type(uint64).max) {
            _head(buf, MAJOR_UINT, value);
        } else {
            _bignum(buf, TAG_BIGNUM, value);
        }
    }

    /// @notice Writes a signed integer.
    function writeInt(Buffer memory buf, int256 value) internal pure {
        if (value >= 0) {
            writeUint(buf, uint256(value));
            return;
        }
        // CBOR stores a negative n as -1 - n; this cannot overflow, even for type(int256).min.
        uint256 magnitude = uint256(-1 - value);
        if (magnitude <= type(uint64).max) {
            _head(buf, MAJOR_NEGATIVE, magnitude);
        } else {
            _bignum(buf, TAG_NEGATIVE_BIGNUM, magnitude);
        }
    }

    /// @notice Writes a byte string.
    function writeBytes(Buffer memory buf, bytes memory value) internal pure {
        _head(buf, MAJOR_BYTES, value.length);
        _append(buf, value);
    }

    /// @notice Writes a UTF-8 text string.
    function writeString(Buffer memory buf, string memory value) internal pure {
        _head(buf, MAJOR_TEXT, bytes(value).length);
        _append(buf, bytes(value));
    }

    /// @notice Opens an indefinite-length array; close it with `endSequence`.
    function startArray(Buffer memory buf) internal pure {
        _raw(buf, INDEFINITE_ARRAY, 1);
    }

    /// @notice Closes an indefinite-length array or map.
    function endSequence(Buffer memory buf) internal pure {
        _raw(buf, BREAK, 1);
    }

    function _bignum(Buffer memory buf, uint256 tag, uint256 magnitude) private pure {
        _head(buf, MAJOR_TAG, tag);
        _head(buf, MAJOR_BYTES, 32);
        _raw(buf, magnitude, 32);
    }

    /// @dev The initial byte and argument of a data item, in the shortest form.
    function _head(Buffer memory buf, uint256 major, uint256 value) private pure {
        uint256 m = major << 5;
        if (value < 24) {
            _raw(buf, m | value, 1);
        } else if (value <= type(uint8).max) {
            _raw(buf, ((m | 24) << 8) | value, 2);
        } else if (value <= type(uint16).max) {
            _raw(buf, ((m | 25) << 16) | value, 3);
        } else if (value <= type(uint32).max) {
            _raw(buf, ((m | 26) << 32) | value, 5);
        } else {
            _raw(buf, ((m | 27) << 64) | value, 9);
        }
    }

    /// @dev Appends the low `size` bytes of `value`, big-endian (size 1..32).
    function _raw(Buffer memory buf, uint256 value, uint256 size) private pure {
        uint256 dest = _reserve(buf, size);
        assembly ("memory-safe") {
            // May write up to 31 bytes past the reserved area: every allocation has 32 spare.
            mstore(dest, shl(sub(256, shl(3, size)), value))
        }
    }

    function _append(Buffer memory buf, bytes memory value) private pure {
        uint256 dest = _reserve(buf, value.length);
        assembly ("memory-safe") {
            mcopy(dest, add(value, 32), mload(value))
        }
    }

    /// @dev Grows the data by `size` bytes (reallocating at double capacity when full) and
    ///      returns the memory address where those bytes go.
    function _reserve(Buffer memory buf, uint256 size) private pure returns (uint256 dest) {
        bytes memory data = buf.data;
        uint256 length = data.length;
        uint256 needed = length + size;
        if (needed > buf.capacity) {
            uint256 capacity = buf.capacity * 2;
            if (capacity < needed) capacity = needed;
            bytes memory grown = _allocate(capacity);
            assembly ("memory-safe") {
                mcopy(add(grown, 32), add(data, 32), length)
            }
            buf.data = grown;
            buf.capacity = capacity;
            data = grown;
        }
        assembly ("memory-safe") {
            mstore(data, needed)
            dest := add(add(data, 32), length)
        }
    }

    /// @dev An empty `bytes` with room for `capacity` bytes plus 32 spare, not zeroed.
    function _allocate(uint256 capacity) private pure returns (bytes memory data) {
        assembly ("memory-safe") {
            data := mload(0x40)
            mstore(data, 0)
            mstore(0x40, add(data, add(64, and(add(capacity, 31), not(31)))))
        }
    }
}
