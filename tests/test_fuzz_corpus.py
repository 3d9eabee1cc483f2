"""The stream tap's fuzzing oracle (tests/fuzz/fuzz_tap.py) on its committed
corpus, which holds every input fuzzing found the tap failing on: through
the tap, slixmpp gets the stanzas its own parser finds, less the ones the
tap consumed, in the same order, and refuses a malformed stream the same
way.  And the public API's harness (tests/fuzz/fuzz_api.py) on its corpus:
each program runs to its end, its oracle holding, in a process of its own,
since what it would find is a crash."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.children import child_env

FUZZ_DIR = Path(__file__).parent / 'fuzz'
CORPUS = sorted((FUZZ_DIR / 'corpus' / 'tap').iterdir())
API_CORPUS = sorted((FUZZ_DIR / 'corpus' / 'api').iterdir())
# The harnesses import their helper (instrumented.py) from their directory.
sys.path.insert(0, str(FUZZ_DIR))


def load_harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        'fuzz_tap', FUZZ_DIR / 'fuzz_tap.py')
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault('fuzz_tap', module)
    spec.loader.exec_module(module)
    return module


fuzz_tap = load_harness()


@pytest.mark.parametrize('path', CORPUS, ids=[p.name for p in CORPUS])
def test_tap_matches_slixmpp_on_the_corpus(path: Path) -> None:
    fuzz_tap.check(path.read_bytes())


def test_the_oracle_sees_a_consumed_stanza_out_of_place() -> None:
    """The oracle fails where it should: an answer where slixmpp found a
    message."""
    got = [('answer', b'<iq type="result" id="1"/>')]
    expected = [('stanza', b'<message xmlns="jabber:client" id="1"/>')]
    assert not fuzz_tap.consumed(got[0], expected[0][1])


# A process each (the slow tier of the test tiers: it starts processes).
@pytest.mark.slow
@pytest.mark.parametrize('path', API_CORPUS, ids=[p.name for p in API_CORPUS])
def test_api_program_runs_clean(path: Path) -> None:
    # The child imports what this process imports (a leg's own build: the
    # sanitizer's, libxml2's newest), and the harness's helper from its
    # directory, which PYTHONSAFEPATH (those legs set it) leaves off.
    env = child_env(str(FUZZ_DIR))
    env.pop('FUZZ_CORE', None)
    env.pop('FUZZ_API_EXCLUDE', None)
    done = subprocess.run(
        [sys.executable, '-X', 'faulthandler', str(FUZZ_DIR / 'fuzz_api.py'),
         '--replay', str(path)],
        check=False, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
