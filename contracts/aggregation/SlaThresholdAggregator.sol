// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ThresholdAggregator} from "./ThresholdAggregator.sol";
import {IThresholdAggregatorFactory} from "../interfaces/IThresholdAggregatorFactory.sol";

/// @title ThresholdAggregatorFromParameters
/// @notice A ThresholdAggregator constructed from one `Parameters` record (see SlaThresholdAggregator).
abstract contract ThresholdAggregatorFromParameters is ThresholdAggregator {
    constructor(IThresholdAggregatorFactory.Parameters memory p)
        ThresholdAggregator(
            p.px, p.parity, p.oracles, p.f, p.epoch, p.minAnswer, p.maxAnswer, p.decimals, p.description
        )
    {}
}

/// @title SlaThresholdAggregator
/// @notice The ThresholdAggregator of an off-chain-aggregation SLA, created by the market's
///         factory with CREATE2. Its constructor takes no argument, so its init code (and with it
///         its address) does not depend on the group key: it reads its parameters from the
///         deploying factory (`IThresholdAggregatorFactory(msg.sender).parameters()`).
/// @dev Runtime code and behaviour are ThresholdAggregator's (no function added: `transmit`
///      costs the same); the config digest binds the address as usual.
contract SlaThresholdAggregator is ThresholdAggregatorFromParameters {
    constructor() ThresholdAggregatorFromParameters(IThresholdAggregatorFactory(msg.sender).parameters()) {}
}
