"""Hostile input: to parse_stanza and the C module's other functions, to the
plugin's public methods, and through the stream tap.  Each ends in a clear
ValueError or TypeError, or in the right answer: never a crash, a hang, a
network or file access, or a wrong answer.  Through the tap, slixmpp must
get what its own parser would: the same bytes written back, the same
stream error, the same exception, as with slixmpp's own plugin."""

from __future__ import annotations

import asyncio
import math
import functools
import re
import socket
import xml.etree.ElementTree as ET
from xml.parsers.expat import ExpatError
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from slixmpp import JID, InvalidJID
from slixmpp.plugins.xep_0199.ping import XEP_0199 as SlixmppXEP_0199

from slixmpp_ping_c import XEP_0199
from slixmpp_ping_c._core import (Peer, build_ping, build_result, parse_stanza,
                                  reply_to_ping)
from tests.memstream import (
    CLIENT_JID, SERVER, MemoryStream, client_stream, ping_xml, result_xml,
    split_stanzas)
from tests.test_core import make_tap

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b''.join(b'<!ENTITY lol%d "%s">' % (i, (b'&lol%d;' % (i - 1) if i > 1
                                              else b'&lol;') * 10)
               for i in range(1, 10))
    + b']>')
TEN_MB = 10 * 2 ** 20
# Every character XML escapes or normalizes in an attribute value.
SPECIAL_IDS = ['&', '<', '>', '"', "'", ']]>', '\r', '\n', '\t', '\r\n',
               '&<>"\']]>\r\n\t', ' lead and trail ']


def nested(depth: int) -> bytes:
    return b'<a>' * depth + b'</a>' * depth


def attributes(count: int) -> bytes:
    return b' '.join(b"a%d='%d'" % (i, i) for i in range(count))


def expat(data: bytes) -> ET.Element:
    """The same bytes through Python's own XML parser (expat), which
    slixmpp uses: the independent answer."""
    return ET.fromstring(data)


# ---- parse_stanza -------------------------------------------------------

@pytest.fixture
def listener() -> Iterator[tuple[str, socket.socket]]:
    """A TCP port on loopback that nothing may connect to."""
    with socket.create_server(('127.0.0.1', 0)) as server:
        server.setblocking(False)
        yield f'http://127.0.0.1:{server.getsockname()[1]}/x', server


def assert_never_connected(server: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        server.accept()


def test_billion_laughs() -> None:
    with pytest.raises(ValueError, match='DOCTYPE'):
        parse_stanza(BILLION_LAUGHS + b'<iq id="&lol9;"/>')
    with pytest.raises(ValueError, match='DOCTYPE'):
        parse_stanza(BILLION_LAUGHS + b'<iq>&lol9;</iq>')


def test_external_entities_are_never_fetched(
        listener: tuple[str, socket.socket], tmp_path: Path) -> None:
    url, server = listener
    secret = tmp_path / 'secret'
    secret.write_text('the secret')
    for system in [b'file:///etc/passwd', secret.as_uri().encode(),
                   url.encode()]:
        for data in [
                b'<!DOCTYPE iq [<!ENTITY x SYSTEM "%s">]><iq>&x;</iq>' % system,
                b'<!DOCTYPE iq [<!ENTITY x SYSTEM "%s">]><iq id="&x;"/>' % system,
                b'<!DOCTYPE iq SYSTEM "%s"><iq/>' % system,
                b'<!DOCTYPE iq [<!ENTITY %% p SYSTEM "%s"> %%p;]><iq/>' % system]:
            with pytest.raises(ValueError, match='DOCTYPE') as refused:
                parse_stanza(data)
            assert 'secret' not in str(refused.value)
            with pytest.raises(ValueError):
                reply_to_ping(data)
    assert_never_connected(server)


@pytest.mark.parametrize('where', ['id', 'text', pytest.param('children', marks=pytest.mark.slow)])
def test_a_ten_megabyte_stanza(where: str) -> None:
    """Parsed whole and right, as expat parses it (libxml2's own limits
    stop at 10,000,000 bytes)."""
    if where == 'id':
        data = b"<iq type='get' id='" + b'x' * TEN_MB + b"'/>"
    elif where == 'text':
        data = b"<iq type='get' id='t'><q>" + b'x' * TEN_MB + b'</q></iq>'
    else:
        data = b"<iq type='get' id='c'>" + b'<x/>' * (TEN_MB // 4) + b'</iq>'
    fields = parse_stanza(data)
    assert fields['id'] == expat(data).get('id')
    assert fields['type'] == 'get' and fields['is_ping'] is False


def test_a_ten_megabyte_ping_gets_its_answer() -> None:
    big = 'p' * TEN_MB
    answer = reply_to_ping(ping_xml(big, frm=SERVER).encode())
    assert answer is not None
    assert expat(answer).attrib == {'type': 'result', 'id': big, 'to': SERVER}


def test_attributes_by_the_hundred_thousand() -> None:
    """libxml2 2.9 compares each attribute with every earlier one: an
    element with more than 1024 is refused, at once."""
    for count in (1, 1024):
        data = b'<iq id="x" ' + attributes(count - 1) + b'/>'
        assert parse_stanza(data)['id'] == 'x'
    for data in [b'<iq ' + attributes(1025) + b'/>',
                 b'<iq ' + attributes(100_000) + b'/>',
                 b"<iq id='x'><c " + attributes(100_000) + b'/></iq>',
                 b'<iq>' + b'<c xmlns:p="u" ' + attributes(1024) + b'/></iq>']:
        with pytest.raises(ValueError, match='more than 1024 attributes'):
            parse_stanza(data)
        with pytest.raises(ValueError, match='more than 1024 attributes'):
            reply_to_ping(data)
    # In an attribute value or a comment, nothing counts.
    quoted = b"<iq id='" + attributes(2000).replace(b"'", b'') + b"'/>"
    assert parse_stanza(quoted)['id'] == expat(quoted).get('id')
    commented = b'<iq id="c"><!-- <x ' + attributes(2000) + b'/> --></iq>'
    assert parse_stanza(commented)['id'] == 'c'


def test_elements_nested_a_hundred_thousand_deep() -> None:
    data = b"<iq type='get' id='deep'><ping xmlns='urn:xmpp:ping'/>" + nested(
        100_000) + b'</iq>'
    fields = parse_stanza(data)
    assert (fields['id'], fields['is_ping']) == ('deep', False)
    inside = b"<iq type='get' id='in'><ping xmlns='urn:xmpp:ping'>" + nested(
        100_000) + b'</ping></iq>'
    assert parse_stanza(inside)['is_ping'] is False
    assert reply_to_ping(inside) is None
    with pytest.raises(ValueError):
        parse_stanza(b'<iq>' + b'<a>' * 100_000 + b'</iq>')


@pytest.mark.parametrize('data', [
    b"<iq id='\xc3\x28'/>",             # a broken 2-byte sequence
    b"<iq id='\xc0\xaf'/>",             # an overlong '/'
    b"<iq id='\xed\xa0\x80'/>",         # a surrogate, UTF-8 encoded
    b"<iq id='\xf4\x90\x80\x80'/>",     # past U+10FFFF
    b"<iq id='ok'>\xff</iq>",
    b"<iq id='a\x00b'/>", b'<iq>\x00</iq>', b'<iq\x00/>', b'\x00<iq/>',
    b'<iq/>\x00',
    b"<iq id='&#0;'/>", b"<iq id='&#xD800;'/>", b"<iq id='&#x110000;'/>",
])
def test_invalid_utf8_and_nul_bytes(data: bytes) -> None:
    with pytest.raises(ET.ParseError):
        expat(data)
    with pytest.raises(ValueError, match='well-formed'):
        parse_stanza(data)
    with pytest.raises(ValueError, match='well-formed'):
        reply_to_ping(data)


@pytest.mark.parametrize('data', [
    b'<p:iq/>', b"<iq p:id='x'/>", b"<iq><p:ping/></iq>",
    b"<iq type='get' id='x'><ping xmlns='urn:xmpp:ping'><q:x/></ping></iq>",
    b"<iq xmlns:p='u'/><p:x/>",
])
def test_undeclared_namespace_prefixes(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_stanza(data)


@pytest.mark.parametrize('bad', [
    b'<iq id="<"/>', b"<iq id='a'/>x>", b'<iq id="a"/>]]>', b'<iq/><iq/>',
    b'<iq><a></iq>', b'<iq id="x"', b'<iq id="a\x00"/>', b'<p:iq/>',
    BILLION_LAUGHS + b'<iq/>',
])
def test_a_refusal_never_spoils_the_next_parse(bad: bytes) -> None:
    """libxml2 keeps back what it takes for unfinished (a start tag, text
    after the element): none of it may reach the next stanza, nor text
    after the element pass unseen."""
    with pytest.raises(ValueError):
        parse_stanza(bad)
    assert parse_stanza(b"<iq id='next'/>")['id'] == 'next'
    with pytest.raises(ValueError):
        reply_to_ping(bad)
    assert reply_to_ping(ping_xml('next', frm=SERVER).encode()) is not None


@pytest.mark.parametrize('id_', SPECIAL_IDS)
def test_ids_with_xml_special_characters(id_: str) -> None:
    """Built, parsed and answered exactly: what goes in comes out, as
    expat reads it too (CR, LF and TAB as character references, or an
    attribute value would turn them into spaces)."""
    for data in (build_ping(id_, SERVER), build_result(id_, SERVER, id_, id_)):
        assert parse_stanza(data)['id'] == id_ == expat(data).get('id')
    answer = reply_to_ping(build_ping(id_, CLIENT_JID, ifrom=SERVER))
    assert answer is not None and expat(answer).get('id') == id_
    # Written by hand: escaped, or raw where XML normalizes them.
    for raw in (id_, id_.replace('&', '&amp;').replace('<', '&lt;')):
        data = b"<iq id=\"" + raw.replace('"', '&quot;').encode() + b'"/>'
        try:
            expected = expat(data).get('id')
        except ET.ParseError:
            with pytest.raises(ValueError):
                parse_stanza(data)
        else:
            assert parse_stanza(data)['id'] == expected


# ---- the C module's functions, given what they do not expect -------------

class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError('no str for you')


class Text(str):
    pass


NOT_STR: dict[str, Any] = {
    'None': None, 'int': 5, 'bytes': b'id', 'bytearray': bytearray(b'id'),
    'unprintable': Unprintable(), 'float': 1.5,
}
SURROGATE = 'a\ud800b'


def str_arguments() -> Iterator[tuple[str, Callable[[Any], Any], bool]]:
    """(name, call with the value in that place, whether None is allowed)."""
    yield 'build_ping id', lambda v: build_ping(v, 'to'), False
    yield 'build_ping to', lambda v: build_ping('id', v), False
    yield 'build_ping ifrom', lambda v: build_ping('id', 'to', v), True
    yield 'build_result id', lambda v: build_result(v, 'to'), False
    yield 'build_result to', lambda v: build_result('id', v), True
    yield 'build_result ifrom', lambda v: build_result('id', 'to', v), True
    yield 'build_result lang', lambda v: build_result('id', 'to', lang=v), True
    yield 'Peer to', lambda v: Peer('jid', v).to, False
    yield 'Tap.send_ping ifrom', tap_send_ping_ifrom, True


def tap_send_ping_ifrom(value: Any) -> Any:
    loop = asyncio.new_event_loop()
    try:
        tap, stream, _ = make_tap(loop)
        tap(b"<stream:stream xmlns='jabber:client' "
            b"xmlns:stream='http://etherx.jabber.org/streams'>")
        future = tap.send_ping(Peer('a', 'a'), value, 1.0)
        written = stream.transport.written.pop()
        tap.cancel_all()
        assert future.cancelled() and tap.pending() == 0
        return parse_stanza(written)['from']
    finally:
        loop.close()


STR_ARGUMENTS = list(str_arguments())


@pytest.mark.parametrize('name, call, none_ok', STR_ARGUMENTS,
                         ids=[a[0] for a in STR_ARGUMENTS])
@pytest.mark.parametrize('kind', list(NOT_STR))
def test_str_arguments_given_other_types(name: str, call: Callable[[Any], Any],
                                         none_ok: bool, kind: str) -> None:
    value = NOT_STR[kind]
    if value is None and none_ok:
        call(value)
    else:
        with pytest.raises(TypeError, match='must be str'):
            call(value)


@pytest.mark.parametrize('name, call, none_ok', STR_ARGUMENTS,
                         ids=[a[0] for a in STR_ARGUMENTS])
def test_str_arguments_given_lone_surrogates_or_subclasses(
        name: str, call: Callable[[Any], Any], none_ok: bool) -> None:
    with pytest.raises(ValueError, match='lone surrogate'):
        call(SURROGATE)
    # A subclass of str is a str; its value is what counts.
    assert call(Text('a&b<')) == call('a&b<')


@pytest.mark.parametrize('value', [
    None, 5, bytearray(b'<iq/>'), Unprintable(), 1.5, '<iq/>', SURROGATE,
    Text('<iq/>'), memoryview(b'<iq/>')])
def test_stanza_functions_take_bytes_only(value: Any) -> None:
    for function in (parse_stanza, reply_to_ping):
        with pytest.raises(TypeError, match='must be bytes'):
            function(value)


class Bytes(bytes):
    pass


def test_a_bytes_subclass_is_bytes() -> None:
    data = ping_xml('b', frm=SERVER).encode()
    assert parse_stanza(Bytes(data)) == parse_stanza(data)
    assert reply_to_ping(Bytes(data)) == reply_to_ping(data)


def test_peer_and_tap_methods_given_other_types() -> None:
    peer = Peer('jid', 'to')
    for value in [None, b'1', bytearray(b'1'), Unprintable(), '1', SURROGATE]:
        with pytest.raises(TypeError):
            peer.record(value)
    for value in [5, b'a', bytearray(b'a'), Unprintable(), 'a', ['a'],
                  ('a', 5), ('a', b'b')]:
        with pytest.raises(TypeError, match='tuple of str'):
            peer.configure(value, True)
    for rtt in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match='finite'):
            peer.record(rtt)
    assert peer.stats() == (0, 0, 0, None, None, None, None, None)
    peer.record(2)      # an int is a number of seconds
    assert peer.stats()[1:4] == (1, 0, 2.0)
    # Anything may be the JID a Peer stands for; stats() are keyed by it.
    for value in [*NOT_STR.values(), SURROGATE]:
        assert Peer(value, 'to').jid is value

    loop = asyncio.new_event_loop()
    try:
        tap, stream, _ = make_tap(loop)
        for value in [*NOT_STR.values(), SURROGATE, Text('0' * 16)]:
            assert tap.find(value) is None and tap.pop(value) is None
            with pytest.raises(TypeError, match='peer must be a Peer'):
                tap.send_ping(value, None, 1.0)
            if not isinstance(value, (int, float)) or value is None:
                with pytest.raises(TypeError):
                    tap.send_ping(peer, None, value)
                with pytest.raises(TypeError):
                    tap.track(peer, value, None, None)
            if value is not None:
                with pytest.raises(TypeError, match='Future or None'):
                    tap.track(peer, 1.0, value, None)
        for timeout in (-1.0, math.nan, math.inf, 1e300):
            with pytest.raises(ValueError, match='timeout'):
                tap.track(peer, timeout, None, None)
        assert tap.pending() == 0 and peer.sent == 0
        # A context may be anything: it is handed back, untouched.
        id_ = tap.track(peer, 1.0, None, Unprintable())
        assert isinstance(tap.pop(id_)[2], Unprintable)
        # What a read may be: bytes, str or a buffer; anything else is a
        # TypeError, a lone surrogate a ValueError.
        tap(b"<stream:stream xmlns='jabber:client' "
            b"xmlns:stream='http://etherx.jabber.org/streams'>")
        for value in [None, 5, Unprintable(), 1.5]:
            with pytest.raises(TypeError):
                tap(value)
        with pytest.raises(ValueError):
            tap(SURROGATE)
        tap(bytearray(ping_xml('ba', frm=SERVER).encode()))
        tap(Text(ping_xml('st', frm=SERVER)))
        assert [parse_stanza(w)['id'] for w in stream.transport.written] == [
            'ba', 'st']
    finally:
        loop.close()


# ---- the plugin's public methods ----------------------------------------

ANY_VALUE: dict[str, Any] = {**NOT_STR, 'surrogate': SURROGATE,
                             'str subclass': Text('juliet@example.net'),
                             'nan': math.nan, 'negative': -1}


async def outcome(s: MemoryStream, call: Callable[[], Any]) -> str:
    """'ok' if the ping went out and its answer came back (the answer from
    where it went), else the name of the exception raised."""
    try:
        pending = call()
        if asyncio.iscoroutine(pending):
            pending = asyncio.ensure_future(pending)
        await s.settle()
        for element in s.take_elements():
            s.feed(result_xml(element.get('id'), frm=element.get('to') or SERVER))
        await asyncio.wait_for(pending, 5)
    except Exception as exc:
        await s.settle()
        return type(exc).__name__
    return 'ok'


def as_jid_by_str(value: Any) -> str:
    """What slixmpp's JID, on this stack, makes of str(value): 'ok' or
    'InvalidJID'.  Its stringprep decides: slixmpp 1.8.3's and the
    pure-Python one (no wheel: CPython 3.15) refuse b'id' as "b'id'", the
    Rust JID of 1.17's wheels takes it."""
    try:
        JID(str(value))
    except InvalidJID:
        return 'InvalidJID'
    return 'ok'


# What each call gives for each value.  InvalidJID and UnicodeEncodeError
# are ValueErrors.  send_ping(), as slixmpp's, writes jid and ifrom with
# str(), whatever JID slixmpp has here takes or refuses; an object whose
# __str__ raises gets its own error back.
EXPECTED = {
    'ping(jid)': {'None': 'ok', 'int': 'TypeError', 'bytes': 'TypeError',
                  'bytearray': 'TypeError', 'unprintable': 'TypeError',
                  'float': 'TypeError', 'surrogate': 'UnicodeEncodeError',
                  'str subclass': 'ok', 'nan': 'TypeError',
                  'negative': 'TypeError'},
    'send_ping(jid)': {**{kind: as_jid_by_str(ANY_VALUE[kind])
                          for kind in ('int', 'bytes', 'bytearray', 'float', 'nan', 'negative')},
                       'None': 'ok', 'unprintable': 'RuntimeError',
                       'surrogate': 'UnicodeEncodeError', 'str subclass': 'ok'},
    'timeout=': {'None': 'ok', 'int': 'ok', 'bytes': 'TypeError',
                 'bytearray': 'TypeError', 'unprintable': 'TypeError',
                 'float': 'ok', 'surrogate': 'TypeError',
                 'str subclass': 'TypeError', 'nan': 'ValueError',
                 'negative': 'ValueError'},
}
EXPECTED['ping(ifrom)'] = {**EXPECTED['ping(jid)'], 'str subclass': 'ok'}
EXPECTED['send_ping(ifrom)'] = EXPECTED['send_ping(jid)']


def plugin_calls() -> Iterator[tuple[str, str, Callable[[Any, Any], Any]]]:
    yield 'ping(jid)', 'ping(jid)', lambda p, v: p.ping(v)
    yield 'ping(ifrom)', 'ping(ifrom)', lambda p, v: p.ping(SERVER, ifrom=v)
    yield 'ping(timeout)', 'timeout=', lambda p, v: p.ping(SERVER, timeout=v)
    yield 'send_ping(jid)', 'send_ping(jid)', lambda p, v: p.send_ping(v)
    yield ('send_ping(ifrom)', 'send_ping(ifrom)',
           lambda p, v: p.send_ping(SERVER, ifrom=v))
    yield ('send_ping(timeout)', 'timeout=',
           lambda p, v: p.send_ping(SERVER, timeout=v))


@pytest.mark.parametrize('name, table, call', list(plugin_calls()),
                         ids=[c[0] for c in plugin_calls()])
async def test_the_plugins_methods_given_anything(
        name: str, table: str, call: Callable[[Any, Any], Any]) -> None:
    async with client_stream(XEP_0199) as s:
        got = {kind: await outcome(s, functools.partial(call, s.ping_plugin, value))
               for kind, value in ANY_VALUE.items()}
        assert got == EXPECTED[table]
        # Nothing refused was sent or left in flight.
        assert s.take_sent() == b'' and s.ping_plugin.pending() == 0


async def test_stats_given_anything() -> None:
    async with client_stream(XEP_0199) as s:
        await outcome(s, lambda: s.ping_plugin.ping('juliet@example.net'))
        for kind, value in ANY_VALUE.items():
            if kind == 'str subclass':
                assert s.ping_plugin.stats(value).received == 1
            elif kind == 'None':
                assert list(s.ping_plugin.stats()) == ['juliet@example.net']
            elif kind == 'surrogate':
                with pytest.raises(ValueError):
                    s.ping_plugin.stats(value)
            else:
                with pytest.raises(TypeError):
                    s.ping_plugin.stats(value)


# ---- through the stream tap ---------------------------------------------

PING_OPEN = "<iq type='get' id='h' from='example.com'><ping xmlns='urn:xmpp:ping'/>"

STREAM_INPUT: dict[str, bytes] = {
    'billion laughs': BILLION_LAUGHS + b'<iq>&lol9;</iq>',
    'external entity': (b'<!DOCTYPE iq [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                        b"<iq type='get' id='&x;'><ping xmlns='urn:xmpp:ping'/></iq>"),
    'external DTD': b'<!DOCTYPE iq SYSTEM "http://127.0.0.1:9/x.dtd"><iq/>',
    'a 10 MB ping': ping_xml('big', frm=SERVER,
                             payload="<ping xmlns='urn:xmpp:ping'/><x xmlns='y'>"
                             + 'x' * TEN_MB + '</x>').encode(),
    '100,000 attributes': (b"<iq type='get' id='attrs' from='example.com' "
                           + attributes(100_000)
                           + b"><ping xmlns='urn:xmpp:ping'/></iq>"),
    '1,100 attributes': (b"<iq type='get' id='a1100' from='example.com'>"
                         b"<ping xmlns='urn:xmpp:ping'/><x xmlns='y' "
                         + attributes(1_100) + b'/></iq>'),
    '100,000 nested': PING_OPEN.encode() + nested(100_000) + b'</iq>',
    '300 nested': PING_OPEN.encode() + nested(300) + b'</iq>',
    'invalid UTF-8': ping_xml('x', frm=SERVER).encode().replace(b'x', b'\xc3\x28', 1),
    'NUL byte': ping_xml('n\x00', frm=SERVER).encode(),
    'undeclared prefix': b"<iq type='get' id='u' from='example.com'><p:ping/></iq>",
    **{f'id {id_!r}': ping_xml(id_, frm=SERVER).encode() for id_ in SPECIAL_IDS},
    'raw CR LF TAB in an id': b"<iq type='get' id='a\r\nb\tc\rd\ne' "
                              b"from='example.com'><ping xmlns='urn:xmpp:ping'/></iq>",
    'lone surrogate (str)': ping_xml(SURROGATE, frm=SERVER),   # type: ignore[dict-item]
}
AFTER = ping_xml('after', frm=SERVER)


@dataclass
class Outcome:
    """What a client with one plugin made of a read and a ping after it."""

    raised: str | None  # the exception data_received raised
    at_once: Any        # what it wrote before any more bytes came
    in_the_end: Any     # what it wrote once whitespace let expat parse all
    closed: bool        # whether it closed the stream


def stanzas_or_bytes(written: bytes) -> Any:
    """Canonical stanzas where what was written is stanzas, else bytes."""
    try:
        return split_stanzas(written)
    except ExpatError:
        return written


async def through(cls: type, data: bytes | str) -> Outcome:
    async with client_stream(cls, check_pending=False) as s:
        try:
            s.xmpp.data_received(data)
            raised = None
        except Exception as exc:
            raised = type(exc).__name__
        await s.settle()
        if not s.transport.is_closing():
            s.feed(AFTER)
            await s.settle()
        at_once = s.take_sent()
        if not s.transport.is_closing():
            # Longer than the token expat holds: it parses it again.
            s.feed(b' ' * (2 * len(data) + 16384))
            await s.settle()
        return Outcome(raised, stanzas_or_bytes(at_once),
                       stanzas_or_bytes(at_once + s.take_sent()),
                       s.transport.is_closing())


def assert_no_later(ours: Outcome, theirs: Outcome) -> None:
    """The contract with slixmpp's plugin: the same outcome once expat has
    parsed everything; before that, all that slixmpp's plugin wrote was
    written, in the same order (ours may have written more after it)."""
    assert (ours.raised, ours.in_the_end, ours.closed) == (theirs.raised, theirs.in_the_end, theirs.closed)
    if isinstance(ours.at_once, bytes) or isinstance(theirs.at_once, bytes):
        assert ours.at_once == theirs.at_once
    else:
        assert ours.at_once[:len(theirs.at_once)] == theirs.at_once


@pytest.mark.parametrize('name', [
    pytest.param(name, marks=pytest.mark.slow) if name.startswith('100,000') else name
    for name in STREAM_INPUT])
async def test_through_the_tap_slixmpp_gets_what_its_parser_would(
        name: str) -> None:
    """The same outcome as with slixmpp's plugin once expat has parsed
    everything; before that, nothing later.  (Where slixmpp's expat holds
    a huge start tag back, 2.9.0 with the 100,000 attributes, our plugin has
    answered both pings already.)"""
    data = STREAM_INPUT[name]
    ours = await through(XEP_0199, data)
    assert_no_later(ours, await through(SlixmppXEP_0199, data))
    # And what that is: a stream error and nothing after it, or answers
    # (the last one to the ping after).
    if isinstance(ours.in_the_end, bytes):
        assert b'not-well-formed' in ours.in_the_end
        assert ours.in_the_end.endswith(b'</stream:stream>')
    elif ours.raised is None:
        ids = [re.search(r' id="([^"]*)"', a).group(1) for a in ours.in_the_end]
        assert ids[-1] == 'after'
        # A ping whose bytes all came is answered at once.
        assert ours.at_once == ours.in_the_end


async def test_a_ten_megabyte_pong_completes_a_ping() -> None:
    async with client_stream(XEP_0199) as s:
        task = asyncio.ensure_future(s.ping_plugin.ping(SERVER))
        await s.settle()
        (sent,) = s.take_elements()
        s.feed(result_xml(sent.get('id'), frm=SERVER,
                          payload="<x xmlns='y'>" + 'x' * TEN_MB + '</x>'))
        assert await task >= 0
