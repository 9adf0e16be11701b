"""How guessable a serial list is: the CLI warns before it commissions sequential serials.

A serial printed on a pack (GS1 AI (21)) is seen by everyone who handles it. If serials are
sequential, one genuine pack tells a counterfeiter the serials of its neighbours. GS1 advises
serialising healthcare items with non-sequential, randomised serial numbers (GS1 General
Specifications, AI (21) serialisation; GS1 Healthcare's randomisation guidance), and the EU
Falsified Medicines Directive requires it (Delegated Regulation (EU) 2016/161, art. 4(b): the
probability of guessing a serial "negligible and in any case lower than one in ten thousand").
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

__all__ = ["sequential_share", "sequential_warning"]

_TAIL = re.compile(r"^(.*?)(\d+)$")
#: Neighbours closer than this count as "sequential" (a step of 1, 2, 5 or 10 is as guessable).
_NEAR = 16
#: Warn when at least this share of neighbouring serials (sorted) lie within _NEAR of each other.
_THRESHOLD = 0.5


def sequential_share(serials: Sequence[str]) -> float:
    """The share of neighbouring pairs (sorted by prefix, then number) whose numeric tails differ by
    less than 16 under the same prefix. 1.0 for ``SN000001, SN000002, ...``; near 0 for random serials
    from a large space. Serials without a numeric tail never count."""
    keyed = sorted((m.group(1), int(m.group(2))) for m in (_TAIL.match(s) for s in serials) if m is not None)
    if len(serials) < 2:
        return 0.0
    close = sum(1 for (p, a), (q, b) in itertools.pairwise(keyed) if p == q and 0 < b - a < _NEAR)
    return close / (len(serials) - 1)


def sequential_warning(serials: Sequence[str]) -> str | None:
    """A one-line warning when the serials look sequential, else None."""
    share = sequential_share(serials)
    if share < _THRESHOLD:
        return None
    return (
        f"{share:.0%} of these serials are within {_NEAR} of another: anyone holding one pack can guess "
        "its neighbours. GS1 advises randomised, non-sequential serials for healthcare items (EU FMD, "
        "Regulation (EU) 2016/161 art. 4(b): guess probability below 1 in 10,000); see docs/provenance.md"
    )
