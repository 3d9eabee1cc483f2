"""tests/fuzz/run.sh, which runs each fuzzing harness: it makes a run again
only when LeakSanitizer's own tracer crashed with no report, and once."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

# Runs a shell script.
pytestmark = pytest.mark.slow

RUN = Path(__file__).resolve().parent / 'fuzz' / 'run.sh'

TRACER_CRASH = ('Done 5224 runs in 16 second(s)\n'
                'Tracer caught signal 11: addr=0x3d0 pc=0x7fd334d9d108\n'
                '==30565==LeakSanitizer has encountered a fatal error.\n')
ASAN_REPORT = '==1==ERROR: AddressSanitizer: heap-use-after-free on address\n'


def fuzz_run(tmp_path: Path, outputs: list[tuple[str, int]]) -> tuple[int, str, int]:
    """run.sh over a command whose n-th run prints and exits as
    outputs[n]: its status, its output and how many runs it made."""
    script = tmp_path / 'harness.sh'
    lines = ['#!/bin/sh', f'count=$(cat {tmp_path}/count 2>/dev/null || echo 0)',
             f'echo $((count + 1)) > {tmp_path}/count', 'case $count in']
    for index, (text, status) in enumerate(outputs):
        lines.append(f"{index}) printf '%s' '{text}'; exit {status};;")
    lines += ['esac', 'exit 99']
    script.write_text('\n'.join(lines) + '\n')
    script.chmod(0o755)
    done = subprocess.run([str(RUN), str(tmp_path / 'run.log'), str(script)],
                          capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, done.stdout, int((tmp_path / 'count').read_text())


def test_a_passing_run_runs_once(tmp_path: Path) -> None:
    assert fuzz_run(tmp_path, [('Done\n', 0)])[::2] == (0, 1)


def test_a_tracer_crash_runs_once_more(tmp_path: Path) -> None:
    status, output, runs = fuzz_run(tmp_path, [(TRACER_CRASH, 1), ('Done\n', 0)])
    assert (status, runs) == (0, 2)
    assert "LeakSanitizer's tracer crashed" in output
    assert (tmp_path / 'run.log').read_text() == 'Done\n'


def test_a_second_tracer_crash_fails(tmp_path: Path) -> None:
    assert fuzz_run(tmp_path, [(TRACER_CRASH, 1), (TRACER_CRASH, 1)])[::2] == (1, 2)


@pytest.mark.parametrize('report', [
    ASAN_REPORT,
    '==1==ERROR: LeakSanitizer: detected memory leaks\n',
    'csrc/buf.c:10:5: runtime error: signed integer overflow\n',
    '=== Uncaught Python exception: ===\n',
    '==1== ERROR: libFuzzer: deadly signal\n',
])
def test_a_report_beside_a_tracer_crash_fails_at_once(tmp_path: Path, report: str) -> None:
    assert fuzz_run(tmp_path, [(report + TRACER_CRASH, 1), ('Done\n', 0)])[::2] == (1, 1)


def test_any_other_failure_fails_at_once(tmp_path: Path) -> None:
    assert fuzz_run(tmp_path, [('Done\n', 1), ('Done\n', 0)])[::2] == (1, 1)
