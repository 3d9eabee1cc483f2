"""The features beyond slixmpp's plugin (tests/test_features.py) against a
real Prosody: idle-aware keepalive on a busy and an idle stream, retries
and the events on a link that went dead (a relay that drops what the
client sends), errors as pongs, is_ping_supported() and ping_many().
Our plugin only: slixmpp's has none of this."""
from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from slixmpp.exceptions import IqError
from slixmpp.jid import JID

from tests.conftest import load_impl
from tests.prosody import Prosody
from slixmpp_ping_c import PingTimeout
from tests.test_prosody import (
    OURS, PING_TIMEOUT, START_TIMEOUT, EventLog, Proxy, Session, ping_plugin, unique_resource,
    until)

SLIXMPPS = load_impl('slixmpp')


def keepalive_stats(plugin: Any, domain: str) -> tuple[int, int]:
    """(sent, received) of the pings to the server: the keepalive's."""
    stats = plugin.stats().get(JID(domain))
    return (stats.sent, stats.received) if stats else (0, 0)


async def test_idle_keepalive_is_quiet_while_stanzas_arrive(prosody: Prosody) -> None:
    interval = 0.5
    config = {'keepalive': True, 'keepalive_idle_only': True,
              'interval': interval, 'timeout': PING_TIMEOUT}
    domain = prosody.domain
    async with Session(prosody) as session:
        alice = await session.client('alice', OURS, config=config)
        bob = await session.client('bob', OURS)
        plugin = ping_plugin(alice)
        messages = EventLog(alice, 'message')

        async def busy(send: Any, seconds: float) -> int:
            end = time.monotonic() + seconds
            count = 0
            while time.monotonic() < end:
                await send(count)
                count += 1
                await asyncio.sleep(0.1)
            return count

        async def message(i: int) -> None:
            bob.send_message(alice.boundjid.full, f'busy {i}')
            if i == 0:
                await messages.wait('message')

        async def ping_alice(i: int) -> None:
            # answered by alice's C tap: slixmpp never sees these
            await ping_plugin(bob).ping(alice.boundjid.full, timeout=PING_TIMEOUT)

        await busy(message, 0.1)
        before = keepalive_stats(plugin, domain)[0]
        await busy(message, 3 * interval)
        answered_before = plugin._tap.counters()[0]
        pinged = await busy(ping_alice, 3 * interval)
        assert plugin._tap.counters()[0] - answered_before == pinged
        assert keepalive_stats(plugin, domain)[0] == before
        # quiet now: a keepalive ping goes out and is answered
        await until(lambda: keepalive_stats(plugin, domain)[1] > before,
                    interval + PING_TIMEOUT, 'a keepalive pong on the idle stream')
        plugin.disable_keepalive()


async def test_keepalive_retries_then_keepalive_failed_on_a_dead_link(
        prosody: Prosody) -> None:
    retries = 3
    config = {'keepalive': True, 'interval': 0.3, 'timeout': 0.2,
              'keepalive_retries': retries}
    async with Proxy(prosody) as proxy, Session(prosody) as session:
        alice = await session.client('alice', OURS, config=config, address=proxy.address)
        plugin = ping_plugin(alice)
        timeline: list[tuple[str, Any]] = []
        for name in ('ping_timeout', 'keepalive_failed', 'session_start'):
            alice.add_event_handler(name, lambda data, name=name: timeline.append((name, data)))
        reconnect = alice.reconnect

        def spy(*args: Any, **kwargs: Any) -> Any:
            timeline.append(('reconnect', args))
            proxy.blackhole = False   # the network is back for the new connection
            return reconnect(*args, **kwargs)
        alice.reconnect = spy
        await until(lambda: keepalive_stats(plugin, prosody.domain)[1] >= 1,
                    PING_TIMEOUT, 'a keepalive pong')
        proxy.blackhole = True
        await until(lambda: ('session_start', {}) in timeline, START_TIMEOUT,
                    'a new session after the keepalive failed', lambda: timeline)
        names = [name for name, _ in timeline]
        failed = names.index('keepalive_failed')
        assert names[failed - retries:failed + 3] == (
            ['ping_timeout'] * retries + ['keepalive_failed', 'reconnect', 'session_start'])
        assert 'ping_timeout' not in names[:failed - retries]
        timeouts = [data for _, data in timeline[failed - retries:failed]]
        assert {t.jid for t in timeouts} == {JID(prosody.domain)}
        assert len({t.iq['id'] for t in timeouts}) == retries
        assert timeline[failed][1] == PingTimeout(JID(prosody.domain), timeouts[-1].iq)
        # the pings were sent and lost, one after the other
        assert sum(relay.dropped.count(b'urn:xmpp:ping') for relay in proxy.relays) >= retries
        assert (await plugin.ping(timeout=PING_TIMEOUT)) > 0
        plugin.disable_keepalive()


async def test_error_is_pong_with_prosody_and_a_client_without_ping(prosody: Prosody) -> None:
    domain = prosody.domain
    async with Session(prosody) as session:
        alice = await session.client('alice', OURS, config={'error_is_pong': True})
        bob = await session.client('bob', SLIXMPPS)
        bob.remove_handler('Ping')   # bob's slixmpp now answers feature-not-implemented
        plugin = ping_plugin(alice)
        assert (await plugin.ping(bob.boundjid.full, timeout=PING_TIMEOUT)) > 0
        # Prosody answers service-unavailable in the name of a full JID
        # without a session: on the wire the same as a client without
        # XEP-0199, so it counts too (see the README).
        gone = f'carol@{domain}/{unique_resource("gone")}'
        assert (await plugin.ping(gone, timeout=PING_TIMEOUT)) > 0
        with pytest.raises(IqError) as info:
            await plugin.ping('elsewhere.example', timeout=PING_TIMEOUT)
        assert info.value.iq['error']['condition'] == 'not-allowed'
        plugin.error_is_pong = False
        with pytest.raises(IqError) as info:
            await plugin.ping(bob.boundjid.full, timeout=PING_TIMEOUT)
        assert info.value.iq['error']['condition'] == 'feature-not-implemented'
        assert plugin.stats(bob.boundjid.full).received == 1
        assert plugin.stats(bob.boundjid.full).lost == 1


async def test_is_ping_supported_with_prosody(prosody: Prosody) -> None:
    domain = prosody.domain
    async with Session(prosody) as session:
        alice = await session.client('alice', OURS)
        bob = await session.client('bob', OURS)
        carol = await session.client('carol', SLIXMPPS)
        carol.plugin['xep_0030'].del_feature(feature='urn:xmpp:ping')
        plugin = ping_plugin(alice)
        disco = alice.plugin['xep_0030']
        queries: list[Any] = []
        get_info = disco.get_info

        async def counted(jid: Any, *args: Any, **kwargs: Any) -> Any:
            queries.append(jid)
            return await get_info(jid, *args, **kwargs)
        disco.get_info = counted
        assert await plugin.is_ping_supported(domain) is True
        assert await plugin.is_ping_supported(bob.boundjid.full) is True
        assert await plugin.is_ping_supported(carol.boundjid.full) is False
        assert await plugin.is_ping_supported(alice.boundjid.full) is True   # local
        with pytest.raises(IqError) as info:
            await plugin.is_ping_supported(f'dave@{domain}/{unique_resource("gone")}')
        assert info.value.iq['error']['condition'] == 'service-unavailable'
        asked = len(queries)
        for jid in (domain, bob.boundjid.full, carol.boundjid.full):
            await plugin.is_ping_supported(jid)
        assert len(queries) == asked   # kept for the session
        # a new session asks again
        events = EventLog(alice, 'session_start')
        alice.reconnect(0.0)
        await events.wait('session_start')
        assert await plugin.is_ping_supported(domain) is True
        assert queries[asked:] == [domain]


async def test_ping_many_with_prosody(prosody: Prosody) -> None:
    domain = prosody.domain
    async with Session(prosody) as session:
        alice = await session.client('alice', OURS)
        bob = await session.client('bob', SLIXMPPS)
        plugin = ping_plugin(alice)
        # Prosody answers for any bare JID of its host itself.
        bare = [f'user{i}@{domain}' for i in range(300)]
        gone = f'carol@{domain}/{unique_resource("gone")}'
        targets = [domain, bob.boundjid.full, *bare, gone, 'elsewhere.example']
        results = await plugin.ping_many(targets, timeout=PING_TIMEOUT, concurrency=50)
        assert list(results) == targets
        for jid in [domain, bob.boundjid.full, *bare]:
            assert isinstance(results[jid], float), (jid, results[jid])
        assert results[gone].iq['error']['condition'] == 'service-unavailable'
        assert results['elsewhere.example'].iq['error']['condition'] == 'not-allowed'
        assert plugin.pending() == 0
        # all at once, without a cap
        results = await plugin.ping_many(bare, timeout=PING_TIMEOUT)
        assert all(isinstance(rtt, float) for rtt in results.values())
