"""Benchmarks of slixmpp's XEP-0199 plugin and slixmpp_ping_c's, side by
side in one run, on the in-memory transport of tests/memstream.py; then
end to end through a throwaway Prosody and a throwaway ejabberd, with a
bare-socket client too, and floods under ejabberd's mod_ping
(benchmarks/e2e.py).

    python -m benchmarks.run [--quick] [--no-e2e] [--json PATH] [--plot PATH]

Prints one table, writes the raw figures as JSON (benchmarks/results.json)
and plots the cost of ping() against the pings in flight
(benchmarks/ping_cost.png).  Targets are reported, never asserted.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import functools
import gc
import json
import os
import platform
import statistics
import time
import timeit
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import e2e, harness, report, tax
from benchmarks.harness import (IMPLEMENTATIONS, FullCollections, Written, fresh_client,
                                late_client, reads)

import slixmpp
from slixmpp.xmlstream import ET, tostring
from slixmpp.xmlstream.matcher import StanzaPath
from slixmpp_ping_c._core import reply_to_ping

HERE = Path(__file__).resolve().parent
IMPLS = tuple(IMPLEMENTATIONS)  # ('slixmpp', 'ours')


@dataclass
class Sizes:
    incoming: dict[str, int]
    round_trip: dict[str, list[int]]
    memory: int
    #: benchmarks.tax's processes, rounds and messages a block
    message_processes: int
    message_rounds: int
    message_block: int
    #: pings per implementation a point of the round trip may repeat to
    repeat_budget: dict[str, int]
    #: distinct JIDs pinged by ping_many() and by gathered ping() calls
    ping_many: int = 10_000
    pongs_per_read: int = 100


FULL = Sizes(
    incoming={'slixmpp': 5_000, 'ours': 20_000},
    round_trip={'slixmpp': [1_000, 3_000, 10_000],
                'ours': [1_000, 3_000, 10_000, 30_000, 100_000]},
    memory=10_000, message_processes=10, message_rounds=20, message_block=2_000,
    repeat_budget={'slixmpp': 3_000, 'ours': 300_000})
QUICK = Sizes(
    incoming={'slixmpp': 500, 'ours': 2_000},
    round_trip={'slixmpp': [100, 300], 'ours': [100, 300, 1_000, 3_000]},
    memory=1_000, message_processes=2, message_rounds=4, message_block=250,
    repeat_budget={'slixmpp': 300, 'ours': 3_000}, ping_many=1_000)


def us_per(seconds: float, n: int) -> float:
    return seconds / n * 1e6


# ---- 1. incoming pings --------------------------------------------------

async def incoming_pings(impl: str, n: int, *, late: bool = False,
                         warm_up: int = 0) -> float:
    """µs per ping request fed as its own read, until every reply has
    been written; late: the plugin registered in session_start; warm_up:
    pings answered (the loop run between them) before."""
    data = [harness.ping_request(f'p{i}').encode() for i in range(n)]
    async with (late_client if late else fresh_client)(impl) as stream:
        written = Written(stream)
        feed = stream.xmpp.data_received
        for i in range(warm_up):
            feed(harness.ping_request(f'warm-up{i}').encode())
            await written.until(i + 1)
        written.count = 0
        start = time.perf_counter()
        for read in data:
            feed(read)
        await written.until(n)
        return us_per(time.perf_counter() - start, n)


async def registered_late(sizes: Sizes, runs: int = 3) -> dict[str, Any]:
    """Incoming pings with the plugin registered in session_start (ours
    starts its fast path at the first proven point), against ours
    registered before connecting and slixmpp's registered late: medians of
    interleaved runs, the same N for all three.  Two pings, answered with
    the loop run between them, come first: fed back to back without that,
    the answers slixmpp queued for the pings before the proven point
    would hold every later answer of ours behind them (the tap never
    overtakes slixmpp's send queue)."""
    n = sizes.incoming['slixmpp']
    variants = {'slixmpp_late': ('slixmpp', True), 'ours_late': ('ours', True),
                'ours_early': ('ours', False)}
    values: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, (impl, late) in variants.items():
            values[name].append(await incoming_pings(impl, n, late=late,
                                                     warm_up=2))
    return {'n': n, **{name: {'median': statistics.median(v), 'runs': v}
                       for name, v in values.items()}}


# ---- 2. ping() round trips -------------------------------------------------

async def answer_all(stream: Any, written: Written, per_read: int,
                     done: Awaitable[Any]) -> tuple[Any, float]:
    """Feed a pong to every ping written, in reads of per_read pongs, and
    await done: (its result, seconds), the building of the pongs left
    out."""
    answers = reads([harness.pong(id_) for id_ in written.ids()], per_read)
    feed = stream.xmpp.data_received
    start = time.perf_counter()
    for read in answers:
        feed(read)
    result = await done
    return result, time.perf_counter() - start


async def round_trip(impl: str, n: int, *, per_read: int
                     ) -> dict[str, float]:
    """N ping() tasks in flight at once, answered in reads of per_read
    pongs; µs per ping, the building of the pongs left out.  Also the RSS
    growth per ping in flight (a lower bound only: memory freed by earlier
    runs is reused)."""
    async with fresh_client(impl) as stream:
        written = Written(stream)
        rss = harness.rss_bytes()
        with FullCollections() as collections:
            start = time.perf_counter()
            tasks = harness.send_pings(stream.ping_plugin, n)
            await written.until(n)
            send = time.perf_counter() - start
            rss = harness.rss_bytes() - rss
            rtts, complete = await answer_all(stream, written, per_read,
                                              asyncio.gather(*tasks))
        assert len(rtts) == n and all(isinstance(r, float) for r in rtts)
    return {'us_per_ping': us_per(send + complete, n),
            'send_us': us_per(send, n), 'complete_us': us_per(complete, n),
            'rss_bytes_per_ping': rss / n,
            'full_collections': collections.count}


async def asyncio_floor(n: int) -> dict[str, float]:
    """N tasks each awaiting a future that set_result completes: what any
    ping() costs at least, µs per task."""
    async def wait(future: asyncio.Future[float]) -> float:
        return await future

    loop = asyncio.get_running_loop()
    gc.collect()
    with FullCollections() as collections:
        start = time.perf_counter()
        futures = [loop.create_future() for _ in range(n)]
        tasks = [asyncio.create_task(wait(f)) for f in futures]
        await asyncio.sleep(0)
        for future in futures:
            future.set_result(0.0)
        await asyncio.gather(*tasks)
        seconds = time.perf_counter() - start
    return {'us_per_ping': us_per(seconds, n),
            'full_collections': collections.count}


@contextmanager
def gc_disabled() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def round_trips(sizes: Sizes) -> dict[str, Any]:
    """Each implementation at its sizes and the asyncio floor at all of
    them, the median of up to 5 runs (as many as repeat_budget allows);
    then ours and the floor at the smallest and largest size again with
    the cyclic GC off, to tell the plugin's growth from the GC's."""
    measures: dict[str, Callable[[int], Awaitable[dict[str, float]]]] = {
        impl: functools.partial(round_trip, impl,
                                per_read=sizes.pongs_per_read)
        for impl in IMPLS}
    measures['asyncio_floor'] = asyncio_floor

    async def point(name: str, n: int) -> dict[str, Any]:
        budget = sizes.repeat_budget.get(name, sizes.repeat_budget['ours'])
        samples = [await measures[name](n)
                   for _ in range(max(1, min(5, budget // n)))]
        return {'n': n, **{key: statistics.median(s[key] for s in samples)
                           for key in samples[0]}, 'runs': samples}

    sizes_of = dict(sizes.round_trip)
    sizes_of['asyncio_floor'] = sorted(set().union(*sizes_of.values()))
    result: dict[str, Any] = {name: [await point(name, n) for n in ns]
                              for name, ns in sizes_of.items()}
    ends = (sizes.round_trip['ours'][0], sizes.round_trip['ours'][-1])
    with gc_disabled():
        result['gc_off'] = {name: [await point(name, n) for n in ends]
                            for name in ('ours', 'asyncio_floor')}
    return result


# ---- 2b. ping_many() against gathered ping() calls --------------------------

async def many_jids(how: str, n: int, *, per_read: int) -> float:
    """µs per JID to ping n distinct JIDs at once and have every answer:
    ping_many(), or asyncio.gather() of one ping() per JID."""
    targets = [f'user{i}@example.net/r' for i in range(n)]
    async with fresh_client('ours') as stream:
        plugin = stream.ping_plugin
        written = Written(stream)
        start = time.perf_counter()
        if how == 'ping_many':
            done = asyncio.ensure_future(
                plugin.ping_many(targets, timeout=harness.PING_TIMEOUT))
        else:
            done = asyncio.gather(*(plugin.ping(jid, timeout=harness.PING_TIMEOUT)
                                    for jid in targets))
        await written.until(n)
        send = time.perf_counter() - start
        rtts, complete = await answer_all(stream, written, per_read, done)
        values = rtts.values() if isinstance(rtts, dict) else rtts
        assert len(values) == n and all(isinstance(r, float) for r in values)
    return us_per(send + complete, n)


async def ping_many_cost(sizes: Sizes, runs: int = 5) -> dict[str, Any]:
    """ping_many() and gathered ping() calls, A B A B ..., the median of
    each."""
    values: dict[str, list[float]] = {'ping_many': [], 'gather_ping': []}
    for _ in range(runs):
        for how in values:
            values[how].append(await many_jids(
                how, sizes.ping_many, per_read=sizes.pongs_per_read))
    return {'n': sizes.ping_many,
            **{how: {'median': statistics.median(v), 'runs': v}
               for how, v in values.items()}}


# ---- 3. memory per ping in flight ----------------------------------------

async def memory_in_flight(impl: str, n: int, *, distinct: bool = False
                           ) -> float:
    """Bytes per ping in flight, the caller's task counted (tracemalloc,
    the transport's own buffers left out), to one JID or (distinct) to n.  The pings are then abandoned
    (tasks cancelled, client dropped), not answered: slixmpp takes minutes
    to complete 10,000 pings, and this runs last."""
    async with fresh_client(impl, check_pending=False) as stream:
        written = Written(stream)
        tracemalloc.start()
        before = _traced()
        tasks = harness.send_pings(stream.ping_plugin, n, distinct=distinct)
        await written.until(n)
        gc.collect()
        grown = _traced() - before
        tracemalloc.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return grown / n


def _traced() -> int:
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, harness.TRANSPORT_FILE)])
    return sum(stat.size for stat in snapshot.statistics('filename'))


# ---- 4. other traffic -------------------------------------------------------

def other_traffic(sizes: Sizes) -> dict[str, Any]:
    """µs per chat message fed as its own read, each plugin idle and with
    a ping in flight: benchmarks.tax's blocks in new processes, since one
    process alone moves by about a point with where its objects lie.  The
    slowdown is the median over the processes of ours to slixmpp's."""
    runs = tax.in_processes(sizes.message_processes, sizes.message_rounds,
                            sizes.message_block)

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)
    return {'slowdown': median('ours ratio') - 1,
            **{impl: {'median': median(impl)} for impl in IMPLS},
            'in_flight_slowdown': {
                impl: median(f'{impl}, a ping in flight ratio') - 1
                for impl in IMPLS},
            'processes': runs}


# ---- 5. one ping answered, bytes to bytes ---------------------------------

PING = (b"<iq type='get' id='abc123' from='example.com' "
        b"to='user@example.com/res'><ping xmlns='urn:xmpp:ping'/></iq>")
PING_PATH = StanzaPath('iq@type=get/ping')


def slixmpp_reply_to_ping(xmpp: Any, data: bytes) -> bytes | None:
    """slixmpp's way to the same: parse, build the stanza, match the ping
    handler's path, reply, serialize (no stream parser, no send queue)."""
    stanza = xmpp._build_stanza(ET.fromstring(data))
    if not PING_PATH.match(stanza):
        return None
    return tostring(stanza.reply().xml, xmlns=xmpp.default_ns, stream=xmpp,
                    top_level=True).encode()


def best_us(func: Callable[[], object], repeat: int) -> float:
    """timeit's best of ``repeat``, µs per call."""
    timer = timeit.Timer(func)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat, number)) / number * 1e6


async def one_reply(repeat: int) -> dict[str, float]:
    # slixmpp's parser sees stanzas inside the stream's default namespace.
    namespaced = PING.replace(b'<iq ', b"<iq xmlns='jabber:client' ", 1)
    async with fresh_client('slixmpp') as stream:
        theirs = best_us(
            lambda: slixmpp_reply_to_ping(stream.xmpp, namespaced), repeat)
    return {'slixmpp': theirs, 'ours': best_us(lambda: reply_to_ping(PING),
                                               repeat)}


# ---- running them all -----------------------------------------------------

async def interleaved(runs: int, measure: Callable[[str], Awaitable[float]]
                      ) -> dict[str, dict[str, Any]]:
    """Runs A B A B ..., the median of each implementation's runs."""
    values: dict[str, list[float]] = {impl: [] for impl in IMPLS}
    for _ in range(runs):
        for impl in IMPLS:
            values[impl].append(await measure(impl))
    return {impl: {'median': statistics.median(v), 'runs': v}
            for impl, v in values.items()}


async def measure_all(sizes: Sizes, quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    results['reply_to_ping_us'] = await one_reply(3 if quick else 7)
    results['incoming_us_per_ping'] = await interleaved(
        3, lambda impl: incoming_pings(impl, sizes.incoming[impl]))
    results['registered_late_us_per_ping'] = await registered_late(sizes)
    results['message_us_per_stanza'] = other_traffic(sizes)
    results['round_trip'] = await round_trips(sizes)
    results['ping_many_us_per_jid'] = await ping_many_cost(sizes)
    # Last: it leaves its pings to die with the event loop.
    results['memory_bytes_per_ping'] = await memory_rows(sizes)
    return results


async def memory_rows(sizes: Sizes) -> dict[str, Any]:
    """memory_in_flight for each implementation, to one JID and to
    distinct JIDs."""
    return {impl: await memory_in_flight(impl, sizes.memory) for impl in IMPLS} | {
        'distinct_jids': {impl: await memory_in_flight(impl, sizes.memory,
                                                       distinct=True)
                          for impl in IMPLS}}


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f
                       if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return {'platform': platform.platform(), 'machine': platform.machine(),
            'cpu': cpu, 'cpus': os.cpu_count(),
            'load_average': os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='small sizes, a smoke run of a few seconds')
    parser.add_argument('--json', type=Path, default=HERE / 'results.json',
                        help='where to write the raw figures')
    parser.add_argument('--plot', type=Path, default=HERE / 'ping_cost.png',
                        help='where to draw the round trip plot')
    parser.add_argument('--no-e2e', action='store_true',
                        help='leave out the end-to-end runs through the '
                             'servers')
    parser.add_argument('--only-late', action='store_true',
                        help='only the rows of the plugin registered in '
                             'session_start; prints them, writes nothing')
    parser.add_argument('--only-memory', action='store_true',
                        help='only the memory rows; prints them, writes '
                             'nothing')
    parser.add_argument('--only-cpu', action='store_true',
                        help='only the client CPU per ping through Prosody; '
                             'prints it, writes nothing')
    parser.add_argument('--only-ping-many', action='store_true',
                        help='only the ping_many row; prints it, writes '
                             'nothing')
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    # --only-<name>: one group of rows (how to measure it, its rows).
    only: dict[str, tuple[Callable[[], Awaitable[Any]],
                          Callable[[Any], list[report.Row]]]] = {
        'late': (lambda: registered_late(sizes), report.registered_late_rows),
        'memory': (lambda: memory_rows(sizes),
                   lambda result: report.memory_rows(result, sizes.memory)),
        'cpu': (lambda: e2e.client_cpu(e2e.CPU_N_QUICK if args.quick
                                       else e2e.CPU_N_FULL),
                report.client_cpu_rows),
        'ping_many': (lambda: ping_many_cost(sizes),
                      lambda result: [report.ping_many_row(result)]),
    }
    for name, (measure, rows) in only.items():
        if getattr(args, 'only_' + name):
            result = asyncio.run(measure())
            print(report.table(rows(result)))
            print(json.dumps(result, indent=2))
            return

    meta = {'date': datetime.datetime.now(datetime.UTC).isoformat(
                timespec='seconds'),
            'slixmpp': slixmpp.__version__,
            'python': platform.python_version(),
            'python_implementation': platform.python_implementation(),
            'quick': args.quick,
            'package': str(Path(harness.slixmpp_ping_c.__file__).parent),
            **machine()}
    start = time.perf_counter()
    results = asyncio.run(measure_all(sizes, args.quick))
    if not args.no_e2e:
        # Last, in event loops of their own: a fresh server per run.
        e2e_start = time.perf_counter()
        e2e_sizes = e2e.E2E_QUICK if args.quick else e2e.E2E_FULL
        results['e2e'] = asyncio.run(e2e.measure(e2e_sizes))
        results['client_cpu_us_per_ping'] = asyncio.run(e2e.client_cpu(
            e2e.CPU_N_QUICK if args.quick else e2e.CPU_N_FULL))
        results['e2e_ejabberd'] = asyncio.run(e2e.measure(
            e2e_sizes, 'ejabberd',
            e2e.FLOOD_QUICK if args.quick else e2e.FLOOD_FULL))
        meta['e2e_seconds'] = round(time.perf_counter() - e2e_start, 1)
    meta['seconds'] = round(time.perf_counter() - start, 1)
    results = {'meta': meta, 'sizes': asdict(sizes), **results}

    table_rows = report.rows(results)
    if 'client_cpu_us_per_ping' in results:
        table_rows += report.client_cpu_rows(results['client_cpu_us_per_ping'])
    for key in ('e2e', 'e2e_ejabberd'):
        if key in results:
            table_rows += report.e2e_rows(results[key])
            if 'flood_under_mod_ping' in results[key]:
                table_rows += report.flood_rows(
                    results[key]['flood_under_mod_ping'])
    results['table'] = [{**asdict(r), 'status': r.status} for r in table_rows]
    print(report.table(table_rows))
    if args.quick:
        print('\n--quick: sizes far below the targets\' own; the statuses '
              'mean little.')
    if 'e2e' in results:
        print(f'\nEnd to end: Prosody {results["e2e"]["version"]} on '
              'loopback with Nagle\'s algorithm off, and ejabberd '
              f'{results["e2e_ejabberd"]["version"]} with its mod_ping '
              'quiet, a fresh server and client per run, Stream Management '
              'off; wall time from the first ping sent to the last answer; '
              'CPU: the server\'s (all threads) and the client\'s CPU time '
              'over that wall time.  Under mod_ping: a fresh ejabberd per '
              'flood, killed = ejabberd closed the session for '
              '"ping_timeout", at = seconds after the first ping left; '
              f'{meta["e2e_seconds"]} s of the run.')
    print(f'\nslixmpp {meta["slixmpp"]}, Python {meta["python"]}, '
          f'{meta["cpu"]} × {meta["cpus"]}; {meta["seconds"]} s')
    args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False)
                         + '\n')
    report.plot(results, args.plot)
    print(f'wrote {args.json} and {args.plot}')


if __name__ == '__main__':
    main()
