"""Ping cycles through the plugin in memory, for leak checks.

A cycle is one ping and what follows it: an answer, a timeout, a spoofed
answer (from a JID slixmpp's MatchIDSender refuses) then the real one or a
timeout, an error answer, an incoming ping answered.  Every outcome is
checked (a float, a result Iq, IqTimeout or IqError), so a run is also a
correctness check.  Besides the plugin's own paths, each batch calls the C
module's functions directly with objects held here (a future, a context, an
ifrom, an id, a stanza), and checks that their reference counts are what
they were before the call.  Used by ``benchmarks/leaks.py`` (a million
cycles, ``make leaks``) and ``tests/test_leaks.py`` (a short run).
"""
from __future__ import annotations

import asyncio
import gc
import os
import random
import re
import sys
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.jid import JID
from slixmpp.stanza import Iq

from slixmpp_ping_c._core import Peer
from tests.memstream import CLIENT_JID, SERVER, MemoryStream, error_xml, ping_xml, result_xml

JULIET = 'juliet@example.net/balcony'
# An answer from here to a ping to JULIET is refused by MatchIDSender.
SPOOFER = 'mallory@example.org/x'
IFROM = 'user@example.com/other'
# Long enough that only the pings meant to time out do.
TIMEOUT = 600.0
# The spoofed answer comes first, well within this.
SPOOF_TIMEOUT = 0.02
# What a timed-out ping gets: it expires at the next turn of the loop.
SHORT_TIMEOUT = 1e-6

_SENT_ID = re.compile(rb"<iq [^>]*?id=['\"]([0-9a-f]{16})['\"]")

SCENARIOS = ('answer', 'timeout', 'spoof', 'error', 'mix')


@dataclass
class Plan:
    """One cycle: how the ping is sent, what the server answers, and what
    the caller must get."""
    kind: str
    target: str | None = SERVER
    tracked: bool = False           # send_ping() rather than ping()
    timeout: float = TIMEOUT
    answers: tuple[str, ...] = ()   # 'result'/'error' from the target or SPOOFER
    spoof: bool = False
    expect: type = float
    id: str = ''


def plans_for(kind: str, rng: random.Random, rotating: int,
              serial: int) -> list[Plan]:
    """The cycles of one kind ('incoming' has no ping of ours)."""
    if kind == 'answer':
        return [Plan(kind, answers=('result',))]
    if kind == 'answer_tracked':
        return [Plan(kind, tracked=True, answers=('result',), expect=Iq)]
    if kind == 'timeout':
        return [Plan(kind, timeout=SHORT_TIMEOUT, expect=IqTimeout)]
    if kind == 'timeout_tracked':
        return [Plan(kind, tracked=True, timeout=SHORT_TIMEOUT, expect=IqTimeout)]
    if kind == 'spoof':
        # Then the real answer, or nothing until the deadline.
        if rng.random() < 0.5:
            return [Plan(kind, JULIET, answers=('result',), spoof=True)]
        return [Plan(kind, JULIET, timeout=SPOOF_TIMEOUT, spoof=True,
                     expect=IqTimeout)]
    if kind == 'error':
        # From one's own server an error is a pong; from anyone else,
        # IqError.
        if rng.random() < 0.5:
            return [Plan(kind, answers=('error',))]
        return [Plan(kind, JULIET, answers=('error',), expect=IqError)]
    if kind == 'rotating':
        # More peers than stats() keeps: the least recent are dropped.
        return [Plan(kind, f'u{serial % rotating}@example.net',
                     answers=('result',))]
    if kind == 'default_target':
        return [Plan(kind, None, answers=('result',))]
    raise ValueError(kind)


MIX = ('answer', 'answer_tracked', 'timeout', 'timeout_tracked', 'spoof',
       'error', 'rotating', 'default_target', 'incoming')


@dataclass
class Cycler:
    """Runs batches of cycles on one bound client."""
    stream: MemoryStream
    rotating: int = 20_000
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    cycles: int = 0
    outcomes: Counter = field(default_factory=Counter)
    callbacks: int = 0
    expected_callbacks: int = 0
    serial: int = 0

    def __post_init__(self) -> None:
        self.plugin = self.stream.ping_plugin
        self.tap = self.plugin._tap
        self.loop = asyncio.get_running_loop()
        # Held across the run, handed to the C code again and again.
        self.context = object()
        self.probe_future = self.loop.create_future()
        self.ifrom = ''.join(['user@example.com/', 'probe'])
        self.stanza = ping_xml('probe', frm=SERVER).encode()
        self.probe_peer = Peer(JID(SERVER), SERVER)
        self.probe_peer.configure(None, True)

    # -- the sentinels ------------------------------------------------------

    def callback(self, iq: Iq) -> None:
        self.callbacks += 1

    def sentinels(self) -> dict[str, Any]:
        """Objects the C code holds or is handed, by name; their reference
        counts must be the same at the start and the end of a run."""
        peer = self.plugin._peers.by_jid[SERVER]
        juliet = self.plugin._peers.by_jid[JULIET]
        return {
            'callback': self.callback, 'context': self.context,
            'probe future': self.probe_future, 'probe ifrom': self.ifrom,
            'probe stanza': self.stanza, 'probe peer': self.probe_peer,
            'peer (server)': peer,
            'peer (juliet)': juliet, 'peer.jid': peer.jid, 'peer.to': peer.to,
            'peer.senders': peer.senders, 'juliet.jid': juliet.jid,
            'boundjid': self.stream.xmpp.boundjid, 'tap': self.tap,
        }

    async def census(self) -> dict[str, int]:
        """Reference counts of the sentinels, the plugin's caches in the
        same state each time: the names pinged twice, so that whatever
        clearing of the name cache came between, they are in it, each for
        the current peer (a JID object, as send_ping() passes, is cached
        by name: its entry may name a peer stats() dropped until then)."""
        for _ in range(2):
            await self.batch(['answer', 'answer_tracked', 'default_target',
                              'spoof', 'error'])
        # A few turns of the loop: asyncio lets go of the last gather (its
        # results, their tracebacks, the frames they hold) only then.
        await self.stream.settle()
        gc.collect()
        # getrefcount() sees the dict's reference and its own argument.
        return {name: sys.getrefcount(obj) - 2
                for name, obj in self.sentinels().items()}

    # -- the C functions, called directly ---------------------------------

    async def probe(self) -> None:
        """track/find/pop, send_ping with an ifrom, a read of the stream:
        each leaves the reference counts of what it was given as they were."""
        tap, peer = self.tap, self.probe_peer
        before = [sys.getrefcount(o) for o in (self.probe_future, self.context,
                                                 self.ifrom, self.stanza, peer)]
        id_ = tap.track(peer, TIMEOUT, self.probe_future, self.context)
        held = sys.getrefcount(id_)
        assert tap.find(id_) is peer
        popped = tap.pop(id_)
        assert popped is not None and popped[0] is self.probe_future
        del popped
        assert tap.pop(id_) is None and sys.getrefcount(id_) == held
        future = tap.send_ping(peer, self.ifrom, TIMEOUT)
        (sent,) = await self._written_ids(1)
        self.stream.feed(result_xml(sent.decode(), frm=SERVER))
        assert future.done() and future.result() >= 0
        self.stream.feed(self.stanza)
        self.stream.take_sent()
        after = [sys.getrefcount(o) for o in (self.probe_future, self.context,
                                                self.ifrom, self.stanza, peer)]
        assert after == before, (before, after)
        # A future the C code made and completed: held only here.
        reference = self.loop.create_future()
        reference.set_result(0.0)
        assert sys.getrefcount(future) == sys.getrefcount(reference)

    # -- batches ------------------------------------------------------------

    def _start(self, plan: Plan) -> asyncio.Future[Any]:
        plugin = self.plugin
        if plan.tracked:
            self.expected_callbacks += 1
            callback = self.callback
            return plugin.send_ping(plan.target, timeout=plan.timeout,
                                    callback=callback, timeout_callback=callback)
        if plan.target == SERVER and plan.kind == 'answer' and self.serial % 2:
            # ifrom too, half the time.
            return asyncio.ensure_future(plugin.ping(plan.target, IFROM,
                                                     plan.timeout))
        return asyncio.ensure_future(plugin.ping(plan.target,
                                                 timeout=plan.timeout))

    async def _written_ids(self, n: int) -> list[bytes]:
        ids: list[bytes] = []
        for _ in range(10_000):
            ids += _SENT_ID.findall(self.stream.take_sent())
            if len(ids) >= n:
                return ids
            await asyncio.sleep(0)
        raise AssertionError(f'{len(ids)} of {n} pings written')

    async def batch(self, kinds: list[str]) -> None:
        """One cycle of each kind: the tracked pings are sent first (slixmpp
        queues them), then the others, so that ids come out in plan order."""
        plans: list[Plan] = []
        incoming = 0
        for kind in kinds:
            if kind == 'incoming':
                incoming += 1
                continue
            self.serial += 1
            plans += plans_for(kind, self.rng, self.rotating, self.serial)
        plans.sort(key=lambda plan: not plan.tracked)
        waits = [self._start(plan) for plan in plans if plan.tracked]
        ids = await self._written_ids(len(waits))
        waits += [self._start(plan) for plan in plans if not plan.tracked]
        ids += await self._written_ids(len(plans) - len(ids))
        stanzas: list[str] = []
        for plan, id_ in zip(plans, ids, strict=True):
            plan.id = id_.decode()
            sender = plan.target or SERVER
            if plan.spoof:
                stanzas.append(result_xml(plan.id, frm=SPOOFER, to=CLIENT_JID))
            for answer in plan.answers:
                if answer == 'result':
                    stanzas.append(result_xml(plan.id, frm=sender, to=CLIENT_JID))
                else:
                    stanzas.append(error_xml(plan.id, 'service-unavailable',
                                             frm=sender, to=CLIENT_JID))
        stanzas += [ping_xml(f'in{i}', frm=SERVER) for i in range(incoming)]
        self.rng.shuffle(stanzas)
        for start in range(0, len(stanzas), 50):
            self.stream.feed(''.join(stanzas[start:start + 50]))
        results = await asyncio.gather(*waits, return_exceptions=True)
        for plan, outcome in zip(plans, results, strict=True):
            if not isinstance(outcome, plan.expect):
                raise AssertionError(f'{plan}: {outcome!r}')
            self.outcomes[plan.kind, plan.expect.__name__] += 1
        answered = self.stream.take_sent().count(b'type="result"')
        assert answered == incoming, (answered, incoming)
        self.outcomes['incoming', 'answered'] += incoming
        self.cycles += len(plans) + incoming

    async def run(self, scenario: str, cycles: int, batch_size: int = 100
                  ) -> None:
        """About `cycles` cycles of a scenario, batch by batch."""
        goal = self.cycles + cycles
        while self.cycles < goal:
            n = min(batch_size, goal - self.cycles)
            if scenario == 'mix':
                kinds = self.rng.choices(MIX, k=n)
            else:
                kinds = [scenario] * n
            await self.batch(kinds)
            await self.probe()
        await self.settle()

    async def settle(self) -> None:
        """Until the timed-out tracked pings' callbacks have run."""
        await self.stream.settle()
        assert self.plugin.pending() == 0, self.plugin.pending()
        assert self.callbacks == self.expected_callbacks, (
            self.callbacks, self.expected_callbacks)


def rss_bytes() -> int:
    """Resident set size (Linux)."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


@dataclass
class LeakReport:
    warmup_cycles: int
    cycles: int
    seconds: dict[str, float]           # per scenario, after the warm-up
    rss_growth: int                     # bytes, since the warm-up
    traced_growth: int                  # bytes, since the warm-up
    grew_most: list[tracemalloc.StatisticDiff]
    refcounts: dict[str, tuple[int, int]]   # after the warm-up, at the end

    @property
    def refcounts_moved(self) -> dict[str, tuple[int, int]]:
        return {name: counts for name, counts in self.refcounts.items()
                if counts[0] != counts[1]}


async def measure(cycler: Cycler, cycles: int, warmup: int,
                  batch_size: int = 500) -> LeakReport:
    """Runs `warmup` cycles of each scenario and the rotating peers once,
    then the rest of `cycles` shared among the scenarios, and tells what
    grew from the one point to the other.  Memory is traced from the start,
    so that what replaces what the warm-up allocated (peers dropped from
    stats(), say) nets out."""
    tracemalloc.start(1)
    try:
        for scenario in SCENARIOS:
            await cycler.run(scenario, warmup, batch_size)
        # Every name of the rotating set once: stats() is at its cap.
        await cycler.run('rotating', cycler.rotating, batch_size)
        before = await cycler.census()
        warm = cycler.cycles
        gc.collect()
        traced_before = tracemalloc.get_traced_memory()[0]
        snapshot = tracemalloc.take_snapshot()
        rss_before = rss_bytes()
        seconds = {}
        share = max(cycles - warm, 0) // len(SCENARIOS)
        for scenario in SCENARIOS:
            started = time.perf_counter()
            await cycler.run(scenario, share, batch_size)
            seconds[scenario] = time.perf_counter() - started
        after = await cycler.census()
        gc.collect()
        traced_growth = tracemalloc.get_traced_memory()[0] - traced_before
        rss_growth = rss_bytes() - rss_before
        grew_most = tracemalloc.take_snapshot().compare_to(snapshot, 'lineno')
    finally:
        tracemalloc.stop()
    return LeakReport(warm, cycler.cycles, seconds, rss_growth, traced_growth,
                      grew_most[:5],
                      {name: (before[name], after[name]) for name in before})
