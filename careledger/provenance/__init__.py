"""Drug provenance: GS1 identifiers, Merkle trees over unit serials, and the ProvenanceRegistry client.

``gs1`` and ``merkle`` and ``ids`` are primitives with no chain access; ``client`` talks to the
contract; ``history`` rebuilds custody from events; ``store`` keeps commissioned serial lists.
"""

from careledger.provenance.ids import batch_id, serial_to_bytes32, unit_id

__all__ = ["batch_id", "serial_to_bytes32", "unit_id"]
