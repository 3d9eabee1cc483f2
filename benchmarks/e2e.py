"""End to end: N concurrent pings from one client to a real server on
loopback, Prosody (tests/prosody.py) or ejabberd (tests/ejabberd.py), side
by side in one run: slixmpp's XEP-0199 plugin, slixmpp_ping_c's, and a
bare-socket client that logs in and pipelines the pings in one write
(benchmarks/bare_client.py).

    python -m benchmarks.e2e [--quick] [--server prosody|ejabberd] [--json PATH]

Each run gets a fresh server and a fresh client, so that no run's backlog
slows the next; Prosody runs with Nagle's algorithm off (PROSODY_CONFIG),
ejabberd with its mod_ping quiet during the run (EJABBERD_PING_INTERVAL).
Stream Management is off: neither client enables it.  The wall time runs
from the first ping sent to the last answer received: the N ping() tasks
(or the bare client's bytes) are made before the clock starts
('setup_seconds' in the results).
CPU shares are the CPU time used during that window divided by it:
the server's from /proc/<pid>/schedstat (or /proc/<pid>/stat; Prosody and
ejabberd's Erlang VM alike are one process), the client's (this process)
from getrusage.

With ejabberd, also a flood under its mod_ping (``flood_under_mod_ping``):
the server pings a client idle for 1 s and kills its session when the
answer takes over 10 s; each plugin floods it with N pings, and what
happens is recorded (kept or killed, when, how many answers, the longest
event-loop stall).  run.py puts these rows in `make bench`'s table.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# harness first: it says which tree's slixmpp_ping_c is measured.
from benchmarks.harness import IMPLEMENTATIONS

import slixmpp
from benchmarks.bare_client import BareClient
from slixmpp_ping_c.session import Session, client_session
from tests.memstream import use_ping_plugin
from tests.ejabberd import FLOOD_MOD_PING, Ejabberd
from tests.loopback_server import LoopbackServer, use_sasl_mechanism
from tests.prosody import Prosody

USER, PASSWORD = 'bench', 'bench-password'
IMPLS = ('slixmpp', 'ours', 'bare')
#: No ping may time out while being measured.
PING_TIMEOUT = 3600.0
#: How long a run may take at all: slixmpp's plugin needs 15-30 s for 5,000.
RUN_TIMEOUT = 600.0
LOGIN_TIMEOUT = 30.0
#: Prosody leaves Nagle's algorithm on by default: the last few answers of
#: a burst then wait for the client's delayed ACK, ~40 ms of dead time on
#: either side (100 pings: 46 ms with it, 7 ms without).  It caps nothing:
#: 50,000 pipelined pings are all answered, at the same rate, either way.
PROSODY_CONFIG = 'network_settings = { nagle = false }'
#: ejabberd's mod_ping pings a client idle this long (s): never during a run.
EJABBERD_PING_INTERVAL = 3600

_CLK_TCK = os.sysconf('SC_CLK_TCK')


@dataclass
class E2ESizes:
    #: the numbers of pings each implementation sends at once
    n: dict[str, list[int]]
    #: runs per point (the median is reported)
    runs: dict[str, int]


E2E_FULL = E2ESizes(
    n={'slixmpp': [1_000, 5_000], 'ours': [1_000, 5_000, 50_000],
       'bare': [1_000, 5_000, 50_000]},
    runs={'slixmpp': 1, 'ours': 3, 'bare': 3})
E2E_QUICK = E2ESizes(
    n={'slixmpp': [100, 300], 'ours': [100, 300, 1_000],
       'bare': [100, 300, 1_000]},
    runs={'slixmpp': 1, 'ours': 1, 'bare': 1})

#: The floods under ejabberd's mod_ping, per plugin (one run each).
FLOOD_FULL = {'slixmpp': [5_000], 'ours': [5_000, 50_000]}
FLOOD_QUICK = {'slixmpp': [1_000], 'ours': [1_000, 5_000]}


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads (Linux:
    ejabberd's Erlang VM runs a scheduler thread per core): the scheduler's
    own count in ns (/proc/<pid>/task/*/schedstat), else utime + stime from
    /proc/<pid>/stat, in clock ticks (10 ms: too coarse for runs of 0.1
    s)."""
    try:
        total = 0
        for task in os.listdir(f'/proc/{pid}/task'):
            with open(f'/proc/{pid}/task/{task}/schedstat') as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        pass
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss(pid: int) -> int:
    """A process's peak resident set size in bytes (VmHWM)."""
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    return 0


def new_server(kind: str, **options: int) -> LoopbackServer:
    """A fresh server of the kind ('prosody', 'ejabberd'), not started."""
    accounts = {USER: PASSWORD}
    if kind == 'ejabberd':
        return Ejabberd(accounts=accounts, **(
            options or {'ping_interval': EJABBERD_PING_INTERVAL}))
    assert kind == 'prosody', kind
    return Prosody(accounts=accounts, extra_config=PROSODY_CONFIG)


# ---- the clients --------------------------------------------------------------

async def slixmpp_client(impl: str, server: LoopbackServer) -> Session:
    """A ClientXMPP with ``impl``'s xep_0199 (and no Stream Management),
    its session started."""
    xmpp = slixmpp.ClientXMPP(server.jid(USER) + '/bench', PASSWORD)
    xmpp.register_plugin('xep_0030')
    with use_ping_plugin(IMPLEMENTATIONS[impl]):
        xmpp.register_plugin('xep_0199')
    use_sasl_mechanism(xmpp, server)
    return await client_session(xmpp, server.host, server.c2s_port,
                                no_tls=True, timeout=LOGIN_TIMEOUT)


async def plugin_flood(xmpp: slixmpp.ClientXMPP, domain: str, n: int,
                       on_start: Callable[[], object]) -> None:
    """N ping() tasks, all awaited; on_start is called once they are made,
    when the event loop is about to run them (the first ping leaves)."""
    plugin = xmpp.plugin['xep_0199']
    tasks = [asyncio.create_task(plugin.ping(domain, timeout=PING_TIMEOUT))
             for _ in range(n)]
    on_start()
    rtts = await asyncio.gather(*tasks)
    if len(rtts) != n or not all(isinstance(r, float) for r in rtts):
        raise RuntimeError(f'{len(rtts)} answers of {n}')


class Window:
    """The wall time and the CPU times of the server and of this process
    between open() and close()."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid
        self.opened = self.server_cpu = self.client_cpu = 0.0

    def open(self) -> None:
        self.server_cpu = process_cpu(self.pid)
        self.client_cpu = own_cpu()
        self.opened = time.perf_counter()

    def close(self) -> dict[str, float]:
        seconds = time.perf_counter() - self.opened
        return {'seconds': seconds,
                'server_cpu': (process_cpu(self.pid) - self.server_cpu)
                / seconds,
                'client_cpu': (own_cpu() - self.client_cpu) / seconds}


# ---- one run ------------------------------------------------------------------------

async def run_once(kind: str, impl: str, n: int) -> dict[str, Any]:
    """N concurrent pings from a fresh ``impl`` client to a fresh server of
    the ``kind``, timed from the first ping sent to the last answer."""
    with new_server(kind) as server:
        client: BareClient | None = None
        session: Session | None = None
        if impl == 'bare':
            client = await BareClient.connect(
                server.host, server.c2s_port, server.jid(USER), PASSWORD,
                timeout=LOGIN_TIMEOUT)
        else:
            session = await slixmpp_client(impl, server)
        window = Window(server.pid)
        gc.collect()
        made = time.perf_counter()
        if client is not None:
            await client.flood(n, timeout=RUN_TIMEOUT, on_start=window.open)
        else:
            assert session is not None
            await asyncio.wait_for(
                plugin_flood(session.xmpp, server.domain, n, window.open),
                RUN_TIMEOUT)
        figures = window.close()
        if client is not None:
            await client.close()
        else:
            assert session is not None
            if impl == 'ours' and session.xmpp.plugin['xep_0199'].pending():
                raise RuntimeError('pings left pending')
            await session.close()
        return {'n': n, **figures,
                'pings_per_s': n / figures['seconds'],
                # Making the N ping() tasks (or the bare client's bytes),
                # before the first ping leaves: not in 'seconds'.
                'setup_seconds': window.opened - made,
                'server_peak_rss': peak_rss(server.pid),
                'server_version': server.version(),
                'server_complaints': server.complaints()}


# ---- the client's CPU per ping ---------------------------------------------------

#: How the client-CPU rows flood Prosody: our plugin's ping() gathered, to
#: the server as the end-to-end rows do or to distinct JIDs as ping_many()
#: must (it pings each JID once), and the bare-socket client.
CPU_WAYS = ('gather', 'gather_distinct', 'ping_many', 'bare')
CPU_N_FULL, CPU_N_QUICK = 5_000, 500


async def client_cpu_once(way: str, n: int) -> float:
    """This process's CPU time (getrusage: user + system) per ping, in µs,
    for n pings at once to a fresh Prosody, from the first ping() call to
    the last answer: to its host ('gather', and the bare client, which
    builds its bytes inside the window too), or to n distinct JIDs (its
    host with a resource each, which Prosody answers itself)."""
    with new_server('prosody') as server:
        targets = ([server.domain] * n if way == 'gather' else
                   [f'{server.domain}/r{i}' for i in range(n)])
        if way == 'bare':
            async with await BareClient.connect(
                    server.host, server.c2s_port, server.jid(USER), PASSWORD,
                    timeout=LOGIN_TIMEOUT) as client:
                gc.collect()
                before = own_cpu()
                await client.flood(n, timeout=RUN_TIMEOUT)
                spent = own_cpu() - before
        else:
            session = await slixmpp_client('ours', server)
            plugin = session.xmpp.plugin['xep_0199']
            gc.collect()
            before = own_cpu()
            if way == 'ping_many':
                results = await asyncio.wait_for(
                    plugin.ping_many(targets, timeout=PING_TIMEOUT),
                    RUN_TIMEOUT)
                rtts = list(results.values())
            else:
                rtts = await asyncio.wait_for(asyncio.gather(
                    *(plugin.ping(jid, timeout=PING_TIMEOUT)
                      for jid in targets)), RUN_TIMEOUT)
            spent = own_cpu() - before
            await session.close()
            if len(rtts) != n or not all(isinstance(r, float) for r in rtts):
                raise RuntimeError(f'{way}: not {n} answers')
    return spent / n * 1e6


async def client_cpu(n: int, runs: int = 5) -> dict[str, Any]:
    """client_cpu_once for each way, A B C A B C ..., the median of each:
    five runs, as one run's CPU (about 60 ms) varies by a quarter."""
    values: dict[str, list[float]] = {way: [] for way in CPU_WAYS}
    for _ in range(runs):
        for way in CPU_WAYS:
            values[way].append(await client_cpu_once(way, n))
    return {'n': n, **{way: {'median': statistics.median(v), 'runs': v}
                       for way, v in values.items()}}


# ---- a flood under ejabberd's mod_ping -----------------------------------------

class LoopStalls:
    """The longest time the event loop did not run a task that asks to run
    every ``tick`` seconds: how long the loop was blocked at once."""

    def __init__(self, tick: float = 0.05) -> None:
        self.tick = tick
        self.longest = 0.0
        self._task = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.tick)
            self.longest = max(self.longest,
                               time.perf_counter() - before - self.tick)

    async def stop(self) -> float:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        return self.longest


def ping_timeouts(server: Ejabberd) -> list[float]:
    """When ejabberd closed a session for an unanswered ping (Unix
    times, from its log's UTC timestamps)."""
    return [datetime.fromisoformat(line.split(' [', 1)[0]).timestamp()
            for line in server.own_words().splitlines()
            if 'Connection failed: ping_timeout' in line
            and '@ejabberd_c2s' not in line]   # each line is logged twice


async def flood_under_mod_ping(impl: str, n: int) -> dict[str, Any]:
    """N concurrent pings from a fresh ``impl`` client to a fresh ejabberd
    that pings every client idle for 1 s and kills the session when the
    answer takes over 10 s (FLOOD_MOD_PING): whether the session is kept,
    when ejabberd killed it (after the first ping was sent), how many
    pings were answered, and the longest stall of the event loop."""
    with new_server('ejabberd', **FLOOD_MOD_PING) as server:
        assert isinstance(server, Ejabberd)
        session = await slixmpp_client(impl, server)
        xmpp = session.xmpp
        gone = asyncio.Event()
        xmpp.add_event_handler('disconnected', lambda event: gone.set())
        plugin = xmpp.plugin['xep_0199']
        stalls = LoopStalls()
        started = time.time()
        tasks = [asyncio.ensure_future(plugin.ping(server.domain,
                                                   timeout=PING_TIMEOUT))
                 for _ in range(n)]
        everything = asyncio.gather(*tasks, return_exceptions=True)
        gone_waiter = asyncio.ensure_future(gone.wait())
        await asyncio.wait([everything, gone_waiter], timeout=RUN_TIMEOUT,
                           return_when=asyncio.FIRST_COMPLETED)
        seconds = time.time() - started
        longest_stall = await stalls.stop()
        answered = sum(t.done() and not t.cancelled() and t.exception() is None
                       for t in tasks)
        kept = not gone.is_set() and answered == n
        resources = server.resources(USER) if kept else []
        killed = ping_timeouts(server)
        for task in tasks:
            task.cancel()
        await asyncio.gather(everything, return_exceptions=True)
        gone_waiter.cancel()
        result = {
            'n': n, 'kept': kept and len(resources) == 1,
            'answered': answered, 'seconds': seconds,
            'killed_after': killed[0] - started if killed else None,
            'longest_loop_stall': longest_stall,
            'server_pings_answered_in_c':
                plugin._tap.counters()[0] if impl == 'ours' else None,
            'server_complaints': server.complaints()}
        await session.close()
        return result


# ---- all of it ----------------------------------------------------------------------

async def measure(sizes: E2ESizes, kind: str = 'prosody',
                  floods: dict[str, list[int]] | None = None
                  ) -> dict[str, Any]:
    """Every point, repetitions interleaved (all implementations at one N,
    then the next N, then the next round); the median of each point's
    runs.  With ejabberd, then the floods under its mod_ping, each N once
    per plugin."""
    all_n = sorted(set().union(*sizes.n.values()))
    samples: dict[str, dict[int, list[dict[str, Any]]]] = {
        impl: {n: [] for n in sizes.n[impl]} for impl in IMPLS}
    start = time.perf_counter()
    for round_ in range(max(sizes.runs.values())):
        for n in all_n:
            for impl in IMPLS:
                if n in sizes.n[impl] and round_ < sizes.runs[impl]:
                    samples[impl][n].append(await run_once(kind, impl, n))
    points: dict[str, list[dict[str, Any]]] = {}
    complaints: list[str] = []
    version = 'unknown'
    for impl in IMPLS:
        points[impl] = []
        for n, runs in samples[impl].items():
            for run in runs:
                complaints += run.pop('server_complaints')
                version = run.pop('server_version')
            points[impl].append({
                'n': n,
                **{key: statistics.median(r[key] for r in runs)
                   for key in ('seconds', 'pings_per_s', 'server_cpu',
                               'client_cpu', 'setup_seconds',
                               'server_peak_rss')},
                'runs': runs})
    return {'server': kind, 'version': version,
            'config': (PROSODY_CONFIG if kind == 'prosody' else
                       f'mod_ping ping_interval: {EJABBERD_PING_INTERVAL}'),
            'stream_management': False,
            'ping_bytes': len("<iq type='get' id='p0' to='localhost'>"
                              "<ping xmlns='urn:xmpp:ping'/></iq>"),
            'server_complaints': complaints,
            'seconds_total': time.perf_counter() - start,
            'sizes': asdict(sizes), **points,
            **({'flood_under_mod_ping': {
                'mod_ping': FLOOD_MOD_PING,
                **{impl: [await flood_under_mod_ping(impl, n) for n in ns]
                   for impl, ns in floods.items()}}}
               if floods and kind == 'ejabberd' else {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--server', choices=('prosody', 'ejabberd'),
                        default='prosody')
    parser.add_argument('--json', type=Path,
                        help='where to write the raw figures')
    args = parser.parse_args()
    from benchmarks import report
    results = asyncio.run(measure(
        E2E_QUICK if args.quick else E2E_FULL, args.server,
        FLOOD_QUICK if args.quick else FLOOD_FULL))
    rows = report.e2e_rows(results)
    if 'flood_under_mod_ping' in results:
        rows += report.flood_rows(results['flood_under_mod_ping'])
    print(report.table(rows))
    print(f"\n{args.server} {results['version']}, "
          f"{results['seconds_total']:.1f} s in all; its warnings: "
          f"{len(results['server_complaints'])}")
    if args.json:
        results = {'meta': {
            'date': datetime.now(UTC).isoformat(timespec='seconds'),
            'slixmpp': slixmpp.__version__,
            'python': platform.python_version(),
            'load_average': os.getloadavg()}, **results}
        args.json.write_text(json.dumps(results, indent=2) + '\n')


if __name__ == '__main__':
    main()
