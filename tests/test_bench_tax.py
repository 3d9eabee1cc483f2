"""benchmarks/tax.py, small: each variant feeds what it names, and a run
over new processes gives a figure for each variant."""

from __future__ import annotations

import math

import pytest
from benchmarks import harness, tax


@pytest.mark.slow   # starts two interpreters
def test_each_variant_is_timed_in_each_process() -> None:
    runs = tax.in_processes(2, rounds=2, block=20)
    assert len(runs) == 2
    for run in runs:
        assert run['slixmpp ratio'] == 1.0
        for variant in tax.VARIANTS:
            assert run[variant] > 0 and math.isfinite(run[f'{variant} ratio'])


@pytest.mark.parametrize('variant', list(tax.VARIANTS))
async def test_the_variant_feeds_what_it_names(variant: str) -> None:
    impl, bypass, in_flight = tax.VARIANTS[variant]
    async with harness.fresh_client(impl, check_pending=not in_flight) as stream:
        feed = tax.variant_feed(stream.xmpp, variant)
        tapped = impl == 'ours' and not bypass
        assert (type(feed).__name__ == 'Tap') == tapped
        assert (feed == stream.xmpp.data_received) == (not bypass)
        for _ in range(2):
            feed(harness.CHAT_MESSAGE.encode())   # a message goes through
            await stream.settle()
            assert len(stream.answer_handler_names()) == in_flight
