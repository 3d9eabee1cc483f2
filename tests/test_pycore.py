"""The pure-Python core (slixmpp_ping_c/_pycore.py), the specification of
the C one: its Peer and in-flight table side by side with the C Peer and
the ping half of the C Tap, which the plugin uses the same way."""
from __future__ import annotations

import asyncio
import math
import random
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import load_impl, ping_core
from tests.memstream import (CLIENT_JID, SERVER, client_stream, message_xml, ping_xml,
                       result_xml)
from slixmpp_ping_c import _pycore
from tests.test_core import TimeoutLog, make_tap
from tests.test_features import INTERVAL, KEEPALIVE, PEER, sent_iqs


@dataclass
class Core:
    """One core's Peer and ping table, on a loop of its own."""

    name: str
    peer_type: type
    table: Any
    loop: asyncio.AbstractEventLoop
    timeouts: TimeoutLog
    # The pure core's send_slow calls: (id, peer, ifrom).
    sent: list[tuple[str, Any, str | None]] = field(default_factory=list)

    def peer(self, jid: str = 'example.com') -> Any:
        return self.peer_type(jid, jid)

    def run(self, main: Callable[[], Any]) -> None:
        self.loop.run_until_complete(main())


def make_core(name: str) -> Core:
    loop = asyncio.new_event_loop()
    if name == 'c':
        from slixmpp_ping_c import _core
        tap, _, timeouts = make_tap(loop)
        return Core(name, _core.Peer, tap, loop, timeouts)
    timeouts = TimeoutLog()
    core = Core(name, _pycore.Peer, None, loop, timeouts)
    core.table = _pycore.PingsInFlight(
        loop, send_slow=lambda *args: core.sent.append(args),
        on_timeout=timeouts)
    return core


@pytest.fixture(params=('c', 'pure'))
def core(request: pytest.FixtureRequest) -> Iterator[Core]:
    made = make_core(request.param)
    try:
        yield made
    finally:
        made.table.cancel_all()
        made.loop.close()


@pytest.fixture
def pure() -> Iterator[Core]:
    made = make_core('pure')
    try:
        yield made
    finally:
        made.table.cancel_all()
        made.loop.close()


def armed_timers(loop: asyncio.AbstractEventLoop) -> int:
    # asyncio keeps its timer handles in _scheduled (no public way to ask).
    return sum(not handle.cancelled() for handle in loop._scheduled)  # type: ignore[attr-defined]


# ---- Peer ---------------------------------------------------------------

def test_peer_fields_and_statistics(core: Core) -> None:
    peer = core.peer_type('jid-object', 'juliet@capulet.example')
    assert (peer.jid, peer.to, peer.senders, peer.allowed, peer.own_host,
            peer.sent, peer.identity) == (
        'jid-object', 'juliet@capulet.example', None, None, False, 0, None)
    assert peer.stats() == (0, 0, 0, None, None, None, None, None)
    peer.configure(('', 'a@b'), 1)
    assert (peer.senders, peer.own_host) == (('', 'a@b'), True)
    assert peer.allowed == ('', 'a@b', 'juliet@capulet.example',
                            'juliet@capulet.example', 'capulet.example')
    peer.configure(senders=None, own_host=False)
    assert (peer.senders, peer.allowed, peer.own_host) == (None, None, False)
    for rtt in (0.25, 0.5, 0.25, 1):
        peer.record(rtt)
    peer.record_lost()
    assert peer.stats()[:5] == (0, 4, 1, 1.0, 0.25)
    assert peer.stats()[5:7] == (0.5, 1.0)
    # The plugin's identity, an int or None; nothing else is kept on it.
    peer.identity = 3
    assert peer.identity == 3
    peer.identity = None
    assert peer.identity is None
    with pytest.raises(AttributeError):
        peer.self_jid = 'me'


def test_peer_identity_refuses_deletion_and_other_types(core: Core) -> None:
    peer = core.peer()
    peer.identity = 7
    for value in ('3', 3.0, b'3', [3]):
        with pytest.raises(TypeError, match='identity must be int or None'):
            peer.identity = value
    with pytest.raises(TypeError):
        del peer.identity
    assert peer.identity == 7
    assert not hasattr(peer, '__dict__')


@pytest.mark.parametrize('to', [
    'example.net', 'example.net/res', 'example.net/r/x@y', 'u@example.net',
    'u@example.net/r', 'u@example.net/r/@x', 'u@example.net/@',
    'ju\u00f1o@\u00e9xample.net/\u00e7'])
def test_peer_allows_the_parts_of_its_jid_as_slixmpp_has_them(
        core: Core, to: str) -> None:
    from slixmpp.jid import JID
    jid = JID(to)
    assert jid.full == to
    peer = core.peer_type(to, to)
    session = ('', 'me@example.org', 'example.org')
    peer.configure(session, False)
    # MatchIDSender's senders: the session's, then the peer's.
    assert peer.allowed == (*session, jid.full, jid.bare, jid.domain)


def test_peers_share_the_session_senders(core: Core) -> None:
    """Nothing of the session is copied into a Peer: a gateway pings
    thousands."""
    session = ('', 'me@example.org', 'example.org')
    peers = [core.peer(f'u{i}@example.net') for i in range(3)]
    for peer in peers:
        peer.configure(session, False)
    assert all(peer.senders is session for peer in peers)


@pytest.mark.parametrize('name', ['jid', 'to', 'senders', 'allowed',
                                  'own_host', 'sent'])
def test_peer_fields_are_read_only(core: Core, name: str) -> None:
    peer = core.peer()
    with pytest.raises(AttributeError):
        setattr(peer, name, getattr(peer, name))


@pytest.mark.parametrize('call,error', [
    (lambda Peer: Peer('a', b'a'), TypeError),
    (lambda Peer: Peer('a', None), TypeError),
    (lambda Peer: Peer('a', '\ud800'), ValueError),
    (lambda Peer: Peer('a', 'a\x01'), ValueError),
    (lambda Peer: Peer('a', 'a').configure(['a'], True), TypeError),
    (lambda Peer: Peer('a', 'a').configure(('a', 1), True), TypeError),
    (lambda Peer: Peer('a', 'a').record('fast'), TypeError),
    (lambda Peer: Peer('a', 'a').record(-0.5), ValueError),
    (lambda Peer: Peer('a', 'a').record(math.inf), ValueError),
    (lambda Peer: Peer('a', 'a').record(math.nan), ValueError),
], ids=['to-bytes', 'to-none', 'to-surrogate', 'to-control', 'senders-list',
        'senders-int', 'rtt-str', 'rtt-negative', 'rtt-inf', 'rtt-nan'])
def test_peer_refuses_what_c_refuses(core: Core, call: Callable[[type], Any],
                                     error: type) -> None:
    with pytest.raises(error):
        call(core.peer_type)


def test_peer_record_takes_ints_and_index_types(core: Core) -> None:
    class Two:
        def __index__(self) -> int:
            return 2
    peer = core.peer()
    peer.record(1)
    peer.record(Two())
    assert peer.stats()[4:7] == (1.0, 1.5, 2.0)


def test_pure_statistics_are_welfords() -> None:
    """avg and mdev as statistics.fmean and pstdev give them, also where
    sum(x^2)/n - avg^2 cancels catastrophically (defect 7: 2.0 s +- 1 us
    over 300,000 pongs)."""
    rng = random.Random(11)
    rtts = [2.0 + rng.choice((-1e-6, 1e-6)) for _ in range(300_000)]
    peer = _pycore.Peer('a', 'a')
    for rtt in rtts:
        peer.record(rtt)
    avg, mdev = peer.stats()[5], peer.stats()[7]
    assert avg == pytest.approx(statistics.fmean(rtts), rel=1e-12)
    assert mdev == pytest.approx(statistics.pstdev(rtts), rel=1e-6)
    single = _pycore.Peer('a', 'a')
    single.record(0.125)
    assert single.stats()[3:] == (0.125, 0.125, 0.125, 0.125, 0.0)


# ---- the in-flight table (the Tap's ping half) --------------------------

def test_ids_are_ours_and_unpredictable(core: Core) -> None:
    peer = core.peer()
    ids = [core.table.track(peer, 1000.0, None, n) for n in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 16 and set(i) <= set('0123456789abcdef') for i in ids)
    # 2000 random 64-bit keys: each hex digit takes every value.
    assert all(len({i[k] for i in ids}) == 16 for k in range(16))
    assert core.table.pending() == 2000 and peer.sent == 2000
    assert core.table.find(ids[7]) is peer
    assert core.table.find(ids[7].upper()) is None


def test_pop_gives_back_what_was_tracked(core: Core) -> None:
    async def main() -> None:
        peer = core.peer()
        future = core.loop.create_future()
        context = object()
        id_ = core.table.track(peer, 10.0, future, context)
        popped = core.table.pop(id_)
        assert popped is not None
        assert popped[:3] == (future, peer, context) and popped[4] is True
        assert type(popped[3]) is float and 0.0 <= popped[3] < 1.0
        assert core.table.pop(id_) is None and core.table.find(id_) is None
        assert core.table.pending() == 0
        assert core.table.find(12) is None and core.table.pop(None) is None
        assert core.table.counters() == (0, 0)
    core.run(main)


def test_given_ids_live_beside_ours(core: Core) -> None:
    async def main() -> None:
        peer = core.peer()
        ours = core.table.track(peer, 1000.0, None, 'ours')
        assert core.table.track(peer, 1000.0, None, 'given', 'app&1') == 'app&1'
        assert core.table.track(peer, 0.01, None, 'late', 'given-late') == 'given-late'
        with pytest.raises(ValueError, match='in flight already'):
            core.table.track(peer, 5.0, None, None, 'app&1')
        assert core.table.pending() == 3 and peer.sent == 3
        assert core.table.pop('app&1')[2] == 'given'
        assert core.table.pop(ours)[2] == 'ours'
        await asyncio.sleep(0.05)
        assert [call[0] for call in core.timeouts.calls] == ['given-late']
        assert core.table.pending() == 0
    core.run(main)


@pytest.mark.parametrize('bad,error', [
    ('', ValueError), (7, TypeError), (b'id', TypeError),
    ('\ud800', ValueError), ('a\x00b', ValueError)])
def test_a_given_id_must_be_a_str_xml_carries(core: Core, bad: Any,
                                              error: type) -> None:
    peer = core.peer()
    with pytest.raises(error):
        core.table.track(peer, 5.0, None, None, bad)
    assert core.table.pending() == 0 and peer.sent == 0


def test_wrong_arguments(core: Core) -> None:
    peer = core.peer()
    for timeout in (-1.0, math.nan, 2e9):
        with pytest.raises(ValueError, match='timeout out of range'):
            core.table.track(peer, timeout, None, None)
    with pytest.raises(TypeError):
        core.table.track(peer, 'soon', None, None)
    with pytest.raises(TypeError, match='peer must be a Peer'):
        core.table.track('not a peer', 1.0, None, None)
    with pytest.raises(TypeError, match='future must be a Future'):
        core.table.track(peer, 1.0, object(), None)
    assert core.table.pending() == 0 and peer.sent == 0


def test_timeouts_fire_once_in_deadline_order(core: Core) -> None:
    async def main() -> None:
        peer = core.peer()
        ids = [core.table.track(peer, t, None, f'ctx{t}')
               for t in (0.06, 0.02, 0.04, 0.02)]
        await asyncio.sleep(0.15)
        assert [call[0] for call in core.timeouts.calls] == [
            ids[1], ids[3], ids[2], ids[0]]
        assert core.timeouts.calls[0][1:] == (peer, 'ctx0.02', True)
        assert core.table.pending() == 0 and peer.stats()[:3] == (4, 0, 4)
    core.run(main)


def test_one_timer_for_all_pings(core: Core) -> None:
    async def main() -> None:
        peer = core.peer()
        for _ in range(1000):
            core.table.track(peer, 10.0, None, None)
        assert armed_timers(core.loop) == 1
        # An earlier deadline moves it; a later one does not.
        core.table.track(peer, 0.02, None, 'soon')
        core.table.track(peer, 20.0, None, None)
        assert armed_timers(core.loop) == 1
        await asyncio.sleep(0.06)
        assert [call[2] for call in core.timeouts.calls] == ['soon']
        assert armed_timers(core.loop) == 1
        core.table.cancel_all()
        assert armed_timers(core.loop) == 0 and core.table.pending() == 0
    core.run(main)


def test_a_timeout_handler_may_track_more(core: Core) -> None:
    """Pings tracked by on_timeout wait for the next round, even when their
    deadline has passed already."""
    async def main() -> None:
        peer = core.peer()
        rounds: list[int] = []

        class TrackingAgain(list[Any]):
            """TimeoutLog's record of calls, tracking one more ping from
            inside on_timeout."""
            def append(self, call: Any) -> None:
                super().append(call)
                context = call[2]
                rounds.append(context)
                if context < 3:
                    core.table.track(peer, 0.0, None, context + 1)
        core.timeouts.calls = TrackingAgain()
        core.table.track(peer, 0.0, None, 0)
        await asyncio.sleep(0.05)
        assert rounds == [0, 1, 2, 3] and core.table.pending() == 0
    core.run(main)


def test_cancel_all_raises_the_first_error_once_every_ping_is_gone(
        core: Core) -> None:
    class Unstoppable:
        """A future whose cancel() fails."""
        def __init__(self) -> None:
            self.cancels = 0

        def cancel(self) -> None:
            self.cancels += 1
            raise RuntimeError(f'cannot cancel {id(self)}')

    async def main() -> None:
        peer = core.peer()
        futures = [Unstoppable(), Unstoppable()]
        for future in futures:
            core.table.track(peer, 1000.0, future, None)
        with pytest.raises(RuntimeError, match='cannot cancel') as raised:
            core.table.cancel_all()
        assert raised.traceback[-1].name == 'cancel'
        assert [f.cancels for f in futures] == [1, 1]
        assert core.table.pending() == 0 and armed_timers(core.loop) == 0
    core.run(main)


def test_forget_cancelled(core: Core) -> None:
    """The contract's Tap.forget_cancelled() (the C one comes with the
    csafe branch): cancelled futures' pings dropped and counted lost,
    nothing called, the timer cancelled once nothing is left."""
    async def main() -> None:
        peer = core.peer()
        futures = [core.loop.create_future() for _ in range(6)]
        ids = [core.table.track(peer, 0.05, f, n) for n, f in enumerate(futures)]
        core.table.track(peer, 0.05, None, 'no future')
        for future in futures[::2]:
            future.cancel()
        assert core.table.forget_cancelled() == 3
        assert core.table.forget_cancelled() == 0
        assert core.table.pending() == 4 and peer.stats()[:3] == (7, 0, 3)
        assert [core.table.find(i) is None for i in ids] == [True, False] * 3
        await asyncio.sleep(0.1)
        assert sorted(call[2] for call in core.timeouts.calls
                      if call[2] != 'no future') == [1, 3, 5]
        for future in futures[1::2]:
            assert isinstance(future.exception(), TimeoutError)
        assert peer.stats()[:3] == (7, 0, 7)
        futures = [core.loop.create_future() for _ in range(3)]
        for future in futures:
            core.table.track(peer, 1000.0, future, None)
            future.cancel()
        assert armed_timers(core.loop) == 1
        assert core.table.forget_cancelled() == 3
        assert core.table.pending() == 0 and armed_timers(core.loop) == 0
    core.run(main)


# ---- the pure table's own: send_ping through send_slow --------------------

def test_send_ping_goes_through_send_slow(pure: Core) -> None:
    async def main() -> None:
        peer = pure.peer('juliet@capulet.example')
        future = pure.table.send_ping(peer, 'me@example.com/r', 5.0)
        [(id_, sent_to, ifrom)] = pure.sent
        assert sent_to is peer and ifrom == 'me@example.com/r'
        assert pure.table.find(id_) is peer and peer.sent == 1
        popped = pure.table.pop(id_)
        assert popped[0] is future and popped[2] == 'me@example.com/r'
        assert popped[4] is False
        assert pure.table.send_ping(peer, None, 5.0, 'app-1') is not None
        assert pure.sent[-1] == ('app-1', peer, None)
        with pytest.raises(TypeError):
            pure.table.send_ping(peer, 5, 1.0)
        assert pure.table.pending() == 1
    pure.run(main)


def test_send_ping_undone_when_send_slow_raises(pure: Core) -> None:
    async def main() -> None:
        peer = pure.peer()

        def failing(id_: str, peer: Any, ifrom: str | None) -> None:
            raise ConnectionError('no stream')
        pure.table._send_slow = failing
        with pytest.raises(ConnectionError):
            pure.table.send_ping(peer, None, 5.0)
        assert pure.table.pending() == 0 and peer.sent == 0

        def answered_then_failing(id_: str, peer: Any,
                                  ifrom: str | None) -> None:
            # Python code ran: the ping is gone already.
            assert pure.table.pop(id_) is not None
            raise ConnectionError('late')
        pure.table._send_slow = answered_then_failing
        with pytest.raises(ConnectionError):
            pure.table.send_ping(peer, None, 5.0)
        assert pure.table.pending() == 0 and peer.sent == 1
    pure.run(main)


def test_a_failing_timeout_handler_is_reported_and_the_rest_expire(
        pure: Core) -> None:
    async def main() -> None:
        reported: list[dict[str, Any]] = []
        pure.loop.set_exception_handler(lambda loop, ctx: reported.append(ctx))
        calls: list[Any] = []

        def on_timeout(id_: str, future: Any, peer: Any, context: Any,
                       tracked: bool) -> None:
            calls.append(context)
            if context == 'bad':
                raise RuntimeError('handler failed')
        pure.table._on_timeout = on_timeout
        peer = pure.peer()
        pure.table.track(peer, 0.01, None, 'bad')
        pure.table.track(peer, 0.01, None, 'good')
        await asyncio.sleep(0.05)
        assert calls == ['bad', 'good']
        assert [str(r['exception']) for r in reported] == ['handler failed']
        assert pure.table.pending() == 0
    pure.run(main)


def test_answered_pings_leave_no_heap_behind(pure: Core) -> None:
    """Pings popped long before their deadline do not pile up in the
    heap: memory follows the pings in flight."""
    peer = pure.peer()
    for _ in range(20_000):
        pure.table.pop(pure.table.track(peer, 1000.0, None, None))
    assert len(pure.table._heap) <= 2 * 64 + 2
    assert pure.table.pending() == 0


# ---- the plugin on the pure core: what the tap did for it ------------------

async def test_pure_idle_only_keepalive_pings_only_an_idle_stream() -> None:
    """keepalive_idle_only without the tap: an incoming filter notes each
    stanza while the keepalive runs (any stanza is proof of life: messages,
    pings slixmpp's path answers); once traffic stops, the ping comes an
    interval later; disable_keepalive() removes the filter."""
    with ping_core('pure'):
        async with client_stream(load_impl('pure').cls,
                                 config={'keepalive_idle_only': True}) as s:
            plugin = s.ping_plugin
            filters = s.xmpp._XMLStream__filters['in']
            before = list(filters)
            plugin.enable_keepalive(INTERVAL, 1)
            assert len(filters) == len(before) + 1
            end = time.monotonic() + 5 * INTERVAL
            i = 0
            while time.monotonic() < end:
                i += 1
                if i % 2:
                    s.feed(message_xml(f'busy {i}'))
                else:
                    s.feed(ping_xml(f'in{i}', frm=SERVER, to=CLIENT_JID))
                last_stanza = time.monotonic()
                await asyncio.sleep(INTERVAL / 5)
                assert [iq for iq in sent_iqs(s) if iq.get('to') == SERVER] == []
            await s.wait_for_output(timeout=3 * INTERVAL)
            assert time.monotonic() - last_stanza >= INTERVAL * 0.9
            (iq,) = sent_iqs(s)
            assert iq.get('to') == SERVER
            s.feed(result_xml(iq.get('id'), frm=SERVER))
            await s.settle()
            assert plugin.stats(SERVER)[:3] == (1, 1, 0)
            plugin.disable_keepalive()
            assert filters == before
            await asyncio.sleep(2 * INTERVAL)
            assert sent_iqs(s) == []


async def test_pure_plugin_end_leaves_no_filter_timer_or_ping() -> None:
    with ping_core('pure'):
        async with client_stream(load_impl('pure').cls, check_pending=False,
                                 config={'keepalive_idle_only': True}) as s:
            plugin = s.ping_plugin
            filters = s.xmpp._XMLStream__filters['in']
            before = list(filters)
            plugin.enable_keepalive(10, 1)
            task = asyncio.create_task(plugin.ping(PEER, timeout=10))
            await s.wait_for_output()
            s.xmpp.plugin.disable('xep_0199')
            with pytest.raises(asyncio.CancelledError):
                await task
            assert filters == before
            assert plugin._pings._timer is None and plugin.pending() == 0
            assert KEEPALIVE not in s.xmpp.scheduled_events
