"""The benchmarks' table (figures against their targets) and plot."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: 1.3 KiB, the memory target per ping in flight.
MEMORY_TARGET = 1331
#: Per ping in flight to distinct JIDs (a gateway pinging its users).
DISTINCT_MEMORY_TARGET = 1300
#: The client's own CPU per ping end to end through Prosody (µs).
CPU_GATHER_TARGET = 15
CPU_PING_MANY_TARGET = 10


#: The end-to-end targets: ours against the bare-socket client, and against
#: slixmpp's plugin at the largest N both run.
E2E_BARE_TARGET = 1.5
E2E_SLIXMPP_TARGET = 50

#: How the end-to-end rows name the servers (benchmarks/e2e.py).
SERVER_NAMES = {'prosody': 'Prosody', 'ejabberd': 'ejabberd'}


@dataclass
class Row:
    measurement: str
    slixmpp: float | str | None
    ours: float | str | None
    ratio: str
    target: str
    met: bool | None  # None: no target
    #: the bare-socket client's figure (end-to-end rows only)
    bare: float | str | None = None

    @property
    def status(self) -> str:
        return {True: 'met', False: 'NOT MET', None: ''}[self.met]


def _num(value: float | str | None) -> str:
    if value is None:
        return '—'
    if isinstance(value, str):
        return value
    if abs(value) >= 100:
        return f'{value:,.0f}'
    return f'{value:.1f}' if abs(value) >= 10 else f'{value:.2f}'


def _point(points: list[dict[str, Any]], n: int) -> dict[str, Any]:
    return next(p for p in points if p['n'] == n)


def _speedup(slixmpp: float, ours: float, n: str, unit: str,
             target: float | None) -> Row:
    ratio = slixmpp / ours
    return Row(f'{n}{unit}', slixmpp, ours, f'{ratio:,.1f}× faster',
               f'≥ {target:g}× faster' if target else '',
               None if target is None else ratio >= target)


def registered_late_rows(late: dict[str, Any]) -> list[Row]:
    """Incoming pings, the plugin registered in session_start: slixmpp's
    against ours, and ours against ours registered before connecting."""
    theirs, ours = late['slixmpp_late']['median'], late['ours_late']['median']
    early = late['ours_early']['median']
    return [Row(f'incoming ping, registered in session_start, {late["n"]:,} '
                '(µs/ping)', theirs, ours, f'{theirs / ours:,.1f}× faster',
                '', None),
            Row('  ours registered before connecting (µs/ping)', None, early,
                f'late = {ours / early:.2f}× early', '', None)]


def rows(results: dict[str, Any]) -> list[Row]:
    out: list[Row] = []
    incoming = results['incoming_us_per_ping']
    out.append(_speedup(incoming['slixmpp']['median'],
                        incoming['ours']['median'],
                        'incoming ping answered', ' (µs/ping)', 30))

    trips = results['round_trip']
    common = sorted({p['n'] for p in trips['slixmpp']}
                    & {p['n'] for p in trips['ours']})
    out.extend(_speedup(_point(trips['slixmpp'], n)['us_per_ping'],
                        _point(trips['ours'], n)['us_per_ping'],
                        f'ping() round trip, {n:,} in flight',
                        ' (µs/ping)', 100 if n == common[-1] else None)
               for n in common)
    smallest, largest = trips['ours'][0], trips['ours'][-1]
    growth = largest['us_per_ping'] / smallest['us_per_ping']
    out.append(Row(f'ping() round trip, {largest["n"]:,} in flight (µs/ping)',
                   None, largest['us_per_ping'],
                   f'{growth:.2f}× ours at {smallest["n"]:,}',
                   f'≤ 2× ours at {smallest["n"]:,}', growth <= 2))
    gc_off = trips['gc_off']['ours']
    out.append(Row('  the same, cyclic GC off (µs/ping)', None,
                   gc_off[-1]['us_per_ping'],
                   f'{gc_off[-1]["us_per_ping"] / gc_off[0]["us_per_ping"]:.2f}'
                   f'× ours at {smallest["n"]:,}, GC off', '', None))
    floors = trips['asyncio_floor']
    for n in (common[-1], largest['n']):
        floor = _point(floors, n)['us_per_ping']
        ours = _point(trips['ours'], n)['us_per_ping']
        out.append(Row(f'  asyncio floor (task + future), {n:,} (µs/ping)',
                       None, floor, f'ours = {ours / floor:.1f}× floor',
                       '', None))
    # What no `await ping()` can go below at the largest size, against the
    # baseline of the growth target: the room the target leaves us.
    floor = _point(floors, largest['n'])['us_per_ping']
    out.append(Row(f'  asyncio floor alone, {largest["n"]:,}, against ours at '
                   f'{smallest["n"]:,}', None, None,
                   f'{floor / smallest["us_per_ping"]:.2f}× ours at '
                   f'{smallest["n"]:,}', '', None))
    # The same number of full collections for both says where it goes.
    counts = [f'{int(_point(points, n).get("full_collections", -1))}'
              for points in (trips['ours'], floors)
              for n in (smallest['n'], largest['n'])]
    out.append(Row(f'  full GC collections, {smallest["n"]:,} / '
                   f'{largest["n"]:,} in flight', None, None,
                   f'ours {counts[0]} / {counts[1]}, floor {counts[2]} / '
                   f'{counts[3]}', '', None))

    if 'registered_late_us_per_ping' in results:
        out.extend(registered_late_rows(results['registered_late_us_per_ping']))

    if 'ping_many_us_per_jid' in results:
        out.append(ping_many_row(results['ping_many_us_per_jid']))

    out.extend(memory_rows(results['memory_bytes_per_ping'],
                           results['sizes']['memory']))
    message = results['message_us_per_stanza']
    slower = message['slowdown']
    out.append(Row('other traffic: chat message (µs/stanza)',
                   message['slixmpp']['median'], message['ours']['median'],
                   f'{slower * 100:+.1f} %', '≤ +3 %', slower <= 0.03))
    if 'in_flight_slowdown' in message:
        # Each plugin with one ping in flight, against slixmpp's idle.
        in_flight = message['in_flight_slowdown']
        out.append(Row('  the same, a ping in flight (against slixmpp idle)',
                       f'{in_flight["slixmpp"] * 100:+.1f} %',
                       f'{in_flight["ours"] * 100:+.1f} %', '', '', None))

    reply = results['reply_to_ping_us']
    out.append(Row('one ping to its reply, bytes to bytes (µs/call)',
                   reply['slixmpp'], reply['ours'],
                   f'{reply["slixmpp"] / reply["ours"]:,.0f}× faster',
                   '≤ 1 µs', reply['ours'] <= 1))
    return out


def _secs(point: dict[str, Any] | None) -> str | None:
    """A wall time to three significant digits."""
    return None if point is None else f'{point["seconds"]:.3g}'


def e2e_rows(e2e: dict[str, Any]) -> list[Row]:
    """The end-to-end rows (benchmarks/e2e.py): per N, the wall time of
    each client with the speedup over slixmpp's plugin, ours against the
    bare socket, pings/s, and the CPU shares of the server and of the
    client.  The targets are Prosody's."""
    server = SERVER_NAMES[e2e['server']]
    judging = e2e['server'] == 'prosody'
    by_n = {impl: {p['n']: p for p in e2e[impl]}
            for impl in ('slixmpp', 'ours', 'bare')}
    common = sorted(set(by_n['slixmpp']) & set(by_n['ours']))
    out: list[Row] = []
    for n in sorted(set(by_n['ours']) & set(by_n['bare'])):
        theirs = by_n['slixmpp'].get(n)
        ours, bare = by_n['ours'][n], by_n['bare'][n]
        speedup = target = ''
        met = None
        if theirs is not None:
            ratio = theirs['seconds'] / ours['seconds']
            speedup = f'{ratio:,.1f}× faster'
            if n == common[-1] and judging:
                target = f'≥ {E2E_SLIXMPP_TARGET}× faster'
                met = ratio >= E2E_SLIXMPP_TARGET
        out.append(Row(f'end to end via {server}, {n:,} pings (s)',
                       _secs(theirs), _secs(ours), speedup, target, met,
                       bare=_secs(bare)))
        vs_bare = ours['seconds'] / bare['seconds']
        judged = judging and bool(common) and n >= common[-1]
        out.append(Row('  ours vs the bare socket', '', '',
                       f'{vs_bare:.2f}× bare',
                       f'≤ {E2E_BARE_TARGET:g}× bare' if judged else '',
                       vs_bare <= E2E_BARE_TARGET if judged else None))
        out.append(Row('  pings/s', theirs and round(theirs['pings_per_s']),
                       round(ours['pings_per_s']), '', '', None,
                       bare=round(bare['pings_per_s'])))

        def cpu(point: dict[str, Any] | None) -> str | None:
            if point is None:
                return None
            return (f'{point["server_cpu"] * 100:.0f} / '
                    f'{point["client_cpu"] * 100:.0f}')
        out.append(Row(f'  CPU, {server} / client (% of wall time)',
                       cpu(theirs), cpu(ours), '', '', None, bare=cpu(bare)))
    return out


def flood_rows(flood: dict[str, Any]) -> list[Row]:
    """A flood under ejabberd's mod_ping (benchmarks/e2e.py): per N, whether
    each plugin's session was kept or killed (and when), the answers it
    got, and the longest stall of its event loop."""
    by_n = {impl: {p['n']: p for p in flood[impl]} for impl in ('slixmpp', 'ours')}
    mod_ping = flood['mod_ping']

    def fate(point: dict[str, Any] | None) -> str | None:
        if point is None:
            return None
        if point['kept']:
            return f'kept, {point["seconds"]:.3g} s'
        after = point['killed_after']
        return 'killed' + ('' if after is None else f' at {after:.1f} s')

    out: list[Row] = []
    for n in sorted(set(by_n['slixmpp']) | set(by_n['ours'])):
        theirs, ours = by_n['slixmpp'].get(n), by_n['ours'].get(n)
        out.append(Row(f'{n:,} pings at once under ejabberd\'s mod_ping',
                       fate(theirs), fate(ours),
                       f'ping after {mod_ping["ping_interval"]} s idle, '
                       f'kill after {mod_ping["ping_ack_timeout"]} s', '', None))
        out.append(Row('  pings answered', theirs and f'{theirs["answered"]:,}',
                       ours and f'{ours["answered"]:,}', '', '', None))
        out.append(Row('  longest event-loop stall (s)',
                       theirs and theirs['longest_loop_stall'],
                       ours and ours['longest_loop_stall'], '', '', None))
    return out


def memory_rows(memory: dict[str, Any], n: int) -> list[Row]:
    """Bytes per ping in flight: n pings to one JID, and (when measured) to
    n distinct JIDs, as a gateway pings its users."""
    out = [Row(f'memory per ping in flight, {n:,} (B, tracemalloc)',
               memory['slixmpp'], memory['ours'],
               f'{memory["slixmpp"] / memory["ours"]:.1f}× less',
               f'≤ {MEMORY_TARGET:,} B (1.3 KiB)',
               memory['ours'] <= MEMORY_TARGET)]
    distinct = memory.get('distinct_jids')
    if distinct is not None:
        out.append(Row(f'  the same to {n:,} distinct JIDs (B)',
                       distinct['slixmpp'], distinct['ours'],
                       f'{distinct["slixmpp"] / distinct["ours"]:.1f}× less',
                       f'≤ {DISTINCT_MEMORY_TARGET:,} B',
                       distinct['ours'] <= DISTINCT_MEMORY_TARGET))
    return out


def client_cpu_rows(cpu: dict[str, Any]) -> list[Row]:
    """The client's own CPU per ping through Prosody (benchmarks/e2e.py):
    ours gathered and ours ping_many() beside the bare-socket client."""
    bare = cpu['bare']['median']
    out = []
    for way, label, target in (
            ('gather', 'ping() gathered', CPU_GATHER_TARGET),
            ('gather_distinct', '  the same to distinct JIDs', None),
            ('ping_many', '  ping_many() to distinct JIDs',
             CPU_PING_MANY_TARGET)):
        if way not in cpu:
            continue
        ours = cpu[way]['median']
        name = (f'client CPU per ping via Prosody, {cpu["n"]:,}, {label} (µs)'
                if way == 'gather' else f'{label} (µs)')
        out.append(Row(name, None, ours, f'{ours / bare:.1f}× bare',
                       '' if target is None else f'≤ {target:g} µs',
                       None if target is None else ours <= target,
                       bare=bare if way == 'gather' else None))
    return out


def ping_many_row(many: dict[str, Any]) -> Row:
    """ping_many() against asyncio.gather() of ping() calls, both ours:
    the target is no more per JID than a lone ping()."""
    pm, gathered = many['ping_many']['median'], many['gather_ping']['median']
    return Row(f'ping_many(), {many["n"]:,} JIDs (µs/JID)', None, pm,
               f'{pm / gathered:.2f}× gathered ping() ({_num(gathered)})',
               '≤ 1× gathered ping()', pm <= gathered)


def table(rows: list[Row]) -> str:
    header: tuple[str, ...] = ('measurement', 'slixmpp', 'ours', 'ratio',
                               'target', '')
    cells = [header] + [(r.measurement, _num(r.slixmpp), _num(r.ours),
                         r.ratio, r.target, r.status) for r in rows]
    right = {1, 2}
    if any(r.bare is not None for r in rows):
        # A column for the bare-socket client, after ours.
        header = (*header[:3], 'bare socket', *header[3:])
        cells = [header] + [
            (*c[:3], '' if r.bare is None else _num(r.bare), *c[3:])
            for r, c in zip(rows, cells[1:], strict=True)]
        right.add(3)
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]

    def line(cell: tuple[str, ...]) -> str:
        return '  '.join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cell, widths, strict=True))
                         ).rstrip()
    rule = '  '.join('-' * w for w in widths)
    return '\n'.join([line(cells[0]), rule] + [line(c) for c in cells[1:]])


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    trips = results['round_trip']
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for points, label, style in (
            (trips['slixmpp'], "slixmpp's xep_0199", 'o-'),
            (trips['ours'], 'slixmpp_ping_c', 's-'),
            (trips['gc_off']['ours'], 'slixmpp_ping_c, cyclic GC off', 's:'),
            (trips['asyncio_floor'], 'asyncio floor (task + future)', '--')):
        ax.plot([p['n'] for p in points], [p['us_per_ping'] for p in points],
                style, label=label)
    ax.set_xscale('log')
    ax.set_yscale('log')
    ax.set_xlabel('pings in flight')
    ax.set_ylabel('cost per ping() round trip (µs)')
    meta = results['meta']
    ax.set_title(f'XEP-0199 ping(), slixmpp {meta["slixmpp"]}, '
                 f'Python {meta["python"]}, in-memory transport', fontsize=9)
    ax.grid(True, which='both', alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
