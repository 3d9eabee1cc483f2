"""make demo: the slixmpp-ping command against a throwaway Prosody.

    python -m tests.demo

Starts Prosody on loopback (tests/prosody.py) with two accounts, keeps bob
online (a slixmpp client in this process), and runs, printing each command
line first:

1. ``slixmpp-ping -c 3`` against the server, then against bob;
2. ``slixmpp-ping --flood 5000`` with slixmpp's own plugin
   (``--impl slixmpp``) and with slixmpp-ping-c's (``--impl ours``), then
   compares their throughput.

Prosody is stopped at the end, also on Ctrl-C or an error.  Exit status: 0,
1 when a run did not go as expected, 130 when interrupted.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import slixmpp

import slixmpp_ping_c  # (bob answers with our plugin)
from slixmpp_ping_c.session import Session, client_session
from tests.prosody import Prosody, ProsodyError

ROOT = Path(__file__).resolve().parent.parent

PASSWORDS = {'alice': 'alice-demo-pw', 'bob': 'bob-demo-pw'}
BOB_RESOURCE = 'demo'
FLOOD = 5000
THROUGHPUT = re.compile(r'(?P<received>\d+) of (?P<n>\d+) pings answered in '
                        r'(?P<seconds>\d+\.\d+) s: (?P<rate>\d+) pings/s')


class DemoError(Exception):
    """A run that did not go as expected."""


class Interrupted(Exception):
    """Ctrl-C."""


@dataclass
class Flood:
    impl: str
    received: int
    n: int
    seconds: float
    rate: int


def say(text: str = '') -> None:
    print(text, flush=True)


def interpreter() -> str:
    """sys.executable, relative to the working directory when inside it."""
    path = Path(sys.executable)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class Runner:
    """Runs slixmpp-ping as a subprocess, echoing its output; forwards one
    Ctrl-C to it (it prints its summary and ends) and remembers it."""

    def __init__(self) -> None:
        self.server: Prosody | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.interrupted = False
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._on_sigint)

    def _on_sigint(self) -> None:
        self.interrupted = True
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)

    def check(self) -> None:
        if self.interrupted:
            raise Interrupted

    def argv(self, *args: str) -> list[str]:
        assert self.server is not None
        return ['-m', 'slixmpp_ping_c', '--no-tls', '--host', self.server.host,
                '--port', str(self.server.c2s_port), '--jid', 'alice@localhost', *args]

    async def run(self, *args: str) -> tuple[int, list[str]]:
        """The exit status and the lines printed on stdout."""
        self.check()
        argv = self.argv(*args)
        say(f'$ XMPP_PASSWORD={PASSWORDS["alice"]} '
            f'{shlex.join([interpreter(), *argv])}')
        env = {**os.environ, 'XMPP_PASSWORD': PASSWORDS['alice'],
               'PYTHONPATH': os.pathsep.join(filter(None, [str(ROOT), os.environ.get('PYTHONPATH')]))}
        # Its own session: a Ctrl-C reaches it once, through _on_sigint.
        # stderr stays the terminal's (the flood's progress bar).
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, *argv, env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, start_new_session=True)
        assert self.process.stdout is not None
        lines = []
        async for raw in self.process.stdout:
            line = raw.decode().rstrip('\n')
            lines.append(line)
            say(f'  {line}' if line else '')
        status = await self.process.wait()
        self.process = None
        say()
        self.check()
        return status, lines


async def bob_online(server: Prosody) -> Session:
    bob = slixmpp.ClientXMPP(f'bob@{server.domain}/{BOB_RESOURCE}', PASSWORDS['bob'])
    bob.register_plugin('xep_0199')
    assert isinstance(bob.plugin['xep_0199'], slixmpp_ping_c.XEP_0199)
    return await client_session(bob, server.host, server.c2s_port, no_tls=True, timeout=10)


async def pings(runner: Runner, target: str) -> None:
    status, _ = await runner.run('-c', '3', '-i', '0.5', target)
    if status != 0:
        raise DemoError(f'slixmpp-ping {target} exited with status {status}')


async def flood(runner: Runner, impl: str) -> Flood:
    status, lines = await runner.run('--flood', str(FLOOD), '--impl', impl, 'localhost')
    found = [m for m in map(THROUGHPUT.fullmatch, lines) if m]
    if status != 0 or not found:
        raise DemoError(f'slixmpp-ping --flood --impl {impl} exited with status {status}')
    m = found[0]
    return Flood(impl, int(m['received']), int(m['n']), float(m['seconds']), int(m['rate']))


def comparison(theirs: Flood, ours: Flood) -> list[str]:
    rows = [('', 'slixmpp', 'slixmpp-ping-c'),
            ('pings answered', f'{theirs.received}/{theirs.n}', f'{ours.received}/{ours.n}'),
            ('wall time', f'{theirs.seconds:.3f} s', f'{ours.seconds:.3f} s'),
            ('throughput', f'{theirs.rate} pings/s', f'{ours.rate} pings/s')]
    table = [f'  {a:<16}{b:>18}{c_:>22}' for a, b, c_ in rows]
    ratio = ours.rate / theirs.rate if theirs.rate else float('inf')
    return [f'{FLOOD} concurrent pings to the server, one client:', *table, '',
            f'slixmpp {theirs.rate} vs slixmpp-ping-c {ours.rate} pings/s: {ratio:.1f}× faster']


async def demo() -> None:
    runner = Runner()
    with Prosody(accounts=PASSWORDS) as server:
        runner.server = server
        runner.check()
        say(f'Prosody on {server.host}:{server.c2s_port} (a throwaway one, in {server.dir}), '
            f'accounts alice and bob; slixmpp {slixmpp.__version__}')
        bob_session = await bob_online(server)
        bob = bob_session.xmpp
        runner.check()
        say(f'bob is online as {bob.boundjid.full} (a slixmpp client in this process, '
            'with slixmpp-ping-c\'s plugin); alice pings with slixmpp-ping.')
        say()
        try:
            say('# 1. ping the server, then another account (answered by its client)')
            await pings(runner, server.domain)
            await pings(runner, bob.boundjid.full)
            say(f'# 2. {FLOOD} pings at once: slixmpp\'s own plugin, then slixmpp-ping-c\'s')
            say('#    (slixmpp\'s matches every answer against every ping in flight: '
                'this takes a while)')
            theirs = await flood(runner, 'slixmpp')
            ours = await flood(runner, 'ours')
            for line in comparison(theirs, ours):
                say(line)
        finally:
            await bob_session.close()
    say('Prosody stopped.')


def main() -> int:
    try:
        asyncio.run(demo())
    except (Interrupted, KeyboardInterrupt):
        say('demo interrupted; Prosody stopped')
        return 130
    except (DemoError, ProsodyError) as exc:
        print(f'demo: {exc}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
