"""What the suite imports.  tests/ is a package (its helpers are
``tests.memstream`` and so on, for the demo and the benchmarks too), and the
legs that test a build of their own (make sanitize, make
test-libxml2-newest: PYTHONSAFEPATH, the build on PYTHONPATH) must still get
that build, not the checkout's in-place one that pytest's default import
mode would put first along with the project's root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import slixmpp_ping_c

# Runs pytest in a fresh interpreter.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

# Collects a module that imports the tests' helpers, then says where
# slixmpp_ping_c (imported as a test would, on the path pytest left) and
# the helpers came from.
PROBE = '''
import sys, pytest
status = pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider',
                      'tests/test_compat_ping.py'])
assert status == 0, status
import slixmpp_ping_c
print(slixmpp_ping_c.__file__)
print(sys.modules['tests.memstream'].__file__)
'''


def test_a_build_on_pythonpath_is_the_one_tested(tmp_path: Path) -> None:
    build = tmp_path / 'lib'
    shutil.copytree(Path(slixmpp_ping_c.__file__).parent, build / 'slixmpp_ping_c')
    env = {**os.environ, 'PYTHONSAFEPATH': '1', 'PYTHONPATH': str(build)}
    done = subprocess.run([sys.executable, '-c', PROBE], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    package, helpers = done.stdout.splitlines()[-2:]
    assert Path(package).parent == build / 'slixmpp_ping_c'
    assert Path(helpers).parent == ROOT / 'tests'
