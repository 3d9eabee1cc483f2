"""End to end: N concurrent pings from one client to a real Prosody on
loopback (tests/prosody.py), side by side in one run: slixmpp's XEP-0199
plugin, slixmpp_ping_c's, and a bare-socket client that logs in and
pipelines the pings in one write (benchmarks/bare_client.py).

    python benchmarks/e2e.py [--quick]

Each run gets a fresh Prosody and a fresh client, so that no run's backlog
slows the next; Prosody runs with Nagle's algorithm off (PROSODY_CONFIG).
Stream Management is off: neither client enables it.  The wall time runs
from the first ping sent to the last answer received: the N ping() tasks
(or the bare client's bytes) are made before the clock starts
('setup_seconds' in the results).
CPU shares are the CPU time used during that window divided by it:
Prosody's from /proc/<pid>/schedstat (or /proc/<pid>/stat), the client's
(this process) from getrusage.  run.py puts these rows in `make bench`'s table.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

# harness puts the project and tests/ on sys.path.
from harness import IMPLEMENTATIONS

import slixmpp
from bare_client import BareClient
from memstream import use_ping_plugin
from prosody import Prosody, connect_client

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


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a single-threaded process (Linux):
    the scheduler's own count in ns (/proc/<pid>/schedstat), else utime +
    stime from /proc/<pid>/stat, in clock ticks (10 ms: too coarse for
    runs of 0.1 s)."""
    try:
        with open(f'/proc/{pid}/schedstat') as f:
            return int(f.read().split()[0]) / 1e9
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


def log_complaints(server: Prosody) -> list[str]:
    """Prosody's warnings and errors so far."""
    text = server.log_path.read_text(errors='replace')
    return [line for line in text.splitlines()
            if re.search(r'\t(warn|error)\t', line)]


def prosody_version(server: Prosody) -> str:
    match = re.search(r'Prosody version (\S+)',
                      server.log_path.read_text(errors='replace'))
    return match.group(1) if match else 'unknown'


# ---- the clients --------------------------------------------------------------

async def slixmpp_client(impl: str, server: Prosody) -> slixmpp.ClientXMPP:
    """A ClientXMPP with ``impl``'s xep_0199 (and no Stream Management),
    its session started."""
    xmpp = slixmpp.ClientXMPP(server.jid(USER) + '/bench', PASSWORD)
    xmpp.register_plugin('xep_0030')
    with use_ping_plugin(IMPLEMENTATIONS[impl]):
        xmpp.register_plugin('xep_0199')
    loop = asyncio.get_running_loop()
    started: asyncio.Future[None] = loop.create_future()

    def done(error: str | None = None) -> None:
        if not started.done():
            if error is None:
                started.set_result(None)
            else:
                started.set_exception(RuntimeError(error))
    xmpp.add_event_handler('session_start', lambda event: done())
    xmpp.add_event_handler('failed_auth',
                           lambda event: done('authentication failed'))
    xmpp.add_event_handler('connection_failed',
                           lambda event: done(f'connection failed: {event}'))
    connect_client(xmpp, server)
    await asyncio.wait_for(started, LOGIN_TIMEOUT)
    return xmpp


async def disconnect(xmpp: slixmpp.ClientXMPP) -> None:
    gone = asyncio.Event()
    xmpp.add_event_handler('disconnected', lambda event: gone.set())
    xmpp.disconnect()
    try:
        await asyncio.wait_for(gone.wait(), 10)
    except TimeoutError:
        xmpp.abort()
    # slixmpp cancels its send loop only when the client is garbage
    # collected, and asyncio then warns that a pending task was destroyed.
    sender = getattr(xmpp, '_run_out_filters', None)
    if sender is not None and not sender.done():
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)


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
    """The wall time and the CPU times of Prosody and of this process
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
                'prosody_cpu': (process_cpu(self.pid) - self.server_cpu)
                / seconds,
                'client_cpu': (own_cpu() - self.client_cpu) / seconds}


# ---- one run ------------------------------------------------------------------------

async def run_once(impl: str, n: int) -> dict[str, Any]:
    """N concurrent pings from a fresh ``impl`` client to a fresh Prosody,
    timed from the first ping sent to the last answer."""
    with Prosody(accounts={USER: PASSWORD},
                 extra_config=PROSODY_CONFIG) as server:
        client: BareClient | None = None
        xmpp: slixmpp.ClientXMPP | None = None
        if impl == 'bare':
            client = await BareClient.connect(
                server.host, server.c2s_port, server.jid(USER), PASSWORD,
                timeout=LOGIN_TIMEOUT)
        else:
            xmpp = await slixmpp_client(impl, server)
        window = Window(server.pid)
        gc.collect()
        made = time.perf_counter()
        if client is not None:
            await client.flood(n, timeout=RUN_TIMEOUT, on_start=window.open)
        else:
            assert xmpp is not None
            await asyncio.wait_for(
                plugin_flood(xmpp, server.domain, n, window.open),
                RUN_TIMEOUT)
        figures = window.close()
        if client is not None:
            await client.close()
        else:
            assert xmpp is not None
            if impl == 'ours' and xmpp.plugin['xep_0199'].pending():
                raise RuntimeError('pings left pending')
            await disconnect(xmpp)
        return {'n': n, **figures,
                'pings_per_s': n / figures['seconds'],
                # Making the N ping() tasks (or the bare client's bytes),
                # before the first ping leaves: not in 'seconds'.
                'setup_seconds': window.opened - made,
                'prosody_peak_rss': peak_rss(server.pid),
                'prosody_version': prosody_version(server),
                'prosody_complaints': log_complaints(server)}


async def measure(sizes: E2ESizes) -> dict[str, Any]:
    """Every point, repetitions interleaved (all implementations at one N,
    then the next N, then the next round); the median of each point's
    runs."""
    all_n = sorted(set().union(*sizes.n.values()))
    samples: dict[str, dict[int, list[dict[str, Any]]]] = {
        impl: {n: [] for n in sizes.n[impl]} for impl in IMPLS}
    start = time.perf_counter()
    for round_ in range(max(sizes.runs.values())):
        for n in all_n:
            for impl in IMPLS:
                if n in sizes.n[impl] and round_ < sizes.runs[impl]:
                    samples[impl][n].append(await run_once(impl, n))
    points: dict[str, list[dict[str, Any]]] = {}
    complaints: list[str] = []
    version = 'unknown'
    for impl in IMPLS:
        points[impl] = []
        for n, runs in samples[impl].items():
            for run in runs:
                complaints += run.pop('prosody_complaints')
                version = run.pop('prosody_version')
            points[impl].append({
                'n': n,
                **{key: statistics.median(r[key] for r in runs)
                   for key in ('seconds', 'pings_per_s', 'prosody_cpu',
                               'client_cpu', 'setup_seconds',
                               'prosody_peak_rss')},
                'runs': runs})
    return {'prosody': version, 'prosody_config': PROSODY_CONFIG,
            'stream_management': False,
            'ping_bytes': len("<iq type='get' id='p0' to='localhost'>"
                              "<ping xmlns='urn:xmpp:ping'/></iq>"),
            'prosody_complaints': complaints,
            'seconds_total': time.perf_counter() - start,
            'sizes': asdict(sizes), **points}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true')
    args = parser.parse_args()
    import report
    results = asyncio.run(measure(E2E_QUICK if args.quick else E2E_FULL))
    print(report.table(report.e2e_rows(results)))
    print(f"\nProsody {results['prosody']}, "
          f"{results['seconds_total']:.1f} s in all; Prosody's warnings: "
          f"{len(results['prosody_complaints'])}")


if __name__ == '__main__':
    main()
