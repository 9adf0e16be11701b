"""Contract line and branch coverage, measured on the EVM that runs the tests.

Ape's own ``--coverage`` needs a compiler plugin that maps program counters to source
(ape-solidity does not), so CareLedger measures it itself, in three steps:

1. :mod:`tools.evmcov.trace` hooks py-evm (the embedded chain of ``ape test``) and records
   every program counter executed, per bytecode, and every ``JUMPI`` outcome. It sees everything
   the EVM runs: transactions (also reverted ones), ``eth_call``, gas estimation, constructors and
   nested calls, including work later discarded by Ape's per-test snapshot revert.
2. :mod:`tools.evmcov.solc` recompiles the project exactly as Ape does (same standard
   JSON input, identical bytecode) asking solc for the runtime source maps and the AST.
3. :mod:`tools.evmcov.mapping` maps the recorded counters to source lines (statements) and
   branches (the ``JUMPI`` of each ``if``, ``require``/``assert``, ``?:``, ``&&``/``||`` and loop
   condition), and :mod:`tools.evmcov.report` writes ``docs/coverage.md`` and
   ``docs/coverage.json``.

``python -m tools.evmcov`` (``make coverage``) runs all three.
"""
