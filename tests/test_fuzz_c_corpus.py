"""The plain-C fuzzing harnesses, which need no Python (the scanner's and
the framer's, tests/fuzz/fuzz_*.c), on their committed corpora in the
normal suite: built with the system's C compiler and a driver in place of
libFuzzer (tests/fuzz/standalone.c), every input runs once and the
harness's oracle holds (it aborts otherwise)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

# Builds and runs a C program.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
FUZZ_DIR = ROOT / 'tests' / 'fuzz'

#: Each harness and the csrc/ units it links.
HARNESSES = {
    'scanner': ['scanner', 'buf'],
    'framer': ['framer', 'scanner', 'buf', 'rules'],
}


@pytest.mark.parametrize('harness', sorted(HARNESSES))
def test_corpus_passes_the_oracle(harness: str, tmp_path: Path) -> None:
    compiler = shutil.which('cc') or shutil.which('gcc')
    assert compiler is not None, 'a C compiler (the build needs one too)'
    program = tmp_path / f'fuzz_{harness}'
    sources = [FUZZ_DIR / f'fuzz_{harness}.c', FUZZ_DIR / 'standalone.c',
               *(ROOT / 'csrc' / f'{unit}.c' for unit in HARNESSES[harness])]
    subprocess.run([compiler, '-std=c11', '-O1', '-g', '-Wall', '-Wextra',
                    '-Werror', f'-I{ROOT / "csrc"}', f'-I{FUZZ_DIR}',
                    '-o', str(program), *map(str, sources)],
                   check=True, capture_output=True, timeout=300)
    corpus = sorted((FUZZ_DIR / 'corpus' / harness).iterdir())
    assert corpus, f'a seed corpus in tests/fuzz/corpus/{harness}/'
    done = subprocess.run([str(program), *map(str, corpus)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
