"""The test tiers (tests/conftest.py): every test of the suite is in exactly
one of fast, server and slow, so that ``make test-fast`` plus the other two
tiers is ``make test``, and no test is left out of all three."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TIERS

# Collecting the suite again, in a pytest of its own.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def collected(*args: str) -> list[str]:
    """The ids of the tests pytest collects with these arguments."""
    done = subprocess.run([sys.executable, '-m', 'pytest', '--collect-only', '-q',
                           '-p', 'no:cacheprovider', *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode in (0, 5), done.stdout + done.stderr  # 5: none selected
    return [line for line in done.stdout.splitlines() if '::' in line]


def test_each_test_is_in_one_tier() -> None:
    everything = collected()
    tiers = {tier: collected('-m', tier) for tier in TIERS}
    assert sum(map(len, tiers.values())) == len(everything)
    assert set().union(*tiers.values()) == set(everything)
    # Each tier has tests: a marker expression that matched nothing (a
    # misspelt tier, say) would not pass for an empty tier.
    assert all(tiers.values()), {tier: len(ids) for tier, ids in tiers.items()}
    # This test starts pytest: it is slow, not fast.
    assert f'tests/{Path(__file__).name}::test_each_test_is_in_one_tier' in tiers['slow']
