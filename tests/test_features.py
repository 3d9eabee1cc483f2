"""What other XMPP stacks have and slixmpp's plugin has not, in memory:
idle-aware keepalive, keepalive retries, errors as pongs, the ping_timeout
and keepalive_failed events, is_ping_supported() and ping_many().

Every option is off by default; with the defaults both plugins behave
alike ('impl').  The new behaviour is ours alone (OURS).
"""
from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import pytest
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.jid import JID, InvalidJID

from tests.conftest import load_impl
from tests.memstream import (
    CLIENT_JID, SERVER, MemoryStream, client_stream, error_xml, iq_xml, message_xml, ping_xml,
    result_xml)
from slixmpp_ping_c import PingTimeout, TooManyPings

if TYPE_CHECKING:
    from tests.conftest import Impl

OURS = load_impl('c').cls
KEEPALIVE = 'Ping keepalive'
INTERVAL = 0.1
PEER = 'friend@example.net/phone'


class Recorder:
    """Records events and xmpp.reconnect calls in one timeline."""

    def __init__(self, s: MemoryStream, *events: str) -> None:
        self.timeline: list[tuple[str, Any]] = []
        for name in events:
            s.xmpp.add_event_handler(
                name, lambda data, name=name: self.timeline.append((name, data)))
        s.xmpp.reconnect = lambda *args, **kwargs: self.timeline.append(
            ('reconnect', (args, kwargs)))

    def names(self) -> list[str]:
        return [name for name, _ in self.timeline]


async def until(predicate: Any, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'condition not met in time'
        await asyncio.sleep(0.002)


def sent_iqs(s: MemoryStream, type_: str = 'get') -> list[Any]:
    return [e for e in s.take_elements() if e.tag.endswith('iq') and e.get('type') == type_]


# ---- defaults ---------------------------------------------------------------

def test_new_options_are_off_by_default() -> None:
    assert {key: OURS.default_config[key] for key in
            ('keepalive_idle_only', 'keepalive_retries', 'error_is_pong')} == {
        'keepalive_idle_only': False, 'keepalive_retries': 1, 'error_is_pong': False}


async def test_defaults_an_error_from_a_peer_raises(impl: Impl) -> None:
    """service-unavailable from the pinged JID is an IqError on both
    plugins unless error_is_pong is set."""
    async with client_stream(impl.cls) as s:
        task = asyncio.ensure_future(s.ping_plugin.ping(PEER, timeout=1))
        await s.wait_for_output()
        _, sent = s.take_one()
        s.feed(error_xml(sent.get('id'), 'service-unavailable', frm=PEER))
        with pytest.raises(IqError):
            await task


async def test_defaults_keepalive_pings_a_busy_stream(impl: Impl) -> None:
    """Without keepalive_idle_only, both plugins ping every interval
    however much arrives."""
    async with client_stream(impl.cls) as s:
        s.ping_plugin.enable_keepalive(INTERVAL, 1)
        pings = 0
        for _ in range(12):
            s.feed(message_xml('busy'))
            await asyncio.sleep(INTERVAL / 4)
            for iq in sent_iqs(s):
                pings += 1
                s.feed(result_xml(iq.get('id'), frm=SERVER))
        s.ping_plugin.disable_keepalive()
        await s.settle()
        for iq in sent_iqs(s):   # one that went out as the loop ended
            s.feed(result_xml(iq.get('id'), frm=SERVER))
        assert pings >= 2


# ---- idle-aware keepalive ------------------------------------------------------

async def test_idle_only_pings_an_idle_stream_each_interval() -> None:
    config = {'keepalive_idle_only': True}
    async with client_stream(OURS, config=config) as s:
        plugin = s.ping_plugin
        plugin.enable_keepalive(INTERVAL, 1)
        assert KEEPALIVE in s.xmpp.scheduled_events
        start = time.monotonic()
        for _ in range(2):
            await s.wait_for_output()
            (iq,) = sent_iqs(s)
            assert iq.get('to') == SERVER
            s.feed(result_xml(iq.get('id'), frm=SERVER))
        assert time.monotonic() - start >= 2 * INTERVAL * 0.9
        plugin.disable_keepalive()
        assert KEEPALIVE not in s.xmpp.scheduled_events
        await asyncio.sleep(2 * INTERVAL)
        assert s.take_sent() == b''


@pytest.mark.parametrize('traffic', ['message', 'ping answered in C', 'pong consumed in C'])
async def test_idle_only_sends_no_keepalive_on_a_busy_stream(traffic: str) -> None:
    """Any inbound stanza is proof of life, also those the C tap answers or
    consumes without slixmpp seeing them.  Once traffic stops, the ping
    comes an interval later."""
    config = {'keepalive_idle_only': True}
    async with client_stream(OURS, config=config) as s:
        plugin = s.ping_plugin
        plugin.enable_keepalive(INTERVAL, 1)
        answered_before, completed_before = plugin._tap.counters()
        end = time.monotonic() + 5 * INTERVAL
        i = 0
        while time.monotonic() < end:
            i += 1
            if traffic == 'message':
                s.feed(message_xml(f'busy {i}'))
            elif traffic == 'ping answered in C':
                s.feed(ping_xml(f'in{i}', frm=SERVER, to=CLIENT_JID))
            else:
                pong = asyncio.ensure_future(plugin.ping(PEER, timeout=1))
                await s.wait_for_output()
                (iq,) = sent_iqs(s)
                s.feed(result_xml(iq.get('id'), frm=PEER))
                assert await pong > 0
            last_stanza = time.monotonic()
            await asyncio.sleep(INTERVAL / 5)
            assert [iq for iq in sent_iqs(s) if iq.get('to') == SERVER] == []
        answered, completed = plugin._tap.counters()
        if traffic == 'ping answered in C':
            assert answered - answered_before == i
        if traffic == 'pong consumed in C':
            assert completed - completed_before == i
        await s.wait_for_output(timeout=3 * INTERVAL)
        assert time.monotonic() - last_stanza >= INTERVAL * 0.9
        (iq,) = sent_iqs(s)
        assert iq.get('to') == SERVER
        s.feed(result_xml(iq.get('id'), frm=SERVER))
        plugin.disable_keepalive()


async def test_the_idle_clock_is_set_by_reads_that_end_a_stanza() -> None:
    async with client_stream(OURS) as s:
        tap = s.ping_plugin._tap
        s.feed(message_xml('first'))
        before = tap.received_at
        assert 0 < before <= time.monotonic()
        s.feed("<message from='a@b/c'><body>half")
        assert tap.received_at == before
        await asyncio.sleep(0.01)
        s.feed('</body></message>')
        assert before < tap.received_at <= time.monotonic()
        marked = tap.received_at
        s.feed(' ')   # whitespace keepalive: no stanza
        assert tap.received_at == marked
        s.feed(ping_xml('c1', frm=SERVER, to=CLIENT_JID))  # answered in C
        assert tap.received_at > marked
        await s.settle()
        s.take_sent()


async def test_idle_only_enabled_twice_refuses_like_schedule() -> None:
    async with client_stream(OURS, config={'keepalive_idle_only': True}) as s:
        s.ping_plugin.enable_keepalive(10, 1)
        with pytest.raises(ValueError):
            s.ping_plugin.enable_keepalive(10, 1)
        s.ping_plugin.disable_keepalive()
        assert KEEPALIVE not in s.xmpp.scheduled_events


# ---- retries, events ---------------------------------------------------------

async def test_keepalive_retries_then_fails_then_reconnects() -> None:
    timeout = 0.05
    config = {'keepalive_retries': 3}
    async with client_stream(OURS, config=config, check_pending=False) as s:
        rec = Recorder(s, 'ping_timeout', 'keepalive_failed')
        s.ping_plugin.enable_keepalive(1.0, timeout)
        s.ping_plugin._keepalive_pinger.tick()   # not wait a whole interval
        await until(lambda: 'reconnect' in rec.names())
        s.ping_plugin.disable_keepalive()
        assert rec.names() == ['ping_timeout'] * 3 + ['keepalive_failed', 'reconnect']
        iqs = sent_iqs(s)
        assert len(iqs) == 3 and {iq.get('to') for iq in iqs} == {SERVER}
        sent_ids = [iq.get('id') for iq in iqs]
        timeouts = [data for name, data in rec.timeline if name == 'ping_timeout']
        assert all(isinstance(t, PingTimeout) for t in timeouts)
        assert [t.iq['id'] for t in timeouts] == sent_ids
        assert {t.jid for t in timeouts} == {JID(SERVER)}
        failed = rec.timeline[3][1]
        assert failed == PingTimeout(JID(SERVER), timeouts[-1].iq)
        assert rec.timeline[4][1] == ((0.0, 'Ping timeout after %ds' % timeout), {})


async def test_keepalive_retry_answered_keeps_the_link() -> None:
    timeout = 0.05
    async with client_stream(OURS, config={'keepalive_retries': 2}) as s:
        rec = Recorder(s, 'ping_timeout', 'keepalive_failed')
        plugin = s.ping_plugin
        plugin.enable_keepalive(10, timeout)
        plugin._keepalive_pinger.tick()
        await until(lambda: rec.names() == ['ping_timeout'])
        await s.wait_for_output()
        iqs = sent_iqs(s)
        s.feed(result_xml(iqs[-1].get('id'), frm=SERVER))   # the retry
        await s.settle()
        assert plugin._keepalive_pinger.misses == 0
        # a new series starts from zero: one miss is no failure
        plugin._keepalive_pinger.tick()
        await until(lambda: rec.names() == ['ping_timeout'] * 2)
        await s.wait_for_output()
        s.feed(result_xml(sent_iqs(s)[-1].get('id'), frm=SERVER))
        await s.settle()
        plugin.disable_keepalive()
        assert 'keepalive_failed' not in rec.names() and 'reconnect' not in rec.names()


async def test_one_retry_fails_at_the_first_timeout_as_before() -> None:
    async with client_stream(OURS, check_pending=False) as s:
        rec = Recorder(s, 'ping_timeout', 'keepalive_failed')
        s.ping_plugin.enable_keepalive(10, 0.05)
        s.ping_plugin._keepalive_pinger.tick()
        await until(lambda: 'reconnect' in rec.names())
        s.ping_plugin.disable_keepalive()
        assert rec.names() == ['ping_timeout', 'keepalive_failed', 'reconnect']
        assert len(sent_iqs(s)) == 1


async def test_ping_timeout_event_for_ping_and_send_ping() -> None:
    async with client_stream(OURS) as s:
        rec = Recorder(s, 'ping_timeout')
        plugin = s.ping_plugin
        with pytest.raises(IqTimeout):
            await plugin.ping(PEER, timeout=0.02)
        with pytest.raises(IqTimeout):
            await plugin.send_ping(PEER, ifrom=CLIENT_JID, timeout=0.02)
        iqs = sent_iqs(s)
        assert rec.names() == ['ping_timeout'] * 2
        for (_, event), iq in zip(rec.timeline, iqs, strict=True):
            assert event.jid == JID(PEER)
            assert (event.iq['id'], event.iq['to'], event.iq['type']) == (
                iq.get('id'), JID(PEER), 'get')
            assert event.iq.xml.find('{urn:xmpp:ping}ping') is not None
        assert rec.timeline[1][1].iq['from'] == JID(CLIENT_JID)


async def test_a_failing_ping_timeout_handler_is_logged_not_answered(
        caplog: pytest.LogCaptureFixture) -> None:
    async with client_stream(OURS) as s:
        def broken(event: Any) -> None:
            raise RuntimeError('handler bug')
        s.xmpp.add_event_handler('ping_timeout', broken)
        with pytest.raises(IqTimeout):
            await s.ping_plugin.ping(PEER, timeout=0.02)
        await s.settle()
        assert s.take_elements()[1:] == []   # the ping only, no error reply
        assert 'handler bug' in caplog.text


# ---- error_is_pong --------------------------------------------------------------

@pytest.mark.parametrize('condition,frm,pong', [
    ('service-unavailable', PEER, True),
    ('feature-not-implemented', PEER, True),
    ('item-not-found', PEER, False),
    ('remote-server-not-found', PEER, False),
    # the peer's server speaking for it proves nothing about the peer
    ('service-unavailable', 'example.net', False),
])
async def test_error_is_pong(condition: str, frm: str, pong: bool) -> None:
    async with client_stream(OURS, config={'error_is_pong': True}) as s:
        plugin = s.ping_plugin
        task = asyncio.ensure_future(plugin.ping(PEER, timeout=1))
        await s.wait_for_output()
        _, sent = s.take_one()
        s.feed(error_xml(sent.get('id'), condition, frm=frm))
        if pong:
            rtt = await task
            assert isinstance(rtt, float) and rtt > 0
            assert plugin.stats(PEER).received == 1
        else:
            with pytest.raises(IqError) as info:
                await task
            assert info.value.iq['error']['condition'] == condition
            assert plugin.stats(PEER).lost == 1


async def test_error_is_pong_leaves_send_ping_alone() -> None:
    """send_ping() returns slixmpp's Iq future: an error still raises."""
    async with client_stream(OURS, config={'error_is_pong': True}) as s:
        future = s.ping_plugin.send_ping(PEER, timeout=1)
        await s.wait_for_output()
        _, sent = s.take_one()
        s.feed(error_xml(sent.get('id'), 'service-unavailable', frm=PEER))
        with pytest.raises(IqError):
            await future


# ---- is_ping_supported ---------------------------------------------------------

def disco_result(id_: str, frm: str, *features: str) -> str:
    payload = ("<query xmlns='http://jabber.org/protocol/disco#info'>"
               + ''.join(f"<feature var='{f}'/>" for f in features) + '</query>')
    return iq_xml('result', id_, frm=frm, to=CLIENT_JID, payload=payload)


async def ask_support(s: MemoryStream, jid: str, answer: Any) -> Any:
    """is_ping_supported(jid), the disco#info query it sends answered by
    answer(id); returns the task."""
    task = asyncio.ensure_future(s.ping_plugin.is_ping_supported(jid))
    await s.wait_for_output()
    _, query = s.take_one()
    assert query.get('to') == jid and query.get('type') == 'get'
    assert query.find('{http://jabber.org/protocol/disco#info}query') is not None
    s.feed(answer(query.get('id')))
    return task


async def test_is_ping_supported_asks_disco_once_per_session() -> None:
    async with client_stream(OURS) as s:
        plugin = s.ping_plugin
        task = await ask_support(s, PEER, lambda id_: disco_result(
            id_, PEER, 'urn:xmpp:ping', 'jabber:iq:version'))
        assert await task is True
        task = await ask_support(s, 'bot@example.net/x', lambda id_: disco_result(
            id_, 'bot@example.net/x', 'jabber:iq:version'))
        assert await task is False
        # cached: nothing sent
        assert await plugin.is_ping_supported(JID(PEER)) is True
        assert await plugin.is_ping_supported('bot@example.net/x') is False
        await s.settle()
        assert s.take_sent() == b''
        # a new session asks again
        s.xmpp.event('session_end')
        task = await ask_support(s, PEER, lambda id_: disco_result(id_, PEER))
        assert await task is False


async def test_is_ping_supported_error_raises_and_is_not_kept() -> None:
    async with client_stream(OURS) as s:
        task = await ask_support(s, PEER, lambda id_: error_xml(
            id_, 'service-unavailable', frm=PEER))
        with pytest.raises(IqError):
            await task
        task = await ask_support(s, PEER, lambda id_: disco_result(id_, PEER, 'urn:xmpp:ping'))
        assert await task is True


async def test_is_ping_supported_for_our_own_jid_is_answered_locally() -> None:
    async with client_stream(OURS) as s:
        assert await s.ping_plugin.is_ping_supported(CLIENT_JID) is True
        await s.settle()
        assert s.take_sent() == b''


# ---- ping_many -----------------------------------------------------------------

def jids(n: int) -> list[str]:
    return [f'user{i}@example.net/r' for i in range(n)]


async def test_ping_many_results_by_jid_in_order_given() -> None:
    async with client_stream(OURS) as s:
        targets = jids(4)
        task = asyncio.ensure_future(s.ping_plugin.ping_many(
            [*targets, targets[0]], timeout=0.2))
        await s.wait_for_output()
        sent = {iq.get('to'): iq.get('id') for iq in sent_iqs(s)}
        assert sorted(sent) == sorted(targets)   # once each
        s.feed(result_xml(sent[targets[2]], frm=targets[2]))
        s.feed(error_xml(sent[targets[1]], 'item-not-found', frm=targets[1]))
        s.feed(result_xml(sent[targets[0]], frm=targets[0]))
        results = await task
        assert list(results) == targets
        assert isinstance(results[targets[0]], float)
        assert isinstance(results[targets[1]], IqError)
        assert isinstance(results[targets[2]], float)
        assert isinstance(results[targets[3]], IqTimeout)


async def test_ping_many_keeps_concurrency_in_flight() -> None:
    async with client_stream(OURS) as s:
        plugin = s.ping_plugin
        targets = jids(7)
        task = asyncio.ensure_future(plugin.ping_many(targets, timeout=1, concurrency=3))
        await s.wait_for_output()
        waiting = sent_iqs(s)
        assert len(waiting) == 3
        seen = [iq.get('to') for iq in waiting]
        while waiting:
            iq = waiting.pop(0)
            s.feed(result_xml(iq.get('id'), frm=iq.get('to')))
            await s.settle()
            # each answer sends the next, while any is left
            new = sent_iqs(s)
            assert len(new) == (1 if len(seen) < len(targets) else 0)
            seen += [iq.get('to') for iq in new]
            waiting += new
            assert plugin.pending() == len(waiting) <= 3
        results = await task
        assert seen == targets
        assert all(isinstance(results[j], float) for j in targets)


async def test_ping_many_honours_max_pending() -> None:
    """max_pending caps ping_many's pings in flight as any others."""
    async with client_stream(OURS) as s:
        plugin = s.ping_plugin
        plugin.max_pending = 2
        targets = jids(5)
        task = asyncio.ensure_future(plugin.ping_many(targets, timeout=1, concurrency=10))
        peak = 0
        done = 0
        while done < len(targets):
            await s.wait_for_output()
            peak = max(peak, plugin.pending())
            for iq in sent_iqs(s):
                s.feed(result_xml(iq.get('id'), frm=iq.get('to')))
                done += 1
            await s.settle()
        assert peak == 2
        assert all(isinstance(rtt, float) for rtt in (await task).values())


async def test_ping_many_without_room_gives_too_many_pings() -> None:
    """Other pings filling max_pending: the JIDs without room get the
    TooManyPings ping() would raise, and nothing is sent for them."""
    async with client_stream(OURS, config={'max_pending': 3}) as s:
        plugin = s.ping_plugin
        others = [asyncio.ensure_future(plugin.ping(SERVER, timeout=5))
                  for _ in range(2)]
        await s.wait_for_output()
        waiting = sent_iqs(s)
        targets = jids(3)
        results = asyncio.ensure_future(plugin.ping_many(targets, timeout=5))
        await s.wait_for_output()
        (iq,) = sent_iqs(s)
        assert iq.get('to') == targets[0]
        s.feed(result_xml(iq.get('id'), frm=targets[0]))
        for other in waiting:
            s.feed(result_xml(other.get('id'), frm=SERVER))
        results = await results
        assert isinstance(results[targets[0]], float)
        assert [type(results[j]) for j in targets[1:]] == [TooManyPings] * 2
        assert all(isinstance(rtt, float) for rtt in await asyncio.gather(*others))
        assert sent_iqs(s) == []


async def test_keepalive_without_room_skips_a_round() -> None:
    """A keepalive ping max_pending leaves no room for is not sent, and is
    no sign of a dead link: no reconnect, no event."""
    async with client_stream(OURS, config={'max_pending': 1}) as s:
        rec = Recorder(s, 'ping_timeout', 'keepalive_failed')
        plugin = s.ping_plugin
        other = asyncio.ensure_future(plugin.ping(PEER, timeout=5))
        await s.wait_for_output()
        (iq,) = sent_iqs(s)
        plugin.enable_keepalive(10, 0.05)
        plugin._keepalive_pinger.tick()
        await asyncio.sleep(0.2)
        plugin.disable_keepalive()
        assert sent_iqs(s) == [] and rec.names() == []
        s.feed(result_xml(iq.get('id'), frm=PEER))
        assert isinstance(await other, float)


async def test_ping_many_bad_jid_and_empty() -> None:
    async with client_stream(OURS) as s:
        plugin = s.ping_plugin
        assert await plugin.ping_many([]) == {}
        with pytest.raises(ValueError):
            await plugin.ping_many(jids(1), concurrency=0)
        task = asyncio.ensure_future(plugin.ping_many(['bad@@jid', PEER], timeout=1))
        await s.wait_for_output()
        (iq,) = sent_iqs(s)
        s.feed(result_xml(iq.get('id'), frm=PEER))
        results = await task
        assert isinstance(results['bad@@jid'], InvalidJID)
        assert isinstance(results[PEER], float)


async def test_ping_many_answers_in_any_order_and_plugin_end() -> None:
    """All at once: answers in reverse order each fill their JID's result;
    a ping cancelled under it (plugin_end cancels every ping in flight)
    gives CancelledError for its JID, and ping_many() returns."""
    async with client_stream(OURS) as s:
        plugin = s.ping_plugin
        targets = jids(4)
        task = asyncio.ensure_future(plugin.ping_many(targets, timeout=5))
        await s.wait_for_output()
        sent = sent_iqs(s)
        assert len(sent) == 4
        for iq in reversed(sent[1:]):
            s.feed(result_xml(iq.get('id'), frm=iq.get('to')))
        await s.settle()
        assert not task.done()
        plugin._pings.cancel_all()
        results = await task
        assert list(results) == targets
        assert isinstance(results[targets[0]], asyncio.CancelledError)
        assert all(isinstance(results[jid], float) for jid in targets[1:])
        assert plugin.pending() == 0


async def test_ping_many_cancelled_sends_no_more() -> None:
    async with client_stream(OURS) as s:
        plugin = s.ping_plugin
        task = asyncio.ensure_future(plugin.ping_many(jids(5), timeout=1, concurrency=2))
        await s.wait_for_output()
        first = sent_iqs(s)
        assert len(first) == 2
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for iq in first:
            s.feed(result_xml(iq.get('id'), frm=iq.get('to')))
        await s.settle()
        assert s.take_sent() == b''
        assert plugin.pending() == 0


async def test_ping_many_from_a_component_address() -> None:
    async with client_stream(OURS) as s:
        task = asyncio.ensure_future(s.ping_plugin.ping_many(
            [PEER], timeout=1, ifrom=CLIENT_JID))
        await s.wait_for_output()
        (iq,) = sent_iqs(s)
        assert iq.get('from') == CLIENT_JID
        s.feed(result_xml(iq.get('id'), frm=PEER))
        assert isinstance((await task)[PEER], float)
