"""Why slixmpp-ping has a stuck-loop path (slixmpp_ping_c/cli/signals.py):
Ctrl-C during ``--flood N --impl slixmpp`` against a throwaway Prosody,
the time from SIGINT to the command's exit, side by side with the path (as
shipped) and without it (Stop.GRACE never reached, a second signal ignored: the
stop waits for the event loop, as a plain asyncio program's would).

    python -m benchmarks.interrupt [--quick] [--flood N ...] [--after S ...]

slixmpp's own plugin matches every stanza against every ping in flight, so
one read of thousands of pongs holds the loop for seconds, and cancelling
the pings left costs as much again: without the path the command ends when
the loop is free, with it within Stop.GRACE.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time

from tests.prosody import Prosody

PASSWORD = 'interrupt-pw'
# The command, with the stuck-loop path on or off (argv[1]).
COMMAND = '''
import sys
from slixmpp_ping_c import cli
from slixmpp_ping_c.cli.signals import Stop
if sys.argv[1] == 'without':
    Stop.GRACE = 1e9  # (setitimer refuses inf)
    Stop.stuck = lambda self: None
sys.exit(cli.main(sys.argv[2:]))
'''
# Far above what the path takes; without it, a 10,000-ping flood needs two
# minutes.
RUN_TIMEOUT = 600.0


async def interrupted(server: Prosody, way: str, n: int,
                      after: float) -> tuple[float, bool]:
    """Seconds from SIGINT to the exit, and whether a summary came."""
    argv = [sys.executable, '-c', COMMAND, way, '--no-tls',
            '--host', server.host, '--port', str(server.c2s_port),
            '--jid', f'alice@{server.domain}', '--flood', str(n),
            '--impl', 'slixmpp', server.domain]
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, 'XMPP_PASSWORD': PASSWORD})
    assert process.stdout is not None
    await process.stdout.readline()  # PING ...: logged in, flooding
    await asyncio.sleep(after)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    stdout, _ = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    return time.monotonic() - sent, b' sent, ' in stdout


async def measure(floods: list[int], afters: list[float]) -> None:
    with Prosody(accounts={'alice': PASSWORD}) as server:
        print(f'{"flood":>6} {"SIGINT after":>12} {"with (s)":>9} '
              f'{"without (s)":>11} {"without/with":>12}')
        for n in floods:
            for after in afters:
                took = {}
                for way in ('with', 'without'):
                    took[way], summary = await interrupted(server, way, n,
                                                           after)
                    if not summary:
                        raise RuntimeError(f'{way}: no summary')
                print(f'{n:6} {after:11.1f}s {took["with"]:9.2f} '
                      f'{took["without"]:11.2f} '
                      f'{took["without"] / took["with"]:11.1f}×', flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='one flood of 3,000, SIGINT after 0.5 s')
    parser.add_argument('--flood', type=int, nargs='+', default=[3000, 10000])
    parser.add_argument('--after', type=float, nargs='+', default=[0.5, 3.0])
    args = parser.parse_args()
    if args.quick:
        args.flood, args.after = [3000], [0.5]
    asyncio.run(measure(args.flood, args.after))


if __name__ == '__main__':
    main()
