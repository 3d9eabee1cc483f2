"""Answering incoming pings, and leaving everything else to slixmpp.

Every expected stanza is written out independently in the test and compared
after canonicalisation with what the implementation wrote to the transport.
"""
from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from slixmpp.jid import InvalidJID
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath, StanzaPath

from tests.memstream import (
    CLIENT_JID, CLIENT_NS, COMPONENT_JID, EXPAT_DEFERS, PING_NS, REPLY_ADDRESS_AS_WRITTEN, SERVER,
    STREAM_ERROR_PREFIX_TWICE, STREAM_FOOTER, STREAM_NS, STREAMS_NS, MemoryStream, client_stream,
    component_stream, error_xml, message_xml, ping_xml, result_xml, split_stanzas)

if TYPE_CHECKING:
    from tests.conftest import Impl

JULIET = 'juliet@example.net/balcony'
# Characters that must be escaped in attribute values, plus non-ASCII
# (2-, 3- and 4-byte UTF-8; no 4-byte one in the JID, which stringprep
# rejects).
SPECIAL_ID = '&<>"\' é中\U0001F600'
SPECIAL_JID = 'jüliet@exämple.net/o&<>"\'ü中'
NOT_IMPLEMENTED_TEXT = 'No handlers registered for this request.'


@dataclass
class Case:
    request: str
    expected: list[str]
    stream: dict[str, Any] = field(default_factory=dict)


def not_implemented(id_: str, to: str | None = SERVER) -> str:
    """slixmpp's reply to an unhandled get/set iq (Iq.unhandled)."""
    return error_xml(id_, 'feature-not-implemented', to=to, text=NOT_IMPLEMENTED_TEXT)


CLIENT_CASES: dict[str, Case] = {
    'basic': Case(ping_xml('p1', frm=JULIET, to=CLIENT_JID), [result_xml('p1', to=JULIET)]),
    'from-server': Case(ping_xml('p1', frm=SERVER, to=CLIENT_JID), [result_xml('p1', to=SERVER)]),
    'to-someone-else': Case(ping_xml('p1', frm=SERVER, to='other@example.org'),
                            [result_xml('p1', to=SERVER)]),
    'no-from': Case(ping_xml('p1', to=CLIENT_JID), [result_xml('p1')]),
    'no-from-no-to': Case(ping_xml('p1'), [result_xml('p1')]),
    'lang': Case(ping_xml('p1', frm=JULIET, lang='fr'), [result_xml('p1', to=JULIET, lang='fr')]),
    # the stream's own language, given explicitly, is echoed too
    'lang-same-as-stream': Case(ping_xml('p1', frm=JULIET, lang='en'),
                                [result_xml('p1', to=JULIET, lang='en')]),
    'lang-empty': Case(ping_xml('p1', frm=JULIET, lang=''), [result_xml('p1', to=JULIET, lang='')]),
    # the stream's xml:lang is not copied onto replies
    'stream-lang-de': Case(ping_xml('p1', frm=JULIET), [result_xml('p1', to=JULIET)],
                           {'lang': 'de'}),
    'stream-without-lang': Case(ping_xml('p1', frm=JULIET), [result_xml('p1', to=JULIET)],
                                {'lang': None}),
    'special-chars': Case(ping_xml(SPECIAL_ID, frm=SPECIAL_JID, to=CLIENT_JID),
                          [result_xml(SPECIAL_ID, to=SPECIAL_JID)]),
    'char-references': Case(
        "<iq type='get' id='&#x41;&#66;&#xE9;&amp;' from='juliet@example.net&#x2F;balcony'>"
        "<ping xmlns='urn:xmpp:ping'/></iq>",
        [result_xml('ABé&', to=JULIET)]),
    'space-in-resource': Case(ping_xml('p1', frm='juliet@example.net/a b'),
                              [result_xml('p1', to='juliet@example.net/a b')]),
    'explicit-client-xmlns': Case(ping_xml('p1', frm=JULIET, xmlns=CLIENT_NS),
                                  [result_xml('p1', to=JULIET)]),
    'prefixed-iq': Case("<c:iq xmlns:c='jabber:client' type='get' id='p1' from='example.com'>"
                        "<ping xmlns='urn:xmpp:ping'/></c:iq>", [result_xml('p1', to=SERVER)]),
    'prefixed-ping': Case(ping_xml('p1', frm=JULIET, payload=f"<p:ping xmlns:p='{PING_NS}'/>"),
                          [result_xml('p1', to=JULIET)]),
    # the prefix is declared on the server's stream header, not on the stanza
    'stream-declared-prefix': Case(ping_xml('p1', frm=JULIET, payload='<p:ping/>'),
                                   [result_xml('p1', to=JULIET)], {'extra_ns': {'p': PING_NS}}),
    'open-close-ping': Case(ping_xml('p1', frm=JULIET, payload=f"<ping xmlns='{PING_NS}'></ping>"),
                            [result_xml('p1', to=JULIET)]),
    'double-quotes-odd-whitespace': Case(
        f'<iq\n  id = "p1"\tfrom="{JULIET}"  type="get" ><ping  xmlns="{PING_NS}"\n/></iq >',
        [result_xml('p1', to=JULIET)]),
    'comment-in-iq': Case(
        ping_xml('p1', frm=JULIET, payload=f"<!-- hi --><ping xmlns='{PING_NS}'/>"),
        [result_xml('p1', to=JULIET)]),
    # slixmpp's reply is the request with its children removed: the iq's
    # leading text (whitespace too) stays, text after <ping/> (its tail) goes.
    'whitespace-in-iq': Case(
        ping_xml('p1', frm=JULIET, payload=f"\n  <!-- hi --><ping xmlns='{PING_NS}'/>\n"),
        [f'<iq type="result" id="p1" to="{JULIET}">\n  </iq>']),
    'text-in-iq': Case(ping_xml('p1', frm=JULIET, payload=f"a<ping xmlns='{PING_NS}'/>b"),
                       [f'<iq type="result" id="p1" to="{JULIET}">a</iq>']),
    'ping-with-content': Case(
        ping_xml('p1', frm=JULIET, payload=f"<ping xmlns='{PING_NS}' a='b'><x/>text</ping>"),
        [result_xml('p1', to=JULIET)]),
    'ping-plus-other-payload': Case(
        ping_xml('p1', frm=JULIET, payload=f"<ping xmlns='{PING_NS}'/><foo xmlns='urn:x'/>"),
        [result_xml('p1', to=JULIET)]),
    # slixmpp's reply is a copy of the request: unknown plain attributes are
    # kept, namespaced ones (not in its namespace_map) are not serialised.
    'unknown-attributes': Case(
        f"<iq type='get' id='p1' from='{JULIET}' foo='b&amp;r' xmlns:x='urn:x' x:y='z'>"
        f"<ping xmlns='{PING_NS}'/></iq>",
        ["<iq type='result' id='p1' to='juliet@example.net/balcony' foo='b&amp;r'/>"]),
    # JIDs are echoed as slixmpp echoes them: up to 1.16 it builds the reply
    # from normalised JID objects (lower-cased node and domain), 1.17 copies
    # the attribute string.
    'unnormalised-jid': Case(
        ping_xml('p1', frm='Juliet@Example.NET/Balcony'),
        [result_xml('p1', to='Juliet@Example.NET/Balcony' if REPLY_ADDRESS_AS_WRITTEN
                    else 'juliet@example.net/Balcony')]),
}

# Stanzas that are not pings for XEP-0199's purposes: slixmpp's own default
# handling must apply, unchanged.
NOT_PING_CASES: dict[str, Case] = {
    'type-set': Case(ping_xml('n1', frm=SERVER, type_='set'), [not_implemented('n1')]),
    'other-namespace': Case(ping_xml('n1', frm=SERVER, payload="<ping xmlns='urn:xmpp:pong'/>"),
                            [not_implemented('n1')]),
    'no-namespace': Case(ping_xml('n1', frm=SERVER, payload='<ping/>'), [not_implemented('n1')]),
    'nested-ping': Case(ping_xml('n1', frm=SERVER, payload=(
        f"<query xmlns='urn:x'><ping xmlns='{PING_NS}'/></query>")), [not_implemented('n1')]),
    'type-result': Case(ping_xml('n1', frm=SERVER, type_='result'), []),
    'type-error': Case(ping_xml('n1', frm=SERVER, type_='error'), []),
    'type-uppercase': Case(ping_xml('n1', frm=SERVER, type_='GET'), []),
    'iq-other-namespace': Case(ping_xml('n1', frm=SERVER, xmlns='jabber:server'), []),
    'message-with-ping': Case(
        f"<message from='{JULIET}'><ping xmlns='{PING_NS}'/></message>", []),
}


async def exchange(s: MemoryStream, data: str | bytes) -> list[str]:
    s.feed(data)
    await s.settle()
    return s.take_stanzas()


@pytest.mark.parametrize('case', CLIENT_CASES.values(), ids=CLIENT_CASES.keys())
async def test_client_answers_ping(impl: Impl, case: Case) -> None:
    async with client_stream(impl.cls, **case.stream) as s:
        assert await exchange(s, case.request) == s.canon_list(*case.expected)


@pytest.mark.parametrize('case', NOT_PING_CASES.values(), ids=NOT_PING_CASES.keys())
async def test_not_a_ping_gets_default_handling(impl: Impl, case: Case) -> None:
    async with client_stream(impl.cls) as s:
        assert await exchange(s, case.request) == s.canon_list(*case.expected)


@pytest.mark.parametrize('id_attr', ["id=''", ''], ids=['empty-id', 'no-id'])
async def test_ping_without_id_gets_fresh_id(impl: Impl, id_attr: str) -> None:
    """slixmpp gives a received iq without id a new id (xmpp.new_id(), 32
    hex digits) and so replies with that."""
    async with client_stream(impl.cls) as s:
        s.feed(f"<iq type='get' {id_attr} from='example.com'><ping xmlns='{PING_NS}'/></iq>")
        await s.settle()
        (reply,) = s.take_elements()
        assert reply.tag == f'{{{CLIENT_NS}}}iq'
        assert dict(reply.attrib, id='*') == {'type': 'result', 'to': SERVER, 'id': '*'}
        assert re.fullmatch('[0-9a-f]{32}', reply.get('id'))
        assert len(reply) == 0


async def test_ping_from_invalid_jid_raises(impl: Impl) -> None:
    """slixmpp parses 'from' while answering; an unparsable one raises
    InvalidJID out of data_received (asyncio then drops the connection) and
    nothing is sent.  A drop-in behaves the same."""
    async with client_stream(impl.cls) as s:
        with pytest.raises(InvalidJID):
            s.feed(ping_xml('bad', frm='a@b@c'))
        await s.settle()
        assert s.take_sent() == b''


async def test_several_pings_in_one_read(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        ids = [f'multi{i}' for i in range(5)]
        data = ''.join(ping_xml(i, frm=JULIET) for i in ids)
        assert await exchange(s, data) == s.canon_list(*(result_xml(i, to=JULIET) for i in ids))


async def answers_now_and_later(s: MemoryStream, impl: Impl, fed: int) -> tuple[list[str], list[str]]:
    """(the stanzas written for what was fed, those written only once more
    bytes came: a whitespace keepalive as long as what was fed).  Only
    slixmpp's own plugin on an expat that defers (>= 2.6) has any later:
    expat held the end of the stanza back; ours answers in C as soon as the
    ping is complete."""
    await s.settle(quiet_rounds=2)
    now = s.take_stanzas()
    s.feed(b' ' * fed)
    await s.settle(quiet_rounds=2)
    later = s.take_stanzas()
    if impl.is_c or not EXPAT_DEFERS:
        assert later == []
    return now, later


async def test_ping_split_at_every_byte_offset(impl: Impl) -> None:
    """One stream, the same ping cut in two reads at every offset (including
    inside multi-byte UTF-8 sequences)."""
    async with client_stream(impl.cls) as s:
        template = ping_xml('split-{n}-é中\U0001F600', frm=SPECIAL_JID, to=CLIENT_JID)
        length = len(template.format(n=0).encode())
        delayed = []
        for offset in range(1, length):
            request = template.format(n=offset).encode()
            expected = s.c14n(result_xml(f'split-{offset}-é中\U0001F600', to=SPECIAL_JID))
            s.feed(request[:offset])
            await s.settle(quiet_rounds=1)
            assert s.sent() == b'', f'answered before the stanza was complete (offset {offset})'
            s.feed(request[offset:])
            now, later = await answers_now_and_later(s, impl, len(request))
            assert now + later == [expected], f'offset {offset}'
            if later:
                delayed.append(offset)
        # slixmpp on expat >= 2.6: a second read too short for expat to try
        # the held token again leaves the ping for the next read.
        assert bool(delayed) == (not impl.is_c and EXPAT_DEFERS), delayed


async def test_split_reads_across_several_stanzas(impl: Impl) -> None:
    """Pings arriving one byte at a time, and with chunk borders between
    and inside stanzas."""
    async with client_stream(impl.cls) as s:
        ids = [f'b{i}' for i in range(3)]
        data = ''.join(ping_xml(i, frm=JULIET) for i in ids).encode()
        for i in range(len(data)):
            s.feed(data[i:i + 1])
        now, later = await answers_now_and_later(s, impl, len(data))
        results = s.canon_list(*(result_xml(i, to=JULIET) for i in ids))
        assert now + later == results
        if not impl.is_c and EXPAT_DEFERS:
            # slixmpp on expat >= 2.6: the last ping's end tag, one byte at
            # a time, waits for the next read.
            assert later == results[-1:]
        for chunk_size in (7, 50, 100):
            ids = [f'c{chunk_size}-{i}' for i in range(3)]
            data = ''.join(ping_xml(i, frm=JULIET) for i in ids).encode()
            for start in range(0, len(data), chunk_size):
                s.feed(data[start:start + chunk_size])
            now, later = await answers_now_and_later(s, impl, len(data))
            assert now + later == s.canon_list(*(result_xml(i, to=JULIET) for i in ids))


async def test_messages_and_pings_interleaved(impl: Impl) -> None:
    """Other stanzas still reach the application, in wire order, and every
    ping is answered, in order.  (The relative order of the application's
    own replies and the ping results is not part of the contract.)"""
    async with client_stream(impl.cls) as s:
        bodies: list[str] = []
        s.xmpp.add_event_handler('message', lambda msg: bodies.append(msg['body']))
        one_read = (message_xml('m1') + ping_xml('i1', frm=JULIET) + message_xml('m2')
                    + ping_xml('i2', frm=JULIET) + ping_xml('i3', frm=SERVER) + message_xml('m3'))
        assert await exchange(s, one_read) == s.canon_list(
            result_xml('i1', to=JULIET), result_xml('i2', to=JULIET), result_xml('i3', to=SERVER))
        assert bodies == ['m1', 'm2', 'm3']

        # the same across reads, with borders inside stanzas
        data = (ping_xml('j1', frm=JULIET) + message_xml('m4') + message_xml('m5')
                + ping_xml('j2', frm=JULIET) + message_xml('m6')).encode()
        for cut in range(0, len(data), 37):
            s.feed(data[cut:cut + 37])
        await s.settle()
        assert s.take_stanzas() == s.canon_list(result_xml('j1', to=JULIET),
                                                 result_xml('j2', to=JULIET))
        assert bodies == ['m1', 'm2', 'm3', 'm4', 'm5', 'm6']


async def test_app_replies_and_ping_results_all_go_out(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        def echo(msg: Any) -> None:
            msg.reply('echo ' + msg['body']).send()
        s.xmpp.add_event_handler('message', echo)
        sent = await exchange(s, message_xml('a') + ping_xml('e1', frm=JULIET) + message_xml('b'))
        results = [x for x in sent if 'type="result"' in x]
        echoes = [x for x in sent if x.startswith('<message')]
        assert results == s.canon_list(result_xml('e1', to=JULIET))
        assert [re.search('<body>(.*)</body>', e).group(1) for e in echoes] == ['echo a', 'echo b']
        assert len(sent) == 3


# -- the rest of slixmpp still sees pings and their answers ---------------------

async def test_app_iq_handler_sees_pings(impl: Impl) -> None:
    """A handler matching every iq sees pings too (slixmpp runs every
    matching handler), and the ping is still answered exactly once."""
    async with client_stream(impl.cls) as s:
        seen: list[str] = []
        s.xmpp.register_handler(Callback('spy', MatchXPath(f'{{{CLIENT_NS}}}iq'),
                                         lambda iq: seen.append(iq['id'])))
        assert await exchange(s, ping_xml('s1', frm=SERVER) + ping_xml('s2', frm=JULIET)) == \
            s.canon_list(result_xml('s1', to=SERVER), result_xml('s2', to=JULIET))
        assert seen == ['s1', 's2']


async def test_in_filter_sees_pings(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        seen: list[str] = []

        def spy(stanza: Any) -> Any:
            seen.append(stanza['id'])
            return stanza
        s.xmpp.add_filter('in', spy)
        assert await exchange(s, ping_xml('f1', frm=SERVER)) == s.canon_list(
            result_xml('f1', to=SERVER))
        assert seen == ['f1']


async def test_in_filter_can_drop_pings(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        s.xmpp.add_filter('in', lambda stanza: None if stanza['id'] == 'drop' else stanza)
        assert await exchange(s, ping_xml('drop', frm=SERVER) + ping_xml('keep', frm=SERVER)) == \
            s.canon_list(result_xml('keep', to=SERVER))


@pytest.mark.parametrize('mode', ['out', 'out_sync'])
async def test_out_filter_sees_and_changes_results(impl: Impl, mode: str) -> None:
    async with client_stream(impl.cls) as s:
        def stamp(stanza: Any) -> Any:
            stanza.xml.set('stamped', mode)
            return stanza
        s.xmpp.add_filter(mode, stamp)
        assert await exchange(s, ping_xml('o1', frm=SERVER)) == s.canon_list(
            f'<iq type="result" id="o1" to="{SERVER}" stamped="{mode}"/>')


async def test_app_replacing_the_ping_handler(impl: Impl) -> None:
    """An application may remove the plugin's 'Ping' handler and answer
    pings itself; then only its answer goes out."""
    async with client_stream(impl.cls) as s:
        def custom(iq: Any) -> None:
            reply = iq.reply()
            reply['error']['condition'] = 'not-allowed'
            reply.send()
        s.xmpp.remove_handler('Ping')
        s.xmpp.register_handler(Callback('My ping', StanzaPath('iq@type=get/ping'), custom))
        assert await exchange(s, ping_xml('a1', frm=JULIET)) == s.canon_list(
            error_xml('a1', 'not-allowed', to=JULIET))


async def test_pings_answered_with_debug_logging(impl: Impl,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """With slixmpp's DEBUG logging on, every stanza is logged and pings
    are still answered the same way."""
    async with client_stream(impl.cls) as s:
        caplog.set_level(logging.DEBUG, logger='slixmpp')
        assert await exchange(s, ping_xml('d1', frm=SERVER)) == s.canon_list(
            result_xml('d1', to=SERVER))
        received = [r.getMessage() for r in caplog.records
                    if r.getMessage().startswith('RECV: <iq')]
        assert any('id="d1"' in line for line in received), received


async def test_ping_after_stream_restart(impl: Impl) -> None:
    """After SASL the stream restarts: new parser, new server header (here
    with another xml:lang and a stream-level prefix for the ping namespace)."""
    async with client_stream(impl.cls) as s:
        assert await exchange(s, ping_xml('r0', frm=SERVER)) == s.canon_list(
            result_xml('r0', to=SERVER))
        s.restart_stream(lang='fr')
        assert await exchange(s, ping_xml('r1', frm=SERVER)) == s.canon_list(
            result_xml('r1', to=SERVER))
        s.restart_stream(extra_ns={'q': PING_NS})
        assert await exchange(s, ping_xml('r2', frm=SERVER, payload='<q:ping/>')) == s.canon_list(
            result_xml('r2', to=SERVER))


async def test_restart_discards_partial_stanza(impl: Impl) -> None:
    """Bytes of a stanza cut by a restart belong to the old parser."""
    async with client_stream(impl.cls) as s:
        partial = ping_xml('lost', frm=SERVER).encode()[:40]
        s.feed(partial)
        s.restart_stream()
        assert await exchange(s, ping_xml('kept', frm=SERVER)) == s.canon_list(
            result_xml('kept', to=SERVER))


COMPONENT_CASES: dict[str, Case] = {
    'basic': Case(ping_xml('c1', frm=JULIET, to=COMPONENT_JID),
                  [result_xml('c1', frm=COMPONENT_JID, to=JULIET)]),
    'to-user-of-component': Case(ping_xml('c1', frm=JULIET, to='bot@comp.example.com/x'),
                                 [result_xml('c1', frm='bot@comp.example.com/x', to=JULIET)]),
    'no-from': Case(ping_xml('c1', to=COMPONENT_JID), [result_xml('c1', frm=COMPONENT_JID)]),
    'no-to': Case(ping_xml('c1', frm=JULIET), [result_xml('c1', to=JULIET)]),
    'jabber-client-xmlns': Case(ping_xml('c1', frm=JULIET, to=COMPONENT_JID, xmlns=CLIENT_NS),
                                [result_xml('c1', frm=COMPONENT_JID, to=JULIET)]),
    'special-chars': Case(ping_xml(SPECIAL_ID, frm=SPECIAL_JID, to=COMPONENT_JID, lang='de'),
                          [result_xml(SPECIAL_ID, frm=COMPONENT_JID, to=SPECIAL_JID, lang='de')]),
    # slixmpp's Error stanza plugin is in jabber:client, so on a component
    # stream <error/> carries an explicit xmlns.
    'type-set': Case(ping_xml('c1', frm=JULIET, to=COMPONENT_JID, type_='set'),
                     [error_xml('c1', 'feature-not-implemented', frm=COMPONENT_JID, to=JULIET,
                                text=NOT_IMPLEMENTED_TEXT, error_ns=CLIENT_NS)]),
}


@pytest.mark.parametrize('case', COMPONENT_CASES.values(), ids=COMPONENT_CASES.keys())
async def test_component_answers_ping(impl: Impl, case: Case) -> None:
    async with component_stream(impl.cls) as s:
        assert s.xmpp.default_ns == 'jabber:component:accept'
        assert await exchange(s, case.request) == s.canon_list(*case.expected)


# -- malformed input --------------------------------------------------------

def split_footer(data: bytes) -> tuple[bytes, bool]:
    if data.endswith(STREAM_FOOTER):
        return data[:-len(STREAM_FOOTER)], True
    return data, False


def fix_stream_error_prefix(body: bytes) -> bytes:
    """slixmpp 1.17's tostring() applies the stream namespace prefix twice:
    it writes ``<stream:stream:error xmlns="http://etherx.jabber.org/streams">``
    (not namespace-well-formed, so it cannot be canonicalised as is); 1.8.3
    to 1.16 write ``<stream:error>``.  Check the version's exact form, then
    normalise it."""
    if not STREAM_ERROR_PREFIX_TWICE:
        assert b'<stream:error>' in body
        return body
    broken = f'<stream:stream:error xmlns="{STREAM_NS}">'.encode()
    assert broken in body and body.endswith(b'</stream:stream:error>')
    return body.replace(broken, b'<stream:error>').replace(b'</stream:stream:error>',
                                                           b'</stream:error>')


MALFORMED_CHUNKS: dict[str, tuple[bytes, list[str]]] = {
    'mismatched-tag': (b'<message><body>x</message>', []),
    # complete stanzas before the error in the same read are still processed
    'ping-then-mismatched-tag': (
        (ping_xml('before-error', frm=SERVER)
         + "<iq type='get' id='x'><ping xmlns='urn:xmpp:ping'/></i>").encode(),
        [result_xml('before-error', to=SERVER)]),
    'ping-then-garbage': ((ping_xml('p', frm=SERVER) + '<<').encode(),
                          [result_xml('p', to=SERVER)]),
}


def stream_error_parts(s: MemoryStream, body: bytes, answers: list[str]) -> str:
    """Check the answers and the shape of the stream error that follow a
    malformed read; return the error's text."""
    stanzas = split_stanzas(fix_stream_error_prefix(body))
    assert stanzas[:-1] == s.canon_list(*answers)
    error = ET.fromstring(f'<w xmlns:stream="{STREAM_NS}">{stanzas[-1]}</w>')[0]
    assert error.tag == f'{{{STREAM_NS}}}error'
    assert [child.tag for child in error] == [f'{{{STREAMS_NS}}}not-well-formed',
                                              f'{{{STREAMS_NS}}}text']
    return error[1].text


@pytest.mark.parametrize('chunk,answers', MALFORMED_CHUNKS.values(), ids=MALFORMED_CHUNKS.keys())
async def test_malformed_xml_ends_stream(impl: Impl, chunk: bytes, answers: list[str]) -> None:
    """Complete stanzas before the error are processed, then slixmpp sends a
    not-well-formed stream error, closes its stream and waits for the
    server to close the connection."""
    async with client_stream(impl.cls) as s:
        disconnected: list[Any] = []
        s.xmpp.add_event_handler('disconnected', disconnected.append)
        s.feed(chunk)
        await s.settle()
        body, has_footer = split_footer(s.take_sent())
        text = stream_error_parts(s, body, answers)
        assert text.startswith('Server sent: b')
        assert has_footer, 'slixmpp closes its stream after the stream error'
        assert disconnected == []  # it waits for the server to close its side
        s.transport.close()  # the server closes the TCP connection
        await s.settle()
        assert len(disconnected) == 1
        assert s.xmpp.transport is None


@pytest.mark.parametrize('chunk,answers', MALFORMED_CHUNKS.values(), ids=MALFORMED_CHUNKS.keys())
async def test_stream_error_quotes_the_whole_read(impl: Impl, chunk: bytes,
                                                  answers: list[str]) -> None:
    """XMLStream.data_received puts ``'Server sent: %r' % data`` in the
    error text, data being the whole read given to it, including stanzas
    before the error that were already answered."""
    async with client_stream(impl.cls) as s:
        s.feed(chunk)
        await s.settle()
        body, _ = split_footer(s.take_sent())
        assert stream_error_parts(s, body, answers) == 'Server sent: %r' % chunk
        s.transport.close()
