// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CBOR} from "./CBOR.sol";

/// @title Requests
/// @notice Builds an oracle request: which job, where the answer goes, and the job's parameters
///         as "diet" CBOR (a map's entries, key then value, without the map header).
library Requests {
    using CBOR for CBOR.Buffer;

    uint256 private constant INITIAL_CAPACITY = 256;

    struct Request {
        /// The job (spec) id on the oracle node.
        bytes32 specId;
        /// The contract the answer is delivered to.
        address callbackAddress;
        /// The function called with the answer.
        bytes4 callbackFunctionId;
        /// The parameters.
        CBOR.Buffer buf;
    }

    /// @notice A request for job `specId` answered through `callbackAddress.callbackFunctionId`.
    function initialize(Request memory self, bytes32 specId, address callbackAddress, bytes4 callbackFunctionId)
        internal
        pure
        returns (Request memory)
    {
        self.specId = specId;
        self.callbackAddress = callbackAddress;
        self.callbackFunctionId = callbackFunctionId;
        self.buf = CBOR.create(INITIAL_CAPACITY);
        return self;
    }

    /// @notice Adds a text parameter.
    function add(Request memory self, string memory key, string memory value) internal pure {
        self.buf.writeString(key);
        self.buf.writeString(value);
    }

    /// @notice Adds a byte-string parameter.
    function addBytes(Request memory self, string memory key, bytes memory value) internal pure {
        self.buf.writeString(key);
        self.buf.writeBytes(value);
    }

    /// @notice Adds a signed integer parameter (any int256).
    function addInt(Request memory self, string memory key, int256 value) internal pure {
        self.buf.writeString(key);
        self.buf.writeInt(value);
    }

    /// @notice Adds an unsigned integer parameter (any uint256).
    function addUint(Request memory self, string memory key, uint256 value) internal pure {
        self.buf.writeString(key);
        self.buf.writeUint(value);
    }

    /// @notice Adds an array of text values (an indefinite-length CBOR array).
    function addStringArray(Request memory self, string memory key, string[] memory values) internal pure {
        self.buf.writeString(key);
        self.buf.startArray();
        for (uint256 i = 0; i < values.length; ++i) {
            self.buf.writeString(values[i]);
        }
        self.buf.endSequence();
    }

    /// @notice The encoded parameters.
    function params(Request memory self) internal pure returns (bytes memory) {
        return self.buf.data;
    }
}
