"""Optional parts of the package and the extras that install them.

``pip install careledger`` gives the SDK and every command; a few parts need more packages,
declared as extras in ``pyproject.toml``:

=========  ====================================  ================================================
extra      packages                              what needs them
=========  ====================================  ================================================
relay      fastapi, uvicorn                      ``careledger relay serve`` (the gasless relayer)
scan       zxing-cpp, pillow                     DataMatrix images: ``drugs verify --image``
fhir       fhir.resources                        ``consent``/``claims`` ``export-fhir``, ``import-fhir``
demo       relay + fhir, httpx                   ``python -m careledger.demo`` (``make demo``)
dev        Ape, py-evm, pytest, linters          the workshop (tests, benchmarks, ``tools/``)
index      sqlalchemy, alembic + relay, fhir      ``careledger index`` (the persistent indexer, its API)
gateway    relay + fhir, sqlalchemy, eciespy     ``careledger gateway`` (the provider record gateway)
postgres   index + psycopg                       ``careledger index --db postgresql://...``
=========  ====================================  ================================================

Every import of such a package sits inside :func:`needs_extra`, so a missing one reaches the user
as one line naming the extra (:class:`~careledger.errors.MissingExtra`, exit 5), never as an
``ImportError`` traceback. ``tests/test_packaging.py`` checks that each such import is wrapped and
that the wheel declares every package the code imports.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from careledger.errors import MissingExtra

__all__ = ["needs_extra"]


@contextmanager
def needs_extra(extra: str, purpose: str) -> Iterator[None]:
    """Import an optional part's packages inside this block::

        with needs_extra("scan", "reading a DataMatrix image"):
            import zxingcpp

    A missing module becomes :class:`MissingExtra` naming ``careledger[<extra>]``.
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        raise MissingExtra(extra, purpose, exc.name) from None
