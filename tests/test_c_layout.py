"""The C core's units form a DAG (tests/c_layout.py): no file includes or
calls a file that calls it back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.c_layout import cycles, layered

# Builds the C core and runs nm.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_the_units_form_a_dag(tmp_path: Path) -> None:
    # Objects of its own, built from this tree: the in-place build's may be
    # another interpreter's or older than the sources.
    subprocess.run([sys.executable, 'setup.py', '-q', 'build_ext',
                    '--build-temp', str(tmp_path / 'temp'),
                    '--build-lib', str(tmp_path / 'lib')],
                   cwd=ROOT, check=True, capture_output=True, timeout=600)
    done = subprocess.run([sys.executable, 'tests/c_layout.py', '--check',
                           '--objects', str(tmp_path / 'temp' / 'csrc')],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'cycle:' not in done.stdout
    # The module's glue is the top: nothing depends on it.
    edges = [line.split('->') for line in done.stdout.splitlines() if '->' in line]
    assert any(unit.strip() == 'module' for unit, _ in edges)
    assert all('module' not in after.replace(',', ' ').split() for _, after in edges)


def test_cycles_are_found() -> None:
    nodes = ['a', 'b', 'c', 'd']
    assert cycles(nodes, {('a', 'b'), ('b', 'c'), ('c', 'a'), ('c', 'd')}) == [['a', 'b', 'c']]
    assert cycles(nodes, {('a', 'b'), ('b', 'c'), ('a', 'd')}) == []
    assert layered(nodes, {('a', 'b'), ('b', 'c'), ('a', 'd')}) == ['c', 'b', 'd', 'a']


def test_the_c_core_names_no_private_attribute_of_slixmpp() -> None:
    """Which of slixmpp's private attributes the fast path reads is the
    plugin's to say (slixmpp_ping_c/_fast_path.py, the one module that
    touches them); the C core reads only the names it is handed."""
    from slixmpp_ping_c._fast_path import TAP_PRIVATE_NAMES
    names = [TAP_PRIVATE_NAMES['queue_unfinished'],
             TAP_PRIVATE_NAMES['parser_events'],
             *TAP_PRIVATE_NAMES['session_flags'],
             '_XMLStream__', 'waiting_queue']
    sources = {path.name: path.read_text()
               for path in sorted((ROOT / 'csrc').glob('*.[ch]'))}
    assert sources
    found = [(file, name) for file, text in sources.items()
             for name in names if f'"{name}' in text]
    assert found == []
