"""Where the message tax comes from on this stack: µs per chat message fed
as its own read to slixmpp's plugin and to ours, whole, with the tap in
front of data_received bypassed (slixmpp's own data_received called on our
client: ours then answers nothing, a measurement only), and each with a
ping in flight (its answer's handler, ours 'Ping responses' or slixmpp's
Iq.send's, is registered only then, and slixmpp matches every stanza
against it).  Blocks of each in turn, the order reversed every other
round; the ratios are the medians of the blocks' ratios to slixmpp's.
Each run is a new process (--processes of them): where the interpreter's
and our objects lie in memory moves the ratio of one process by about a
point, more than blocks within it do, so the table gives the median and
the spread over processes.

    python -m benchmarks.tax [--rounds N] [--block N] [--processes N]
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import pyexpat
import statistics
import subprocess
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

from benchmarks import harness
from benchmarks.harness import fresh_client
from tests.children import child_env

MESSAGE = harness.CHAT_MESSAGE.encode()
#: variant -> (implementation, tap bypassed, a ping in flight)
VARIANTS = {
    'slixmpp': ('slixmpp', False, False),
    'ours': ('ours', False, False),
    'ours, tap bypassed': ('ours', True, False),
    'slixmpp, a ping in flight': ('slixmpp', False, True),
    'ours, a ping in flight': ('ours', False, True),
}


def variant_feed(xmpp: Any, variant: str) -> Callable[[bytes], Any]:
    """What the variant feeds the messages to, on a client of its
    implementation."""
    _, bypass, in_flight = VARIANTS[variant]
    xmpp.add_event_handler('message', lambda msg: None)
    if in_flight:
        # Never answered within the run.
        xmpp.plugin['xep_0199'].send_ping(harness.SERVER, timeout=harness.PING_TIMEOUT)
    # slixmpp's own data_received, bound to this client.
    feed: Callable[[bytes], Any] = (type(xmpp).data_received.__get__(xmpp) if bypass
                                    else xmpp.data_received)
    return feed


async def measure(rounds: int, block: int) -> dict[str, list[float]]:
    async with AsyncExitStack() as clients:
        feeds = {}
        for variant, (impl, _, in_flight) in VARIANTS.items():
            stream = await clients.enter_async_context(
                fresh_client(impl, check_pending=not in_flight))
            feeds[variant] = variant_feed(stream.xmpp, variant)
        gc.collect()
        return harness.paired_blocks(feeds, [MESSAGE] * block, rounds)


def one_process(rounds: int, block: int) -> dict[str, float]:
    """Each variant's median µs per message and median ratio to slixmpp's,
    the blocks of one process."""
    times = asyncio.run(measure(rounds, block))
    base = times['slixmpp']
    result = {}
    for variant, blocks in times.items():
        result[variant] = statistics.median(blocks)
        result[f'{variant} ratio'] = statistics.median(
            o / t for t, o in zip(base, blocks, strict=True))
    return result


def in_processes(n: int, rounds: int, block: int) -> list[dict[str, float]]:
    """one_process() in n new interpreters, one after the other."""
    command = [sys.executable, '-m', 'benchmarks.tax', '--one',
               '--rounds', str(rounds), '--block', str(block)]
    return [json.loads(subprocess.run(command, check=True, capture_output=True,
                                      text=True, env=child_env()).stdout)
            for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rounds', type=int, default=20)
    parser.add_argument('--block', type=int, default=2000)
    parser.add_argument('--processes', type=int, default=10)
    parser.add_argument('--one', action='store_true',
                        help='one process, its figures as JSON (used by the runs)')
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_process(args.rounds, args.block)))
        return
    runs = in_processes(args.processes, args.rounds, args.block)
    print(f'Python {sys.version.split()[0]}, expat {".".join(map(str, pyexpat.version_info))}, '
          f'{args.processes} processes of {args.rounds} rounds of {args.block} messages')
    for variant in VARIANTS:
        taxes = [100 * (run[f'{variant} ratio'] - 1) for run in runs]
        spread = statistics.stdev(taxes) if len(taxes) > 1 else 0.0
        print(f'{variant:32s} {statistics.median(run[variant] for run in runs):7.2f} µs/message  '
              f'{statistics.median(taxes):+6.2f} % (sd {spread:.2f}, '
              f'{min(taxes):+.2f} to {max(taxes):+.2f})')


if __name__ == '__main__':
    main()
