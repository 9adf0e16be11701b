"""CareLedger SDK: consent, claims and drug provenance on an Ethereum-compatible chain.

The public surface is small: the error tree, the code tables, and one client per contract
family (``careledger.directory``, ``careledger.consent``, ``careledger.provenance``,
``careledger.claims``), each imported from its own package.
"""

from careledger.codes import Category, Purpose, Role
from careledger.errors import (
    CareLedgerError,
    ChainRefused,
    EnvironmentProblem,
    InvalidInput,
    NodeUnreachable,
    NotVerified,
    SuiteNotDeployed,
)

__version__ = "0.1.0"

__all__ = [
    "CareLedgerError",
    "Category",
    "ChainRefused",
    "EnvironmentProblem",
    "InvalidInput",
    "NodeUnreachable",
    "NotVerified",
    "Purpose",
    "Role",
    "SuiteNotDeployed",
    "__version__",
]
