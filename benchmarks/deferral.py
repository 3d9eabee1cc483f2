"""What deliver_without_delay costs: µs per chat message fed as its own
read, to slixmpp's plugin, to ours and to ours with the option on, side by
side on this interpreter (the option flushes slixmpp's parser only where
expat defers: 2.6 and newer, CPython 3.13).  Paired blocks as in run.py's
'other traffic' row; the ratios are the medians of the blocks' ratios.

    .venv-py3.13/bin/python -m benchmarks.deferral
"""
from __future__ import annotations

import asyncio
import gc
import pyexpat
import statistics
import sys
from contextlib import AsyncExitStack
from typing import Any

from benchmarks import harness
from tests.memstream import client_stream

WORLDS = {'slixmpp': ('slixmpp', {}), 'ours': ('ours', {}),
          'ours, deliver_without_delay': ('ours', {'deliver_without_delay': True})}


async def measure(n: int = 60_000, block: int = 500) -> dict[str, list[float]]:
    data = [harness.CHAT_MESSAGE.encode()] * block
    received = dict.fromkeys(WORLDS, 0)
    async with AsyncExitStack() as streams:
        feeds = {}
        for world, (impl, config) in WORLDS.items():
            s = await streams.enter_async_context(
                client_stream(harness.IMPLEMENTATIONS[impl], config=config))

            def on_message(msg: Any, world: str = world) -> None:
                received[world] += 1
            s.xmpp.add_event_handler('message', on_message)
            feeds[world] = s.xmpp.data_received
        gc.collect()
        times = harness.paired_blocks(feeds, data, n // block)
    # Each message's end is parsed by the next read at the latest.
    assert all(count >= n - 1 for count in received.values()), received
    return times


def main() -> None:
    times = asyncio.run(measure())
    print(f'Python {sys.version.split()[0]}, expat {".".join(map(str, pyexpat.version_info))}')
    base = times['slixmpp']
    for world, blocks in times.items():
        ratio = statistics.median(o / t for t, o in zip(base, blocks, strict=True))
        print(f'{world:30s} {statistics.median(blocks):7.2f} µs/message  {ratio:5.3f}× slixmpp')
    option = statistics.median(
        o - t for t, o in zip(times['ours'], times['ours, deliver_without_delay'], strict=True))
    print(f'the option costs {option:+.2f} µs/message (median of the paired blocks)')


if __name__ == '__main__':
    main()
