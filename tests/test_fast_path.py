"""When the C fast path may take a stanza, and when it must leave it to
slixmpp: whatever an application registered sees every ping it would have
seen with slixmpp's own plugin.  These tests are about slixmpp_ping_c only;
the counters say which path a stanza took."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest
import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

from slixmpp_ping_c import PingStats, XEP_0199
from tests.memstream import MemoryStream, client_stream, ping_xml, result_xml

SERVER = 'example.com'


def counters(s: MemoryStream) -> tuple[int, int]:
    return s.ping_plugin._tap.counters()


async def answered_in_c(s: MemoryStream, id_: str) -> bool:
    """Feeds a ping; True if C answered it.  Either way it is answered."""
    before = counters(s)[0]
    s.feed(ping_xml(id_, frm=SERVER))
    await s.settle()
    assert s.take_stanzas() == s.canon_list(result_xml(id_, to=SERVER))
    return counters(s)[0] == before + 1


async def pong_in_c(s: MemoryStream) -> bool:
    """A ping() to the server and its answer; True if C completed it."""
    before = counters(s)[1]
    task = s.xmpp.loop.create_task(s.ping_plugin.ping())
    await s.settle()
    id_ = re.search(r'id="([0-9a-f]+)"', s.take_sent().decode()).group(1)
    s.feed(result_xml(id_, frm=SERVER))
    assert await task >= 0
    return counters(s)[1] == before + 1


async def test_fast_by_default() -> None:
    async with client_stream(XEP_0199) as s:
        assert await answered_in_c(s, 'a')
        assert await pong_in_c(s)


async def test_an_application_handler_sees_pings() -> None:
    async with client_stream(XEP_0199) as s:
        seen: list[str] = []
        s.xmpp.register_handler(Callback(
            'app pings', StanzaPath('iq@type=get/ping'),
            lambda iq: seen.append(iq['id'])))
        assert not await answered_in_c(s, 'seen')
        assert seen == ['seen']
        assert await pong_in_c(s)  # results are not what it matches
        s.xmpp.remove_handler('app pings')
        assert await answered_in_c(s, 'unseen')
        assert seen == ['seen']


async def test_an_application_handler_sees_results() -> None:
    async with client_stream(XEP_0199) as s:
        seen: list[str] = []
        s.xmpp.register_handler(Callback(
            'app results', StanzaPath('iq@type=result'),
            lambda iq: seen.append(iq['id'])))
        assert not await pong_in_c(s)
        assert len(seen) == 1
        assert await answered_in_c(s, 'ping')


@pytest.mark.parametrize('mode', ['in', 'out', 'out_sync'])
async def test_a_filter_sees_pings(mode: str) -> None:
    async with client_stream(XEP_0199) as s:
        seen: list[str] = []

        def app_filter(stanza: Any) -> Any:
            seen.append(stanza.xml.get('id'))
            return stanza
        s.xmpp.add_filter(mode, app_filter)
        assert not await answered_in_c(s, 'f')
        assert 'f' in seen
        # An 'in' filter sees the answer to our ping; an 'out' filter sees
        # the ping itself, and the answer may be taken in C.
        assert await pong_in_c(s) is (mode != 'in')
        assert len(seen) == 2
        s.xmpp.del_filter(mode, app_filter)
        assert await answered_in_c(s, 'g')
        assert 'g' not in seen


async def test_an_overridden_incoming_filter_sees_pings() -> None:
    seen: list[str] = []

    class Client(slixmpp.ClientXMPP):
        def incoming_filter(self, xml: Any) -> Any:
            seen.append(xml.get('id'))
            return xml
    from tests import memstream
    original = memstream._new_client
    memstream._new_client = lambda jid: Client(jid, 'secret')
    try:
        async with client_stream(XEP_0199) as s:
            assert not await answered_in_c(s, 'o')
            assert 'o' in seen
    finally:
        memstream._new_client = original


async def test_debug_logging_shows_pings(caplog: pytest.LogCaptureFixture
                                         ) -> None:
    async with client_stream(XEP_0199) as s:
        with caplog.at_level(logging.DEBUG,
                             logger='slixmpp.xmlstream.xmlstream'):
            assert not await answered_in_c(s, 'logged')
        assert any('RECV' in r.getMessage() and 'logged' in r.getMessage()
                   for r in caplog.records)
        assert any('SEND' in r.getMessage() and 'logged' in r.getMessage()
                   for r in caplog.records)
        assert await answered_in_c(s, 'quiet')


async def test_slixmpps_own_presence_filters_do_not_stop_it() -> None:
    async with client_stream(XEP_0199, extra_plugins=('xep_0115',)) as s:
        assert await answered_in_c(s, 'caps')
        assert await pong_in_c(s)


async def test_stats() -> None:
    async with client_stream(XEP_0199) as s:
        for _ in range(3):
            await pong_in_c(s)
        stats = s.ping_plugin.stats()
        assert list(stats) == [slixmpp.JID(SERVER)]
        entry = s.ping_plugin.stats(SERVER)
        assert isinstance(entry, PingStats) and entry == stats[SERVER]
        assert (entry.sent, entry.received, entry.lost) == (3, 3, 0)
        assert 0 <= entry.min <= entry.avg <= entry.max
        assert entry.last >= entry.min and entry.mdev >= 0
        with pytest.raises(KeyError):
            s.ping_plugin.stats('never@example.com')


async def test_stats_of_a_wrong_type() -> None:
    async with client_stream(XEP_0199) as s:
        with pytest.raises(TypeError):
            s.ping_plugin.stats(123)


async def test_no_pong_taken_once_slixmpp_refused_the_stream() -> None:
    """Found by fuzzing: slixmpp refuses a read with a malformed byte and
    drops the rest of it; the tap completed a pong from that rest."""
    async with client_stream(XEP_0199, check_pending=False) as s:
        before = counters(s)[1]
        task = s.xmpp.loop.create_task(s.ping_plugin.ping(timeout=0.2))
        await s.settle()
        id_ = re.search(r'id="([0-9a-f]+)"', s.take_sent().decode()).group(1)
        s.feed(b'<message><body>x</body></message>\x91'
               + result_xml(id_, frm=SERVER).encode())
        await s.settle()
        assert 'not-well-formed' in s.take_sent().decode()
        (outcome,) = await asyncio.gather(task, return_exceptions=True)
        assert isinstance(outcome, Exception)
        assert counters(s)[1] == before


async def test_no_ping_answered_once_slixmpp_refused_an_earlier_read() -> None:
    """Found by fuzzing: the read slixmpp refused went to it whole, and the
    tap answered a ping that began the next one."""
    async with client_stream(XEP_0199, check_pending=False) as s:
        s.feed(b'<message><body>x</body></message>\x91')
        await s.settle()
        assert 'not-well-formed' in s.take_sent().decode()
        before = counters(s)[0]
        s.feed(ping_xml('late', frm=SERVER))
        await s.settle()
        assert 'type="result"' not in s.take_sent().decode()
        assert counters(s)[0] == before


# ---- one transport write a turn ---------------------------------------------

async def test_a_turns_pings_go_out_in_one_write() -> None:
    async with client_stream(XEP_0199) as s:
        before = s.transport.writes
        pings = asyncio.gather(*(s.ping_plugin.ping(timeout=60)
                                 for _ in range(20)))
        await s.settle()
        sent = s.take_sent().decode()
        assert s.transport.writes == before + 1 and sent.count('<iq ') == 20
        ids = re.findall(r'id="([0-9a-f]+)"', sent)
        # ...and a read's answers, to the server's pings, in one too.
        s.feed(''.join(result_xml(i, frm=SERVER) for i in ids)
               + ping_xml('a1', frm=SERVER) + ping_xml('a2', frm=SERVER))
        assert len(await pings) == 20
        await s.settle()
        assert s.transport.writes == before + 2
        assert s.take_sent().count(b'<iq ') == 2
        assert counters(s) == (2, 20)


async def test_what_slixmpp_writes_follows_the_turns_pings() -> None:
    # slixmpp's send_raw() (its send queue, keepalives, SM's <r/>, the
    # stream footer) flushes the turn's pings first: the wire keeps the
    # order in which Stream Management counted.
    async with client_stream(XEP_0199) as s:
        tasks = [asyncio.create_task(s.ping_plugin.ping(timeout=60))
                 for _ in range(3)]
        await asyncio.sleep(0)      # each task has sent; no flush yet
        assert s.sent() == b''
        s.xmpp.send_raw('<presence/>')
        wire = s.take_stanzas()
        assert len(wire) == 4 and '<presence' in wire[3]
        assert all('urn:xmpp:ping' in stanza for stanza in wire[:3])
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
