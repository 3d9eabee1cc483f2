"""make leaks: a million ping cycles through the plugin in memory; memory
must stay flat and no reference count may move.

The cycles are tests/leakcheck.py's (answer, timeout, spoofed answer, error
answers, a mix), on a real slixmpp ClientXMPP over the in-memory transport
of tests/memstream.py.  A warm-up runs every scenario (and pings more peers
than stats() keeps, so that its table is full); from there to the end, the
resident set size and the memory tracemalloc traces must not grow, and the
reference counts of the objects the C code is handed or holds must stay
exactly as they were.  Exit status 1 if traced memory grew by more than
--max-growth or a reference count changed.

    python -m benchmarks.leaks [--cycles 1000000]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time

import slixmpp
from benchmarks.harness import fresh_client

from tests.leakcheck import Cycler, measure


def mib(n: float) -> str:
    return f'{n / 2 ** 20:+.2f} MiB'


async def main(cycles: int, warmup: int, max_growth: int) -> bool:
    started = time.perf_counter()
    async with fresh_client('ours') as stream:
        cycler = Cycler(stream)
        report = await measure(cycler, cycles, warmup)
    total = time.perf_counter() - started

    print(f'{report.cycles:,} cycles in {total:.1f} s, traced by tracemalloc '
          f'(slixmpp {slixmpp.__version__}, Python {sys.version.split()[0]})')
    share = (report.cycles - report.warmup_cycles) // len(report.seconds)
    for scenario, seconds in report.seconds.items():
        print(f'  {scenario:>8}: {share:,} cycles in {seconds:.1f} s '
              f'({seconds / share * 1e6:.0f} µs/cycle)')
    print('outcomes:')
    for (kind, outcome), n in sorted(cycler.outcomes.items()):
        print(f'  {kind:>16} -> {outcome:<9} {n:>9,}')
    print(f'  callbacks run: {cycler.callbacks:,} of '
          f'{cycler.expected_callbacks:,}')
    print(f'from the end of the warm-up ({report.warmup_cycles:,} cycles) to '
          f'the end ({report.cycles - report.warmup_cycles:,} cycles more):')
    print(f'  RSS: {mib(report.rss_growth)}')
    print(f'  tracemalloc: {mib(report.traced_growth)}; the lines that grew '
          'most:')
    for stat in report.grew_most:
        print(f'    {stat}')
    print('  reference counts, after the warm-up -> at the end:')
    for name, (before, after) in report.refcounts.items():
        mark = '' if before == after else '  CHANGED'
        print(f'    {name:<14} {before} -> {after}{mark}')
    ok = not report.refcounts_moved and report.traced_growth <= max_growth
    print('flat' if ok else 'LEAK')
    return ok


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cycles', type=int, default=1_000_000)
    parser.add_argument('--warmup', type=int, default=10_000,
                        help='cycles of each scenario before measuring')
    parser.add_argument('--max-growth', type=int, default=1 << 20,
                        help='bytes of traced memory it may grow by')
    args = parser.parse_args()
    sys.exit(0 if asyncio.run(main(args.cycles, args.warmup, args.max_growth))
             else 1)
