"""A short run of benchmarks/leaks.py's checks (make leaks runs a million
cycles): 20,000 ping cycles of every kind through the plugin in memory
leave the reference counts of what the C code touches exactly as they
were, and memory flat."""

from __future__ import annotations

import pytest

from slixmpp_ping_c import XEP_0199
from tests.leakcheck import Cycler, measure
from tests.memstream import client_stream


@pytest.mark.slow  # a soak: tens of seconds
async def test_twenty_thousand_cycles_leave_nothing_behind() -> None:
    config = {'stats_max_peers': 100}
    async with client_stream(XEP_0199, config=config) as s:
        cycler = Cycler(s, rotating=200)
        report = await measure(cycler, 20_000, warmup=300)
        assert report.cycles >= 20_000
        assert report.refcounts_moved == {}
        # A leak of one small object a cycle would be over 500 KiB.
        assert report.traced_growth < 256 * 1024, report.grew_most
        kinds = {kind for kind, _ in cycler.outcomes}
        assert kinds == {'answer', 'answer_tracked', 'timeout', 'timeout_tracked',
                         'spoof', 'error', 'rotating', 'default_target', 'incoming'}
        assert cycler.callbacks == cycler.expected_callbacks > 0
