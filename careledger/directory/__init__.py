"""The participant directory: who may act in which role (``contracts/common``)."""

from careledger.directory.client import DirectoryClient, ParticipantInfo

__all__ = ["DirectoryClient", "ParticipantInfo"]
