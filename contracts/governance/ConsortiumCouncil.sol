// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Governor} from "@openzeppelin/contracts/governance/Governor.sol";
import {GovernorSettings} from "@openzeppelin/contracts/governance/extensions/GovernorSettings.sol";
import {GovernorCountingSimple} from "@openzeppelin/contracts/governance/extensions/GovernorCountingSimple.sol";
import {GovernorStorage} from "@openzeppelin/contracts/governance/extensions/GovernorStorage.sol";
import {GovernorVotes} from "@openzeppelin/contracts/governance/extensions/GovernorVotes.sol";
import {GovernorSuperQuorum} from "@openzeppelin/contracts/governance/extensions/GovernorSuperQuorum.sol";
import {GovernorTimelockControl} from "@openzeppelin/contracts/governance/extensions/GovernorTimelockControl.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";

/// @title ConsortiumCouncil
/// @notice A consortium council: members of {ConsortiumMembership} propose and vote, one vote
///         each; a proposal passes as soon as `quorumVotes` members voted for it (and more for
///         than against), without waiting for the end of the voting period, which only bounds how
///         long a proposal may gather votes. Proposals are kept on chain (GovernorStorage), so any
///         member can list and read them.
///         This council takes the consortium's ordinary decisions (registering and re-roling participants, GS1
///         prefix attestations, admitting members, parameters): a passed proposal is queued in the
///         {TimelockController}, which holds those powers, and runs only after its delay, so every
///         member sees it coming and the emergency council can cancel it meanwhile.
contract ConsortiumCouncil is
    Governor,
    GovernorSettings,
    GovernorCountingSimple,
    GovernorStorage,
    GovernorVotes,
    GovernorSuperQuorum,
    GovernorTimelockControl
{
    /// @notice A quorum of zero would let anything pass.
    error InvalidQuorum(uint256 quorumVotes);

    /// @notice How many members' votes a proposal needs.
    uint256 public immutable quorumVotes;

    /// @notice The number of votes a proposal needs: a count of members, not a fraction.
    function quorum(uint256) public view override returns (uint256) {
        return quorumVotes;
    }

    /// @notice Equal to {quorum}: reaching it passes the proposal at once.
    function superQuorum(uint256) public view override returns (uint256) {
        return quorumVotes;
    }

    /// @dev Only votes *for* make the quorum (GovernorCountingSimple also counts abstentions):
    ///      a decision passes only when `quorumVotes` members said yes, never by one member's yes
    ///      and others' abstentions at the end of the voting period.
    function _quorumReached(
        uint256 proposalId
    ) internal view override(Governor, GovernorCountingSimple) returns (bool) {
        (, uint256 forVotes, ) = proposalVotes(proposalId);
        return forVotes >= quorumVotes;
    }

    function proposalThreshold() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.proposalThreshold();
    }

    function proposalVotes(
        uint256 proposalId
    )
        public
        view
        override(GovernorCountingSimple, GovernorSuperQuorum)
        returns (uint256 againstVotes, uint256 forVotes, uint256 abstainVotes)
    {
        return super.proposalVotes(proposalId);
    }

    function _propose(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        string memory description,
        address proposer
    ) internal override(Governor, GovernorStorage) returns (uint256) {
        return super._propose(targets, values, calldatas, description, proposer);
    }

    constructor(
        IVotes membership,
        TimelockController timelock,
        uint256 quorumVotes_,
        uint32 votingPeriod_
    )
        Governor("CareLedger consortium council")
        GovernorSettings(0, votingPeriod_, 1)
        GovernorVotes(membership)
        GovernorTimelockControl(timelock)
    {
        if (quorumVotes_ == 0) revert InvalidQuorum(quorumVotes_);
        quorumVotes = quorumVotes_;
    }

    function state(
        uint256 proposalId
    ) public view override(Governor, GovernorSuperQuorum, GovernorTimelockControl) returns (ProposalState) {
        return super.state(proposalId);
    }

    function proposalNeedsQueuing(
        uint256 proposalId
    ) public view override(Governor, GovernorTimelockControl) returns (bool) {
        return super.proposalNeedsQueuing(proposalId);
    }

    function _queueOperations(
        uint256 proposalId,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) returns (uint48) {
        return super._queueOperations(proposalId, targets, values, calldatas, descriptionHash);
    }

    function _executeOperations(
        uint256 proposalId,
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) {
        super._executeOperations(proposalId, targets, values, calldatas, descriptionHash);
    }

    function _cancel(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        bytes32 descriptionHash
    ) internal override(Governor, GovernorTimelockControl) returns (uint256) {
        return super._cancel(targets, values, calldatas, descriptionHash);
    }

    function _executor() internal view override(Governor, GovernorTimelockControl) returns (address) {
        return super._executor();
    }
}

/// @title EmergencyCouncil
/// @notice Voting as in {ConsortiumCouncil}, for the consortium's emergency path: a smaller
///         quorum, no delay. It acts as itself and holds only the directory's EMERGENCY role
///         (suspend a participant) and the timelock's canceller role (stop an ordinary decision
///         during its delay), so it cannot register, grant a role or admit a member. It can delay
///         ordinary decisions by cancelling them, never take one.
contract EmergencyCouncil is
    Governor,
    GovernorSettings,
    GovernorCountingSimple,
    GovernorStorage,
    GovernorVotes,
    GovernorSuperQuorum
{
    /// @notice A quorum of zero would let anything pass.
    error InvalidQuorum(uint256 quorumVotes);

    /// @notice How many members' votes a proposal needs.
    uint256 public immutable quorumVotes;

    /// @notice The number of votes a proposal needs: a count of members, not a fraction.
    function quorum(uint256) public view override returns (uint256) {
        return quorumVotes;
    }

    /// @notice Equal to {quorum}: reaching it passes the proposal at once.
    function superQuorum(uint256) public view override returns (uint256) {
        return quorumVotes;
    }

    /// @dev Only votes *for* make the quorum (GovernorCountingSimple also counts abstentions):
    ///      a decision passes only when `quorumVotes` members said yes, never by one member's yes
    ///      and others' abstentions at the end of the voting period.
    function _quorumReached(
        uint256 proposalId
    ) internal view override(Governor, GovernorCountingSimple) returns (bool) {
        (, uint256 forVotes, ) = proposalVotes(proposalId);
        return forVotes >= quorumVotes;
    }

    function proposalThreshold() public view override(Governor, GovernorSettings) returns (uint256) {
        return super.proposalThreshold();
    }

    function proposalVotes(
        uint256 proposalId
    )
        public
        view
        override(GovernorCountingSimple, GovernorSuperQuorum)
        returns (uint256 againstVotes, uint256 forVotes, uint256 abstainVotes)
    {
        return super.proposalVotes(proposalId);
    }

    function _propose(
        address[] memory targets,
        uint256[] memory values,
        bytes[] memory calldatas,
        string memory description,
        address proposer
    ) internal override(Governor, GovernorStorage) returns (uint256) {
        return super._propose(targets, values, calldatas, description, proposer);
    }

    constructor(
        IVotes membership,
        uint256 quorumVotes_,
        uint32 votingPeriod_
    ) Governor("CareLedger emergency council") GovernorSettings(0, votingPeriod_, 1) GovernorVotes(membership) {
        if (quorumVotes_ == 0) revert InvalidQuorum(quorumVotes_);
        quorumVotes = quorumVotes_;
    }

    function state(uint256 proposalId) public view override(Governor, GovernorSuperQuorum) returns (ProposalState) {
        return super.state(proposalId);
    }
}

/// @title ConsortiumTimelock
/// @notice OpenZeppelin's TimelockController under its own name so the build carries its artifact:
///         it holds the directory's admin and registrar roles and owns the membership. Its only
///         proposer is the {ConsortiumCouncil}; the council and the {EmergencyCouncil} may cancel;
///         anyone may execute a ready operation. `deployer` administers it only while
///         `careledger deploy` wires the councils, then renounces (the timelock administers itself).
contract ConsortiumTimelock is TimelockController {
    constructor(
        uint256 minDelay,
        address deployer
    ) TimelockController(minDelay, new address[](0), new address[](1), deployer) {}
}
