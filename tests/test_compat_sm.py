"""XEP-0198 Stream Management sees every ping and every answer.

slixmpp's SM plugin counts received Message/Presence/Iq stanzas in its 'in'
filter (``handled``) and sent ones in its 'out_sync' filter (``seq``,
``unacked_queue``), so answers must be real Iq stanzas going through
slixmpp's send path, and received pings must pass the incoming filters.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import pytest
import slixmpp
from slixmpp.plugins.xep_0198 import stanza as sm_stanza

from tests.memstream import (
    OLD_SLIXMPP, SERVER, SM_NS, MemoryStream, client_stream, message_xml, parse_stanzas, ping_xml,
    result_xml, split_stanzas)

if TYPE_CHECKING:
    from tests.conftest import Impl

JULIET = 'juliet@capulet.example/balcony'
R = f'<r xmlns="{SM_NS}"/>'  # SM ack request, sent after every `window` (5) stanzas


def unacked(s: MemoryStream) -> list[tuple[int, str]]:
    sm = s.xmpp.plugin['xep_0198']
    for _, stanza in sm.unacked_queue:
        # only Iq objects are counted by the SM out filter in the first place
        assert isinstance(stanza, slixmpp.Iq)
    return [(seq, s.c14n(str(stanza))) for seq, stanza in sm.unacked_queue]


async def sm_stream_with_traffic(s: MemoryStream) -> list[str]:
    """Enable SM, then: 3 incoming pings (two in one read, one split across
    reads) and a message, 2 outgoing pings answered.  Returns what went out,
    canonicalised, in wire order."""
    sm = s.xmpp.plugin['xep_0198']
    await s.enable_sm()
    assert s.take_stanzas() == [s.c14n(f'<enable xmlns="{SM_NS}" resume="true"/>')]
    assert (sm.enabled_in, sm.enabled_out, sm.handled, sm.seq) == (True, True, 0, 0)

    s.feed(ping_xml('in1', frm=SERVER) + ping_xml('in2', frm=JULIET))
    third = (message_xml('hello') + ping_xml('in3', frm=SERVER)).encode()
    s.feed(third[:70])
    s.feed(third[70:])
    await s.settle()
    out1 = asyncio.create_task(s.ping_plugin.ping(JULIET))
    await s.settle()
    out2 = asyncio.create_task(s.ping_plugin.ping())
    await s.settle()
    raw = s.take_sent()
    wire = split_stanzas(raw, s.ns)
    assert len(wire) == 6
    assert wire[:3] == s.canon_list(result_xml('in1', to=SERVER), result_xml('in2', to=JULIET),
                                    result_xml('in3', to=SERVER))
    # the SM plugin (window 5) asks for an ack just before the 5th counted
    # stanza goes out
    assert wire[4] == s.c14n(R)
    ping_ids = [e.get('id') for e in parse_stanzas(raw, s.ns)[3::2]]
    assert [wire[3], wire[5]] == s.canon_list(ping_xml(ping_ids[0], to=JULIET),
                                              ping_xml(ping_ids[1], to=SERVER))
    s.feed(result_xml(ping_ids[0], frm=JULIET) + result_xml(ping_ids[1], frm=SERVER))
    assert (await out1) >= 0 and (await out2) >= 0
    await s.settle()
    assert s.take_sent() == b''
    return wire


async def test_sm_counts_pings_and_answers(impl: Impl) -> None:
    async with client_stream(impl.cls, extra_plugins=('xep_0198',)) as s:
        sm = s.xmpp.plugin['xep_0198']
        wire = await sm_stream_with_traffic(s)
        # received: 3 pings + 1 message + 2 results
        assert sm.handled == 6
        # sent: 3 results + 2 pings, all unacked, in wire order
        assert sm.seq == 5
        assert unacked(s) == list(enumerate([w for w in wire if w != s.c14n(R)], start=1))


async def test_sm_ack_removes_acked_stanzas(impl: Impl) -> None:
    async with client_stream(impl.cls, extra_plugins=('xep_0198',)) as s:
        sm = s.xmpp.plugin['xep_0198']
        wire = [w for w in await sm_stream_with_traffic(s) if w != s.c14n(R)]
        s.feed(f"<a xmlns='{SM_NS}' h='3'/>")
        await s.settle()
        assert sm.last_ack == 3
        assert unacked(s) == [(4, wire[3]), (5, wire[4])]
        s.feed(f"<a xmlns='{SM_NS}' h='5'/>")
        await s.settle()
        assert unacked(s) == []
        # and the server asking for our count gets every received stanza
        s.feed(f"<r xmlns='{SM_NS}'/>")
        await s.settle()
        assert s.take_stanzas() == [s.c14n(f'<a xmlns="{SM_NS}" h="6"/>')]


async def test_sm_resume_resends_unacked(impl: Impl, caplog: pytest.LogCaptureFixture) -> None:
    async with client_stream(impl.cls, extra_plugins=('xep_0198',)) as s:
        sm = s.xmpp.plugin['xep_0198']
        wire = [w for w in await sm_stream_with_traffic(s) if w != s.c14n(R)]
        s.feed(f"<a xmlns='{SM_NS}' h='2'/>")
        await s.settle()
        assert [seq for seq, _ in unacked(s)] == [3, 4, 5]

        # connection lost; new TCP connection and stream; resume
        await s.reconnect_transport()
        s.take_sent()  # our new stream header
        assert (sm.enabled_in, sm.enabled_out) == (False, False)
        resume = sm_stanza.Resume(s.xmpp)
        resume['h'] = sm.handled
        resume['previd'] = sm.sm_id
        resume.send()
        await s.settle()
        assert s.take_stanzas() == [s.c14n(f'<resume xmlns="{SM_NS}" h="6" previd="sm-1"/>')]
        caplog.clear()
        s.feed(f"<resumed xmlns='{SM_NS}' h='3' previd='sm-1'/>")
        await s.settle()
        resent = s.take_stanzas()
        if OLD_SLIXMPP:
            # 1.8.3's out filter empties the unacked queue for <resume/> as
            # for <enable/>, so nothing is resent (and h=3 looks
            # inconsistent to it); later versions keep the queue.
            assert resent == []
            assert unacked(s) == []
            assert any('Inconsistent sequence numbers' in r.getMessage() for r in caplog.records
                       if r.levelno >= logging.ERROR)
        else:
            # h=3 acks one more: the two pings are resent, exactly once
            assert resent == wire[3:]
            assert [seq for seq, _ in unacked(s)] == [4, 5]

        # the resumed stream keeps counting pings and answers
        s.feed(ping_xml('after-resume', frm=SERVER))
        await s.settle()
        assert s.take_stanzas() == s.canon_list(result_xml('after-resume', to=SERVER))
        assert sm.handled == 7
        assert sm.seq == 6
        assert unacked(s)[-1] == (6, s.c14n(result_xml('after-resume', to=SERVER)))
