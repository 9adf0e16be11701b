// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721Votes} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721Votes.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";

/// @title ConsortiumMembership
/// @notice One vote per consortium member: a non-transferable ERC-721 whose token id is the
///         member's address. The consortium's councils ({ConsortiumCouncil}) count these votes.
///         Admission and expulsion belong to the owner, which after `careledger deploy` is the
///         consortium's timelock: membership changes are ordinary, delayed decisions.
/// @dev    Votes are checkpointed by timestamp (ERC-6372 `mode=timestamp`). Each member's vote is
///         delegated to itself when admitted and cannot be delegated elsewhere, so one key never
///         holds two votes.
contract ConsortiumMembership is ERC721, EIP712, ERC721Votes, Ownable {
    /// @notice `account` is already a member.
    error AlreadyMember(address account);
    /// @notice `account` is not a member.
    error NotMember(address account);
    /// @notice Membership cannot change hands (a member's key rotation is an expel and an admit).
    error MembershipNotTransferable(uint256 tokenId);
    /// @notice A member's vote is its own: delegation is disabled.
    error DelegationDisabled();

    /// @notice `member` joined the consortium.
    event MemberAdmitted(address indexed member);
    /// @notice `member` left the consortium.
    event MemberExpelled(address indexed member);

    string private constant _NAME = "CareLedger consortium membership";

    constructor(address owner_) ERC721(_NAME, "CLCM") EIP712(_NAME, "1") Ownable(owner_) {}

    /// @notice Admits `member` with one vote, effective from the next second.
    function admit(address member) external onlyOwner {
        uint256 tokenId = uint256(uint160(member));
        if (_ownerOf(tokenId) != address(0)) revert AlreadyMember(member);
        _mint(member, tokenId);
        _delegate(member, member);
        emit MemberAdmitted(member);
    }

    /// @notice Expels `member`; its vote no longer counts in proposals made from the next second.
    function expel(address member) external onlyOwner {
        uint256 tokenId = uint256(uint160(member));
        if (_ownerOf(tokenId) == address(0)) revert NotMember(member);
        _burn(tokenId);
        emit MemberExpelled(member);
    }

    /// @notice True when `account` is a member now.
    function isMember(address account) external view returns (bool) {
        return _ownerOf(uint256(uint160(account))) != address(0);
    }

    /// @notice ERC-6372: votes are checkpointed by block timestamp.
    function clock() public view override returns (uint48) {
        return Time.timestamp();
    }

    /// @notice ERC-6372: votes are checkpointed by block timestamp.
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    /// @notice Disabled: a member's vote stays with the member ({DelegationDisabled}).
    function delegate(address) public pure override {
        revert DelegationDisabled();
    }

    /// @notice Disabled: a member's vote stays with the member ({DelegationDisabled}).
    function delegateBySig(address, uint256, uint256, uint8, bytes32, bytes32) public pure override {
        revert DelegationDisabled();
    }

    function _update(
        address to,
        uint256 tokenId,
        address auth
    ) internal override(ERC721, ERC721Votes) returns (address) {
        address from = _ownerOf(tokenId);
        if (from != address(0) && to != address(0)) revert MembershipNotTransferable(tokenId);
        return super._update(to, tokenId, auth);
    }

    function _increaseBalance(address account, uint128 amount) internal override(ERC721, ERC721Votes) {
        super._increaseBalance(account, amount);
    }
}
