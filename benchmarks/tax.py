"""Where the message tax comes from on this stack: µs per chat message fed
as its own read to slixmpp's plugin and to ours, whole and with one of its
two per-stanza costs taken away: the tap in front of data_received
(bypassed: slixmpp's own data_received called on our client), and the
'Ping responses' handler slixmpp matches every stanza against (removed with
remove_handler).  Blocks of each in turn, the order reversed every other
round; the ratios are the medians of the blocks' ratios to slixmpp's.
Without the handler or the tap ours answers nothing: a measurement only.

    python -m benchmarks.tax [--rounds N]
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import pyexpat
import statistics
import sys
from contextlib import AsyncExitStack

from benchmarks import harness
from benchmarks.harness import fresh_client

MESSAGE = harness.CHAT_MESSAGE.encode()
#: variant -> (implementation, tap bypassed, 'Ping responses' removed)
VARIANTS = {
    'slixmpp': ('slixmpp', False, False),
    'ours': ('ours', False, False),
    "ours, tap bypassed": ('ours', True, False),
    "ours, without 'Ping responses'": ('ours', False, True),
    'ours, neither': ('ours', True, True),
}


async def measure(rounds: int, block: int) -> dict[str, list[float]]:
    async with AsyncExitStack() as clients:
        feeds = {}
        for variant, (impl, bypass, unmatched) in VARIANTS.items():
            stream = await clients.enter_async_context(fresh_client(impl))
            xmpp = stream.xmpp
            xmpp.add_event_handler('message', lambda msg: None)
            if unmatched:
                xmpp.remove_handler('Ping responses')
            # slixmpp's own data_received, bound to this client.
            feeds[variant] = (type(xmpp).data_received.__get__(xmpp) if bypass
                              else xmpp.data_received)
        gc.collect()
        return harness.paired_blocks(feeds, [MESSAGE] * block, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rounds', type=int, default=40)
    parser.add_argument('--block', type=int, default=2000)
    args = parser.parse_args()
    times = asyncio.run(measure(args.rounds, args.block))
    print(f'Python {sys.version.split()[0]}, expat {".".join(map(str, pyexpat.version_info))}, '
          f'{args.rounds} rounds of {args.block} messages')
    base = times['slixmpp']
    for variant, blocks in times.items():
        ratio = statistics.median(o / t for t, o in zip(base, blocks, strict=True))
        print(f'{variant:32s} {statistics.median(blocks):7.2f} µs/message  {100 * (ratio - 1):+6.2f} %')


if __name__ == '__main__':
    main()
