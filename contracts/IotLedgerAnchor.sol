// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title IotLedgerAnchor
/// @notice Timestamps signed checkpoints of iot-ledger ledgers. It stores nothing: each anchor
/// is one event, so the chain's own block (number, hash, timestamp) is the evidence.
/// Only the deploying account can anchor (an immutable, so the check costs no storage read),
/// which makes the contract's address the one thing an auditor has to trust.
contract IotLedgerAnchor {
    /// The account allowed to anchor.
    address public immutable owner;

    /// @param originHash SHA-256 of the checkpoint's origin line (the ledger name)
    /// @param size the tree size of the checkpoint (records in the ledger)
    /// @param root the Merkle root of the checkpoint (RFC 6962 MTH)
    /// @param checkpointHash SHA-256 of the whole signed checkpoint note, as the gateway produced it
    event Anchored(bytes32 indexed originHash, uint64 size, bytes32 root, bytes32 checkpointHash);

    error NotOwner();

    constructor() {
        owner = msg.sender;
    }

    function anchor(bytes32 originHash, uint64 size, bytes32 root, bytes32 checkpointHash) external {
        if (msg.sender != owner) revert NotOwner();
        emit Anchored(originHash, size, root, checkpointHash);
    }
}
