"""The build's own checks: without pkg-config or libxml2's headers it stops
with one sentence that says what to install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# setup.py run as a program
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SENTENCE = ("error: building slixmpp-ping-c needs libxml2's headers, found "
            "through pkg-config, so install both first (Debian/Ubuntu: "
            "apt-get install libxml2-dev pkg-config).")


def run_setup(tmp_path: Path, pkg_config: str | None) -> subprocess.CompletedProcess[str]:
    """setup.py with a PATH holding only the given pkg-config script."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    if pkg_config is not None:
        script = bin_dir / 'pkg-config'
        script.write_text(pkg_config)
        script.chmod(0o755)
    env = {**os.environ, 'PATH': str(bin_dir)}
    return subprocess.run([sys.executable, 'setup.py', '--version'], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize('pkg_config', [
    None,  # no pkg-config at all
    '#!/bin/sh\nexit 1\n',  # pkg-config that does not know libxml-2.0
], ids=['no-pkg-config', 'no-libxml2'])
def test_missing_libxml2_is_one_sentence(tmp_path: Path, pkg_config: str | None) -> None:
    done = run_setup(tmp_path, pkg_config)
    assert done.returncode != 0
    assert done.stderr.strip() == SENTENCE
    assert 'Traceback' not in done.stdout + done.stderr
