"""Keepalive pings: scheduling, answers, timeouts (reconnect), stopping."""
from __future__ import annotations

import asyncio
import inspect
from typing import TYPE_CHECKING, Any

import pytest

from tests.memstream import (
    CLIENT_JID, COMPONENT_JID, COMPONENT_KEEPALIVE_HAS_FROM, SERVER, MemoryStream, client_stream,
    component_stream, ping_xml, result_xml)

if TYPE_CHECKING:
    from tests.conftest import Impl

INTERVAL = 0.03
KEEPALIVE = 'Ping keepalive'


class ReconnectRecorder:
    """Stands in for xmpp.reconnect; records its arguments as bound to
    slixmpp's own signature (so positional and keyword calls compare
    equal)."""

    def __init__(self, real: Any) -> None:
        self.signature = inspect.signature(real)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        self.calls.append(dict(bound.arguments))


async def next_keepalive_ping(s: MemoryStream, timeout: float = 1.0) -> tuple[str, str]:
    """Wait for the next keepalive ping; return (canonical form, id)."""
    await s.wait_for_output(timeout)
    canon, element = s.take_one()
    return canon, element.get('id')


async def answer_keepalives(s: MemoryStream, count: int, to: str, frm: str | None,
                            server: str) -> None:
    for _ in range(count):
        canon, id_ = await next_keepalive_ping(s)
        assert canon == s.c14n(ping_xml(id_, to=to, frm=frm))
        s.feed(result_xml(id_, frm=server))
        await s.settle()


async def assert_quiet(s: MemoryStream, seconds: float) -> None:
    await asyncio.sleep(seconds)
    await s.settle()
    assert s.take_sent() == b''


async def test_enable_keepalive_pings_server_every_interval(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        plugin = s.ping_plugin
        assert KEEPALIVE not in s.xmpp.scheduled_events
        plugin.enable_keepalive(INTERVAL, 0.5)
        assert (plugin.keepalive, plugin.interval, plugin.timeout) == (True, INTERVAL, 0.5)
        assert KEEPALIVE in s.xmpp.scheduled_events
        loop = asyncio.get_running_loop()
        start = loop.time()
        await answer_keepalives(s, 3, to=SERVER, frm=None, server=SERVER)
        # three pings, one per interval (not sooner)
        assert loop.time() - start >= 3 * INTERVAL * 0.9
        plugin.disable_keepalive()
        assert KEEPALIVE not in s.xmpp.scheduled_events
        await assert_quiet(s, 3 * INTERVAL)


async def test_enable_keepalive_without_arguments_keeps_config(impl: Impl) -> None:
    async with client_stream(impl.cls, config={'interval': INTERVAL, 'timeout': 0.5}) as s:
        s.ping_plugin.enable_keepalive()
        assert (s.ping_plugin.interval, s.ping_plugin.timeout) == (INTERVAL, 0.5)
        await answer_keepalives(s, 1, to=SERVER, frm=None, server=SERVER)
        s.ping_plugin.disable_keepalive()


async def test_component_keepalive(impl: Impl) -> None:
    async with component_stream(impl.cls) as s:
        s.ping_plugin.enable_keepalive(INTERVAL, 0.5)
        # A component pings boundjid.host, its own domain.  slixmpp 1.8.6 on
        # sends it from boundjid; 1.8.3 sent it without 'from' (a component
        # must say which of its addresses sends).  slixmpp-ping-c does what
        # 1.8.6 on does on every version.
        frm = COMPONENT_JID if COMPONENT_KEEPALIVE_HAS_FROM or impl.is_ours else None
        await answer_keepalives(s, 2, to=COMPONENT_JID, frm=frm, server=COMPONENT_JID)
        s.ping_plugin.disable_keepalive()
        await assert_quiet(s, 2 * INTERVAL)


async def test_keepalive_error_from_server_is_a_pong(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        reconnect = ReconnectRecorder(s.xmpp.reconnect)
        s.xmpp.reconnect = reconnect
        s.ping_plugin.enable_keepalive(INTERVAL, 0.5)
        _, id_ = await next_keepalive_ping(s)
        s.feed(f"<iq type='error' id='{id_}' from='{SERVER}'><error type='cancel'>"
               "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
        await answer_keepalives(s, 1, to=SERVER, frm=None, server=SERVER)
        s.ping_plugin.disable_keepalive()
        assert reconnect.calls == []


async def test_keepalive_timeout_reconnects(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        reconnect = ReconnectRecorder(s.xmpp.reconnect)
        s.xmpp.reconnect = reconnect
        timeout = 0.02
        # shorter than the interval: the first ping times out before the next
        s.ping_plugin.enable_keepalive(INTERVAL, timeout)
        await next_keepalive_ping(s)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1
        while not reconnect.calls and loop.time() < deadline:
            await asyncio.sleep(0.005)
        s.ping_plugin.disable_keepalive()
        assert reconnect.calls[:1] == [{'wait': 0.0, 'reason': 'Ping timeout after %ds' % timeout}]
        # let every in-flight keepalive ping time out before the pending check
        await s.wait_no_pending()
        s.take_sent()


@pytest.mark.parametrize('stop', ['disable_keepalive', 'session_end'])
async def test_stopping_keepalive(impl: Impl, stop: str) -> None:
    """session_end is an alias of disable_keepalive on slixmpp's plugin.
    (It is not hooked to the 'session_end' event; that event is not
    asserted on.)"""
    async with client_stream(impl.cls) as s:
        s.ping_plugin.enable_keepalive(INTERVAL, 0.5)
        await answer_keepalives(s, 1, to=SERVER, frm=None, server=SERVER)
        getattr(s.ping_plugin, stop)()
        assert KEEPALIVE not in s.xmpp.scheduled_events
        await assert_quiet(s, 3 * INTERVAL)


async def test_disable_keepalive_accepts_event_argument(impl: Impl) -> None:
    """It is used as an event handler ('disconnected'), so it takes one."""
    async with client_stream(impl.cls) as s:
        s.ping_plugin.enable_keepalive(INTERVAL, 0.5)
        s.ping_plugin.disable_keepalive({})
        assert KEEPALIVE not in s.xmpp.scheduled_events
        await assert_quiet(s, 2 * INTERVAL)


async def test_reenabling_keepalive_replaces_schedule(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        s.ping_plugin.enable_keepalive(10, 0.5)
        s.ping_plugin.disable_keepalive()
        s.ping_plugin.enable_keepalive(INTERVAL, 0.5)
        await answer_keepalives(s, 1, to=SERVER, frm=None, server=SERVER)
        s.ping_plugin.disable_keepalive()


async def test_keepalive_config_starts_on_session_start_stops_on_disconnect(impl: Impl) -> None:
    config = {'keepalive': True, 'interval': INTERVAL, 'timeout': 0.5}
    async with client_stream(impl.cls, config=config) as s:
        # open_client() fired session_start
        assert KEEPALIVE in s.xmpp.scheduled_events
        await answer_keepalives(s, 2, to=SERVER, frm=None, server=SERVER)
        await s.drop_connection()  # 'disconnected'
        assert KEEPALIVE not in s.xmpp.scheduled_events
        await asyncio.sleep(2 * INTERVAL)
        assert s.transport.dropped == b''  # nothing even attempted
        # a new session starts it again
        await s.reconnect_transport()
        s.bind_client(CLIENT_JID)
        await s.settle()
        s.take_sent()
        assert KEEPALIVE in s.xmpp.scheduled_events
        await answer_keepalives(s, 1, to=SERVER, frm=None, server=SERVER)
        s.ping_plugin.disable_keepalive()


async def test_keepalive_config_false_does_not_start(impl: Impl) -> None:
    async with client_stream(impl.cls, config={'interval': INTERVAL}) as s:
        assert KEEPALIVE not in s.xmpp.scheduled_events
        await assert_quiet(s, 2 * INTERVAL)
