"""Consortium governance: no single key rules the directory.

After ``careledger deploy --consortium FILE`` the directory's admin and registrar roles sit with a
timelock driven by the consortium council (ordinary decisions: a quorum of members, then a delay
everyone can watch), and its emergency role with the emergency council (a quorum, no delay, and no
power to register or grant). :mod:`.consortium` sets this up; :mod:`.client` proposes, votes,
queues, executes and lists; ``careledger gov`` is the command line. docs/governance.md explains
the design and why it is built from OpenZeppelin's Governor and TimelockController.
"""

# The contracts the emergency council may pause (and the timelock resume), by their CLI names.
PAUSABLE = {"consent": "ConsentRegistry", "provenance": "ProvenanceRegistry", "claims": "ClaimSettlement"}
