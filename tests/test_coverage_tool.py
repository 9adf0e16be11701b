"""tools.evmcov measures what it claims: source-map decoding, and, end to end on py-evm, a
deployment plus one reverted call mapped back to exactly the lines and branch outcome that ran."""

from __future__ import annotations

import os

import ape
import pytest

from careledger._paths import project_root
from tools.evmcov.mapping import compute, decode_source_map, instruction_offsets
from tools.evmcov.plugin import ENV
from tools.evmcov.report import summarize
from tools.evmcov.solc import compile_like_ape
from tools.evmcov.trace import Recorder

SOURCE = "contracts/common/ParticipantDirectory.sol"


def test_source_map_entries_inherit_omitted_fields():
    assert decode_source_map("1:2:0;;3::1;:4;5:6:-1") == [(1, 2, 0), (1, 2, 0), (3, 2, 1), (3, 4, 1), (5, 6, -1)]


def test_instruction_offsets_skip_push_data():
    code = bytes([0x60, 0x01, 0x7F, *([0xAA] * 32), 0x57, 0x00])  # PUSH1 1, PUSH32 .., JUMPI, STOP
    assert instruction_offsets(code) == [0, 2, 35, 36]


def line_containing(text: str, needle: str, after: int = 0) -> int:
    lines = text.splitlines()
    return next(i + 1 for i in range(after, len(lines)) if needle in lines[i])


@pytest.mark.skipif(bool(os.environ.get(ENV)), reason="make coverage already traces this session")
def test_one_reverted_call_maps_to_its_lines_and_branch_outcome(project, admin, clinic):
    recorder = Recorder()
    recorder.install()
    try:
        directory = project.ParticipantDirectory.deploy(admin, sender=admin)
        with ape.reverts(directory.EmptyCredentialCommitment):
            directory.updateCredential(clinic, b"\0" * 32, sender=admin)
    finally:
        recorder.uninstall()

    run = compile_like_ape(project_root())
    result = compute(run.input, run.output, recorder.traces)
    text = result.files[SOURCE].text
    fn = line_containing(text, "function updateCredential")
    check = line_containing(text, "revert EmptyCredentialCommitment()", after=fn)
    after_check = line_containing(text, "_registered(account)", after=check)
    grant = line_containing(text, "_grantRole(DEFAULT_ADMIN_ROLE, consortiumAdmin)")
    suspend = line_containing(text, "function suspend")

    (row,) = [r for r in summarize(result) if r.contract == "ParticipantDirectory"]
    uncovered = {n for n, _ in row.uncovered_lines}
    assert {grant, fn, check}.isdisjoint(uncovered)  # constructor, entry, the check that reverted
    assert {after_check, suspend} <= uncovered  # past the revert; never called
    # The check's branch: the revert outcome ran, the other one did not and leads past it.
    missing = [b for b in row.uncovered_branches if b.line == check]
    assert len(missing) == 1
    assert missing[0].leads_to.startswith(f"line {after_check}:")
    assert 0 < row.lines.covered < row.lines.total
