// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Requests} from "../requests/Requests.sol";

/// @title CBORHarness
/// @notice Test-only: exposes the request parameter encoder so tests can decode its output.
contract CBORHarness {
    using Requests for Requests.Request;

    uint8 public constant KIND_STRING = 0;
    uint8 public constant KIND_BYTES = 1;
    uint8 public constant KIND_INT = 2;
    uint8 public constant KIND_UINT = 3;
    uint8 public constant KIND_STRING_ARRAY = 4;

    error UnknownKind(uint8 kind);

    struct Param {
        uint8 kind;
        string key;
        string text;
        bytes data;
        int256 signedValue;
        uint256 unsignedValue;
        string[] texts;
    }

    /// @notice The diet CBOR the Requests library writes for `params`, in order.
    function encode(Param[] calldata params) external view returns (bytes memory) {
        Requests.Request memory req;
        req.initialize(bytes32(0), address(this), this.encode.selector);
        for (uint256 i = 0; i < params.length; ++i) {
            Param calldata p = params[i];
            if (p.kind == KIND_STRING) req.add(p.key, p.text);
            else if (p.kind == KIND_BYTES) req.addBytes(p.key, p.data);
            else if (p.kind == KIND_INT) req.addInt(p.key, p.signedValue);
            else if (p.kind == KIND_UINT) req.addUint(p.key, p.unsignedValue);
            else if (p.kind == KIND_STRING_ARRAY) req.addStringArray(p.key, p.texts);
            else revert UnknownKind(p.kind);
        }
        return req.params();
    }
}
