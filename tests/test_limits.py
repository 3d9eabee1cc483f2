"""Bounds on what a caller or a peer can make the plugin hold: pings in
flight (max_pending), per-peer statistics (stats_max_peers), and ids no
peer can predict."""

from __future__ import annotations

import asyncio
import itertools
import re
from typing import Any

import pytest
from slixmpp.jid import JID

import slixmpp_ping_c
from slixmpp_ping_c import TooManyPings, XEP_0199
from tests.memstream import (CLIENT_JID, MemoryStream, SERVER, client_stream,
                             result_xml)

ID_FORM = re.compile(r'[0-9a-f]{16}')


async def sent(s: MemoryStream) -> list[tuple[str, str]]:
    """(id, to) of each ping written since last time."""
    await s.settle()
    return [(e.get('id'), e.get('to')) for e in s.take_elements()]


async def answer(s: MemoryStream, pings: list[tuple[str, str]]) -> None:
    for id_, to in pings:
        s.feed(result_xml(id_, frm=to))
    await s.settle()


# ---- max_pending -------------------------------------------------------

def test_the_limits_are_in_the_default_config() -> None:
    assert XEP_0199.default_config['max_pending'] == 100_000
    assert XEP_0199.default_config['stats_max_peers'] == 10_000
    assert issubclass(TooManyPings, RuntimeError)
    assert 'TooManyPings' in slixmpp_ping_c.__all__


async def test_past_max_pending_nothing_is_sent_or_tracked() -> None:
    async with client_stream(XEP_0199, config={'max_pending': 3}) as s:
        plugin = s.ping_plugin
        tasks = [asyncio.ensure_future(plugin.ping(SERVER)) for _ in range(2)]
        futures = [plugin.send_ping(SERVER)]
        first = await sent(s)
        assert len(first) == 3 and plugin.pending() == 3
        with pytest.raises(TooManyPings) as refused:
            await plugin.ping(SERVER)
        assert refused.value.limit == 3 and 'max_pending' in str(refused.value)
        with pytest.raises(TooManyPings):
            plugin.send_ping('other@example.com', callback=pytest.fail)
        # Nothing written, tracked or counted for the refused two.
        assert await sent(s) == [] and plugin.pending() == 3
        assert plugin.stats(SERVER).sent == 3
        with pytest.raises(KeyError):
            plugin.stats('other@example.com')
        # One answered: room for one more.
        await answer(s, first[:1])
        assert plugin.pending() == 2
        tasks.append(asyncio.ensure_future(plugin.ping(SERVER)))
        second = await sent(s)
        assert len(second) == 1 and plugin.pending() == 3
        await answer(s, first[1:] + second)
        rtts = await asyncio.gather(*tasks)
        assert all(rtt >= 0 for rtt in rtts)
        assert (await futures[0])['type'] == 'result'
        assert plugin.stats(SERVER)[:3] == (4, 4, 0)


async def test_the_default_limit_applies() -> None:
    async with client_stream(XEP_0199) as s:
        plugin = s.ping_plugin
        tap = plugin._tap
        peer = plugin._peers.peer(SERVER)
        loop = asyncio.get_running_loop()
        for _ in range(100_000 - 1):
            tap.track(peer, 60.0, loop.create_future(), None)
        last = asyncio.ensure_future(plugin.ping(SERVER))
        (ping,) = await sent(s)
        assert plugin.pending() == 100_000
        with pytest.raises(TooManyPings):
            plugin.send_ping(SERVER)
        await answer(s, [ping])
        assert await last >= 0 and plugin.pending() == 100_000 - 1
        tap.cancel_all()


async def test_max_pending_none_is_no_limit() -> None:
    async with client_stream(XEP_0199, config={'max_pending': None}) as s:
        futures = [s.ping_plugin.send_ping(SERVER) for _ in range(3)]
        await answer(s, await sent(s))
        assert all(f.result()['type'] == 'result' for f in futures)


async def test_max_pending_can_change_at_run_time() -> None:
    async with client_stream(XEP_0199) as s:
        s.ping_plugin.max_pending = 1
        future = s.ping_plugin.send_ping(SERVER)
        with pytest.raises(TooManyPings):
            s.ping_plugin.send_ping(SERVER)
        await answer(s, await sent(s))
        assert (await future)['type'] == 'result'


# ---- ids ---------------------------------------------------------------

def ids_of(count: int) -> list[str]:
    from tests.test_core import make_tap
    from slixmpp_ping_c._core import Peer
    loop = asyncio.new_event_loop()
    try:
        tap, _, _ = make_tap(loop)
        peer = Peer('example.com', 'example.com')
        ids = [tap.track(peer, 60.0, None, None) for _ in range(count)]
        tap.cancel_all()
        return ids
    finally:
        loop.close()


def test_ids_are_unpredictable() -> None:
    """64 random bits each: distinct, 16 hex digits, no order, every bit
    set about half the time (a counter, a clock or a short random part
    would leave the high bits nearly constant)."""
    ids = ids_of(20_000)
    assert len(set(ids)) == len(ids)
    assert all(ID_FORM.fullmatch(id_) for id_ in ids)
    keys = [int(id_, 16) for id_ in ids]
    steps = {b - a for a, b in itertools.pairwise(keys)}
    assert len(steps) > len(keys) // 2
    rising = sum(b > a for a, b in itertools.pairwise(keys))
    # ~10,000 ± 71 for random ids; 5,000 is 70 standard deviations away.
    assert 5_000 < rising < 15_000
    for bit in range(64):
        ones = sum(key >> bit & 1 for key in keys)
        assert 8_000 < ones < 12_000, f'bit {bit} set in {ones} of 20,000'
    # Another table draws its own ids.
    assert not set(ids_of(1_000)) & set(ids)


async def test_ids_on_the_wire() -> None:
    async with client_stream(XEP_0199) as s:
        task = asyncio.ensure_future(s.ping_plugin.ping(SERVER))
        future = s.ping_plugin.send_ping(SERVER)
        pings = await sent(s)
        assert [ID_FORM.fullmatch(id_) is not None for id_, _ in pings] == [
            True, True]
        assert pings[0][0] != pings[1][0]
        await answer(s, pings)
        await task
        await future


# ---- stats_max_peers ---------------------------------------------------

async def ping_each(s: MemoryStream, *jids: str) -> None:
    tasks = [asyncio.ensure_future(s.ping_plugin.ping(jid)) for jid in jids]
    await answer(s, await sent(s))
    await asyncio.gather(*tasks)


async def test_a_peer_keeps_nothing_the_session_or_the_caller_has() -> None:
    """Memory per JID pinged (a gateway pings thousands): the session's
    senders are one tuple for every peer, a peer has no JID object and no
    __dict__, and a full JID named as such needs no name cached for it."""
    async with client_stream(XEP_0199) as s:
        plugin = s.ping_plugin
        names = [f'u{i}@example.net/r' for i in range(3)]
        await ping_each(s, *names, 'U0@Example.NET/r')
        peers = [plugin._peers.by_jid[name] for name in names]
        own = JID(CLIENT_JID)
        assert peers[0].senders == ('', own.bare, own.domain)
        assert all(peer.senders is peers[0].senders for peer in peers)
        assert all(peer.to is name and type(peer.jid) is str
                   and not hasattr(peer, '__dict__')
                   for peer, name in zip(peers, names, strict=True))
        assert list(plugin._peers.by_name) == ['U0@Example.NET/r']
        assert plugin.stats(names[0])[:2] == (2, 2)
        assert list(plugin.stats()) == [JID(name)
                                        for name in names[1:] + names[:1]]


async def test_stats_keep_the_most_recently_pinged_peers() -> None:
    config: dict[str, Any] = {'stats_max_peers': 3}
    async with client_stream(XEP_0199, config=config) as s:
        plugin = s.ping_plugin
        a, b, c, d = (f'{name}@example.net' for name in 'abcd')
        await ping_each(s, a, b, c)
        await ping_each(s, a)           # b is now the least recent
        await ping_each(s, d)
        assert list(plugin.stats()) == [JID(c), JID(a), JID(d)]
        with pytest.raises(KeyError):
            plugin.stats(b)
        assert plugin.stats(a)[:2] == (2, 2)
        # send_ping() counts as use too: c moves up, a goes next.
        future = plugin.send_ping(c)
        await answer(s, await sent(s))
        await future
        await ping_each(s, b)
        assert list(plugin.stats()) == [JID(d), JID(c), JID(b)]
        # b starts afresh, under any name cached for it before.
        assert plugin.stats(b)[:2] == (1, 1)
        await ping_each(s, 'B@EXAMPLE.NET')
        assert plugin.stats(b)[:2] == (2, 2)
        assert len(plugin._peers.by_name) <= 3


async def test_stats_stay_bounded() -> None:
    async with client_stream(XEP_0199, config={'stats_max_peers': 50}) as s:
        plugin = s.ping_plugin
        for batch in range(10):
            await ping_each(s, *(f'u{batch}-{i}@example.net'
                                 for i in range(20)))
        stats = plugin.stats()
        assert list(stats) == [JID(f'u{batch}-{i}@example.net')
                               for batch in (7, 8, 9) for i in range(20)][10:]
        assert len(plugin._peers.by_name) <= 50
