"""Tests of the C core on its own: the stanza functions, the stream tap fed
byte streams cut at every point, the in-flight table and the statistics.

The tap is driven here through a stand-in for slixmpp's stream object, so
that what it hands on, consumes and writes can be checked byte for byte.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import random
import re
import statistics
import sys
import xml.etree.ElementTree as ET
from types import SimpleNamespace
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from slixmpp_ping_c import _core
from slixmpp_ping_c._core import Peer, Tap, build_ping, build_result, parse_stanza
from slixmpp_ping_c._fast_path import TAP_PRIVATE_NAMES

HEADER = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
          b"xmlns:stream='http://etherx.jabber.org/streams' "
          b"xmlns:p='urn:xmpp:ping' from='example.com' id='s1' "
          b"version='1.0' xml:lang='en'>")
SPECIAL = ['plain', 'a&b', '<tag>', '"quoted"', "'apos'", 'é中\U0001F600',
           '&amp;', ']]>', 'tab\there', 'new\nline', 'cr\rhere', ' lead']


def ping(id_: str, frm: str = 'example.com') -> bytes:
    return (f"<iq type='get' id='{id_}' from='{frm}'>"
            "<ping xmlns='urn:xmpp:ping'/></iq>").encode()


def result(id_: str, to: str = 'example.com') -> bytes:
    return f'<iq type="result" id="{id_}" to="{to}" />'.encode()


# ---- parse_stanza, build_ping, build_result ---------------------------

@pytest.mark.parametrize('id_', SPECIAL)
@pytest.mark.parametrize('to', ['example.com', 'juliet@example.net/bal cony',
                                'ø@例え.jp/"<&>"'])
def test_build_ping_round_trips(id_: str, to: str) -> None:
    fields = parse_stanza(build_ping(id_, to))
    assert (fields['id'], fields['to'], fields['from']) == (id_, to, None)
    assert fields['type'] == 'get' and fields['is_ping'] is True


@pytest.mark.parametrize('value', SPECIAL)
def test_build_result_round_trips(value: str) -> None:
    data = build_result(value, value, ifrom=value, lang=value)
    fields = parse_stanza(data)
    assert [fields[k] for k in ('id', 'to', 'from', 'lang')] == [value] * 4
    assert fields['type'] == 'result' and fields['is_ping'] is False


def test_parse_stanza_fields() -> None:
    data = (b"<iq xmlns='jabber:client' type='get' id='a&amp;b&#38;c&lt;' "
            b"from='x@y/z' to='y' xml:lang='de'>"
            b"<p:ping xmlns:p='urn:xmpp:ping'/></iq>")
    assert parse_stanza(data) == {
        'name': 'iq', 'type': 'get', 'id': 'a&b&c<', 'from': 'x@y/z',
        'to': 'y', 'lang': 'de', 'is_ping': True}


@pytest.mark.parametrize('data', [
    b"<iq type='set' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
    b"<iq type='get' id='1'><ping xmlns='urn:xmpp:other'/></iq>",
    b"<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'><x/></ping></iq>",
    b"<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/><x/></iq>",
    b"<iq type='get' id='1'/>",
    b"<message type='get' id='1'><ping xmlns='urn:xmpp:ping'/></message>",
])
def test_not_a_ping(data: bytes) -> None:
    assert parse_stanza(data)['is_ping'] is False
    assert _core.reply_to_ping(data) is None


@pytest.mark.parametrize('data', [
    b'', b'   ', b'text', b'<iq', b'<iq>', b'<iq/>tail', b'<iq/><iq/>',
    b'lead<iq/>', b'<iq></message>', b"<iq id='1' id='2'/>",
    b'<undeclared:iq/>', b'<iq>&unknown;</iq>', b'<iq>\x00</iq>',
    b'<iq id="\xff\xfe"/>',
    b'<!DOCTYPE iq [<!ENTITY a "b">]><iq>&a;</iq>',
    b'<!DOCTYPE iq SYSTEM "file:///etc/passwd"><iq/>',
    (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
     b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><iq>&lol2;</iq>'),
])
def test_parse_stanza_refuses(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_stanza(data)


def test_parse_stanza_after_refusal_still_works() -> None:
    with pytest.raises(ValueError):
        parse_stanza(b'<iq><broken></iq>')
    assert parse_stanza(b"<iq id='ok'/>")['id'] == 'ok'


@pytest.mark.parametrize('data', [
    b"<iq type='get' id='1'/>x>",
    b"<iq type='get' id='1'/><!-- unfinished >",
    b"<iq type='get' id='1'/></<iq type='get'>",
], ids=['text', 'comment', 'unfinished-tag'])
def test_what_libxml2_holds_back_after_a_stanza(data: bytes) -> None:
    """Found by fuzzing: bytes after the element that libxml2 keeps until
    more input comes were taken for one stanza, then spoiled the next."""
    with pytest.raises(ValueError):
        parse_stanza(data)
    with pytest.raises(ValueError):
        _core.reply_to_ping(data)
    assert parse_stanza(b"<iq id='ok'/>")['id'] == 'ok'


def test_a_one_megabyte_id() -> None:
    big = 'x' * 1_000_000
    assert parse_stanza(build_ping(big, 'example.com'))['id'] == big


@pytest.mark.parametrize('call', [
    lambda: parse_stanza('<iq/>'), lambda: parse_stanza(None),
    lambda: build_ping(1, 'a'), lambda: build_ping('a', b'b'),
    lambda: build_ping('a', 'b', 3), lambda: build_result(None, 'b'),
    lambda: build_result('a', 'b', lang=1), lambda: _core.reply_to_ping(1),
])
def test_wrong_types(call: Callable[[], Any]) -> None:
    with pytest.raises(TypeError):
        call()


@pytest.mark.parametrize('bad', ['nul\x00', 'bell\x07', '\ud800',
                                 'nonchar\uffff'])
def test_strings_xml_cannot_carry(bad: str) -> None:
    with pytest.raises(ValueError):
        build_ping(bad, 'example.com')
    with pytest.raises(ValueError):
        build_result('id', bad)


# ---- the stream tap ---------------------------------------------------

class FakeTransport:
    """Keeps each stanza written.  The tap writes what one turn of the
    event loop sends at once, at the turn's end: ``written`` is read as
    after that turn (``flush``, the tap's, set by make_tap)."""

    def __init__(self) -> None:
        self._written: list[bytes] = []
        self.writes = 0
        self.flush: Callable[[], None] = lambda: None

    def write(self, data: bytes) -> None:
        self.writes += 1
        self._written.extend(
            part for part in re.split(rb'(?=<iq[ />])', data) if part)

    @property
    def written(self) -> list[bytes]:
        self.flush()
        return self._written


class FakeParser:
    """slixmpp's XMLPullParser, as the tap asks it whether it refused the
    stream (never) or holds events back (never: its queue stays empty)."""

    _events_queue: tuple[Any, ...] = ()

    def feed(self, data: bytes) -> None:
        pass

    def flush(self) -> None:
        pass

    def read_events(self) -> Iterable[tuple[str, Any]]:
        return ()


class FakeStream:
    """What the tap reads of slixmpp's XMLStream."""

    def __init__(self) -> None:
        self.parser = FakeParser()
        self.transport = FakeTransport()
        self._session_started = True
        self._always_send_everything = False
        self.received: list[bytes] = []
        # Bytes that make slixmpp restart the stream, as SASL's <success/>.
        self.restart_on: bytes | None = None

    def feed(self, data: bytes) -> None:
        self.received.append(data)
        if self.restart_on is not None and self.restart_on in data:
            self.restart()

    def restart(self) -> None:
        self.parser = FakeParser()


class TimeoutLog:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any, bool]] = []

    def __call__(self, id_: str, future: Any, peer: Any, context: Any,
                 tracked: bool) -> None:
        self.calls.append((id_, peer, context, tracked))
        if future is not None and not future.done():
            future.set_exception(TimeoutError(id_))


def make_tap(loop: asyncio.AbstractEventLoop | None = None,
             **flags: bool) -> tuple[Tap, FakeStream, TimeoutLog]:
    stream = FakeStream()
    timeouts = TimeoutLog()
    tap = Tap(stream, stream.feed, loop or asyncio.new_event_loop(),
              default_ns='jabber:client', component=False,
              log=logging.getLogger('test_core.quiet'),
              send_queue=SimpleNamespace(_unfinished_tasks=0),
              normalize_jid=lambda jid: jid,
              send_slow=lambda *args: pytest.fail('slow send'),
              on_timeout=timeouts, **TAP_PRIVATE_NAMES)
    tap.answer_pings = flags.get('answer_pings', True)
    tap.complete_pongs = flags.get('complete_pongs', True)
    tap.direct_send = flags.get('direct_send', True)
    stream.transport.flush = tap.flush
    return tap, stream, timeouts


def feed_cut(tap: Tap, data: bytes, cuts: Iterable[int]) -> None:
    start = 0
    for cut in [*cuts, len(data)]:
        tap(data[start:cut])
        start = cut


MIXED = [
    (b"<message from='a@b/c'><body>1 &lt; 2 &amp; <![CDATA[<iq>]]></body>"
     b"</message>"),
    ping('p1'),
    b"\n ",
    b"<iq type='result' id='unrelated' from='x'/>",
    b"<presence><status a='>/'>away</status><!-- <iq/> --></presence>",
    ping('p2', frm='é@例え.jp/r'),
    (b"<p2:iq xmlns:p2='jabber:client' type='get' id='prefixed'>"
     b"<ping xmlns='urn:xmpp:ping'/></p2:iq>"),
    b"<iq type='get' id='p3'><p:ping/></iq>",
    b"<iq type='set' id='s'><ping xmlns='urn:xmpp:ping'/></iq>",
]
CONSUMED = {1, 5, 7}
EXPECTED_REPLIES = [result('p1'), result('p2', to='é@例え.jp/r'),
                    b'<iq type="result" id="p3" />']


def expected_passed() -> bytes:
    return HEADER + b''.join(
        part for i, part in enumerate(MIXED) if i not in CONSUMED)


def check_stream(cuts: Iterable[int]) -> None:
    tap, stream, _ = make_tap()
    feed_cut(tap, HEADER + b''.join(MIXED), cuts)
    assert b''.join(stream.received) == expected_passed()
    assert stream.transport.written == EXPECTED_REPLIES


def test_tap_whole_stream() -> None:
    check_stream([])


def test_tap_every_split_in_two() -> None:
    for cut in range(1, len(HEADER) + sum(map(len, MIXED))):
        check_stream([cut])


def test_tap_every_split_in_three() -> None:
    # Every pair of cuts over the stanzas, the header fed whole.
    body = b''.join(MIXED)
    for first in range(0, len(body), 7):
        for second in range(first + 1, len(body), 5):
            check_stream([len(HEADER) + first, len(HEADER) + second])


def test_tap_byte_by_byte() -> None:
    check_stream(range(1, len(HEADER) + sum(map(len, MIXED))))


@pytest.mark.parametrize('first', [10, 100, 16_000])
def test_tap_hands_on_an_iq_too_big_to_be_a_ping(first: int) -> None:
    """An iq held across reads that outgrows what a ping could be goes to
    slixmpp whole and in order, the pings around it still answered."""
    big = (b"<iq type='result' id='big'><q xmlns='x'>" + b'a' * 20_000
           + b'</q></iq>')
    data = HEADER + ping('p1') + big + ping('p2')
    tap, stream, _ = make_tap()
    cut = len(HEADER) + len(ping('p1')) + first
    feed_cut(tap, data, [cut, cut + 5_000])
    assert b''.join(stream.received) == HEADER + big
    assert stream.transport.written == [result('p1'), result('p2')]


def test_tap_passes_everything_when_disabled() -> None:
    tap, stream, _ = make_tap(answer_pings=False, complete_pongs=False)
    data = HEADER + b''.join(MIXED)
    feed_cut(tap, data, [100, 200])
    assert b''.join(stream.received) == data
    assert stream.transport.written == []


def test_tap_leaves_pings_to_slixmpp_while_it_may_not_write() -> None:
    tap, stream, _ = make_tap(direct_send=False)
    data = HEADER + ping('p1')
    tap(data)
    assert b''.join(stream.received) == data
    assert stream.transport.written == []


def test_tap_follows_a_stream_restart() -> None:
    tap, stream, _ = make_tap()
    tap(HEADER + ping('before'))
    stream.restart()
    tap(HEADER.replace(b"xml:lang='en'", b"xml:lang='fr'") + ping('after'))
    assert stream.transport.written == [result('before'), result('after')]


def test_tap_hands_a_malformed_read_on_whole() -> None:
    tap, stream, _ = make_tap()
    tap(HEADER)
    bad = ping('p1') + b'<message></presence>' + ping('p2')
    tap(bad)
    assert stream.received[-1] == bad
    assert stream.transport.written == []
    # It stays out of the way for the rest of that stream.
    tap(ping('p3'))
    assert stream.received[-1] == ping('p3')
    assert stream.transport.written == []


def test_tap_str_data() -> None:
    tap, stream, _ = make_tap()
    tap((HEADER + ping('s1')).decode())
    assert stream.transport.written == [result('s1')]


def test_tap_wrong_calls() -> None:
    tap, _, _ = make_tap()
    with pytest.raises(TypeError):
        tap()
    with pytest.raises(TypeError):
        tap(b'', b'')
    with pytest.raises(TypeError):
        tap(data=b'')
    with pytest.raises(TypeError):
        tap(12)


# ---- pings in flight --------------------------------------------------

def run(coro: Any) -> Any:
    return asyncio.run(coro)


def sent_id(stream: FakeStream) -> str:
    return parse_stanza(stream.transport.written.pop())['id']


def started_tap(allowed: tuple[str, ...] | None = ('', 'example.com'),
                own_host: bool = False) -> tuple[Tap, FakeStream, Peer]:
    """A tap on a started stream (inside a running loop), and a peer."""
    tap, stream, _ = make_tap(asyncio.get_running_loop())
    tap(HEADER)
    peer = Peer('example.com', 'example.com')
    peer.configure(allowed, own_host)
    return tap, stream, peer


def test_ping_pong_in_c() -> None:
    async def main() -> None:
        tap, stream, peer = started_tap()
        future = tap.send_ping(peer, None, 5.0)
        id_ = sent_id(stream)
        assert len(id_) == 16 and int(id_, 16) >= 0
        tap(f"<iq type='result' id='{id_}' from='example.com'/>".encode())
        rtt = await future
        assert 0 <= rtt < 5
        assert tap.pending() == 0 and tap.counters() == (0, 1)
        assert stream.received == [HEADER]
    run(main())


def test_a_turns_writes_go_out_at_its_end_on_their_own_stream() -> None:
    async def main() -> None:
        tap, stream, peer = started_tap()
        old = stream.transport
        for _ in range(3):
            tap.send_ping(peer, None, 5.0)
        tap(ping('p1'))
        assert old.writes == 0
        await asyncio.sleep(0)
        assert old.writes == 1 and len(old.written) == 4
        # A new stream on a new transport before the turn ended: what was
        # written for the old one went there, not to the new one.
        tap.send_ping(peer, None, 5.0)
        stream.restart()
        stream.transport = FakeTransport()
        tap(HEADER)
        assert old.writes == 2 and len(old.written) == 5
        await asyncio.sleep(0)
        assert stream.transport.writes == 0
        tap.cancel_all()
    run(main())


@pytest.mark.parametrize('frm', ['evil@example.org', 'example.com.evil',
                                 'EXAMPLE.COM'])
def test_pong_from_another_sender_goes_to_slixmpp(frm: str) -> None:
    async def main() -> None:
        tap, stream, peer = started_tap()
        future = tap.send_ping(peer, None, 5.0)
        answer = f"<iq type='result' id='{sent_id(stream)}' from='{frm}'/>"
        tap(answer.encode())
        assert stream.received[-1] == answer.encode()
        assert not future.done() and tap.pending() == 1
        tap.cancel_all()
        assert future.cancelled() and tap.pending() == 0
    run(main())


@pytest.mark.parametrize('frm', [
    None, '', 'me@example.org', 'example.org', 'me@example.org/r',
    'juliet@capulet.example/balcony', 'juliet@capulet.example',
    'capulet.example', 'juliet@capulet.example/other',
    'capulet.example/balcony', 'JULIET@capulet.example',
    'romeo@capulet.example', 'juliet@capulet.example/balcony/'])
def test_pong_completes_in_c_from_whom_match_id_sender_accepts(
        frm: str | None) -> None:
    """The C tap takes a pong from the senders slixmpp's MatchIDSender
    accepts, the raw 'from' compared: the session's (Peer.senders, shared)
    and the full, bare and domain parts of the peer's 'to' (read off it).
    Anything else goes to slixmpp, whose rules decide (slixmpp 1.8's
    compare the 'from' as a JID: it takes 'JULIET@capulet.example' too)."""
    from slixmpp.jid import JID
    from slixmpp.stanza import Iq
    from slixmpp.xmlstream.matcher.idsender import MatchIDSender
    own, to = JID('me@example.org/r'), JID('juliet@capulet.example/balcony')

    async def main() -> None:
        tap, stream, _ = make_tap(asyncio.get_running_loop())
        tap(HEADER)
        peer = Peer(to.full, to.full)
        peer.configure(('', own.bare, own.domain), False)
        future = tap.send_ping(peer, None, 5.0)
        id_ = sent_id(stream)
        sender = '' if frm is None else f" from='{frm}'"
        answer = f"<iq type='result' id='{id_}'{sender}/>"
        accepted = MatchIDSender({'id': id_, 'self': own, 'peer': to}).match(
            Iq(xml=ET.fromstring(answer)))
        in_c = (frm or '') in ('', own.bare, own.domain, to.full, to.bare,
                               to.domain)
        tap(answer.encode())
        assert future.done() is in_c and (accepted or not in_c)
        assert (stream.received[-1] == answer.encode()) is not in_c
        tap.cancel_all()
    run(main())


def test_error_is_a_pong_only_from_own_host() -> None:
    async def main() -> None:
        tap, stream, _ = make_tap(asyncio.get_running_loop())
        tap(HEADER)
        for own_host in (True, False):
            peer = Peer('example.com', 'example.com')
            peer.configure(None, own_host)
            future = tap.send_ping(peer, None, 5.0)
            answer = (f"<iq type='error' id='{sent_id(stream)}'>"
                      "<error type='cancel'/></iq>").encode()
            tap(answer)
            assert future.done() is own_host
            assert (stream.received[-1] == answer) is not own_host
        tap.cancel_all()
    run(main())


def test_timeouts_fire_once_in_deadline_order() -> None:
    async def main() -> None:
        tap, stream, timeouts = make_tap(asyncio.get_running_loop())
        tap(HEADER)
        peer = Peer('example.com', 'example.com')
        futures = [tap.send_ping(peer, None, t)
                   for t in (0.06, 0.02, 0.04, 0.02)]
        ids = [parse_stanza(w)['id'] for w in stream.transport.written]
        results = await asyncio.gather(*futures, return_exceptions=True)
        assert all(isinstance(r, TimeoutError) for r in results)
        assert [call[0] for call in timeouts.calls] == [
            ids[1], ids[3], ids[2], ids[0]]
        assert tap.pending() == 0 and peer.stats()[:3] == (4, 0, 4)
        # A late answer is nobody's: it goes to slixmpp.
        late = f"<iq type='result' id='{ids[0]}' from='example.com'/>"
        tap(late.encode())
        assert stream.received[-1] == late.encode()
    run(main())


def test_table_under_churn() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        tap, _, _ = make_tap(loop)
        peer = Peer('example.com', 'example.com')
        rng = random.Random(7)
        live: dict[str, Any] = {}
        for step in range(100_000):
            if live and rng.random() < 0.5:
                id_ = rng.choice(list(live)) if step % 97 == 0 else next(
                    iter(live))
                popped = tap.pop(id_)
                assert popped is not None and popped[0] is live.pop(id_)
                assert tap.pop(id_) is None  # a duplicate answer
            else:
                future = loop.create_future()
                id_ = tap.track(peer, 1000.0, future, None)
                assert id_ not in live
                live[id_] = future
            assert tap.pending() == len(live)
        assert tap.find('not-an-id') is None and tap.pop('0' * 16) is None
        tap.cancel_all()
        assert tap.pending() == 0
        assert all(f.cancelled() for f in live.values())
    run(main())


# ---- ids the application gives (xmpp.new_id() overridden) ----

def test_a_given_id_goes_out_and_its_pong_completes_in_c() -> None:
    async def main() -> None:
        tap, stream, peer = started_tap()
        future = tap.send_ping(peer, None, 5.0, 'app&1')
        assert sent_id(stream) == 'app&1'
        assert tap.find('app&1') is peer and tap.find('APP&1') is None
        tap(b"<iq type='result' id='app&amp;1' from='example.com'/>")
        assert future.done() and tap.counters() == (0, 1)
        assert tap.pending() == 0 and tap.find('app&1') is None
    run(main())


def test_given_ids_live_beside_ours() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        tap, _, timeouts = make_tap(loop)
        peer = Peer('example.com', 'example.com')
        ours = tap.track(peer, 1000.0, None, 'ours')
        # A given id that looks like one of ours is still only itself.
        lookalike = '0123456789abcdef'
        assert tap.track(peer, 1000.0, None, 'given', lookalike) == lookalike
        assert tap.track(peer, 0.01, None, 'late', 'given-late') == 'given-late'
        assert tap.pending() == 3
        assert tap.find(ours) is peer and tap.find(lookalike) is peer
        assert tap.find(lookalike.upper()) is None  # exactly the id given
        assert tap.pop(lookalike)[2] == 'given'
        assert tap.pop(lookalike) is None and tap.pop(ours)[2] == 'ours'
        await asyncio.sleep(0.05)
        assert [call[0] for call in timeouts.calls] == ['given-late']
        assert tap.pending() == 0
    run(main())


def test_a_given_id_in_flight_is_refused_until_answered() -> None:
    async def main() -> None:
        tap, stream, peer = started_tap()
        tap.send_ping(peer, None, 5.0, 'twice')
        sent_id(stream)
        with pytest.raises(ValueError, match='in flight already'):
            tap.send_ping(peer, None, 5.0, 'twice')
        with pytest.raises(ValueError, match='in flight already'):
            tap.track(peer, 5.0, None, None, 'twice')
        assert tap.pending() == 1 and peer.sent == 1
        assert not stream.transport.written
        tap.pop('twice')
        tap.send_ping(peer, None, 5.0, 'twice')
        assert sent_id(stream) == 'twice'
        tap.cancel_all()
    run(main())


@pytest.mark.parametrize('bad,error', [
    ('', ValueError), (7, TypeError), (b'id', TypeError),
    ('\ud800', ValueError), ('a\x00b', ValueError)])
def test_a_given_id_must_be_a_str_xml_carries(bad: Any, error: type) -> None:
    async def main() -> None:
        tap, stream, peer = started_tap()
        with pytest.raises(error):
            tap.send_ping(peer, None, 5.0, bad)
        with pytest.raises(error):
            tap.track(peer, 5.0, None, None, bad)
        assert tap.pending() == 0 and not stream.transport.written
    run(main())


def test_track_raises_what_looking_up_the_futures_cancel_raised() -> None:
    class Broken:
        @property
        def cancel(self) -> None:
            raise RuntimeError('no cancel today')

    async def main() -> None:
        tap, _, _ = make_tap(asyncio.get_running_loop())
        peer = Peer('example.com', 'example.com')
        with pytest.raises(RuntimeError, match='no cancel today'):
            tap.track(peer, 5.0, Broken(), None)
        with pytest.raises(TypeError, match='future must be a Future'):
            tap.track(peer, 5.0, object(), None)
        assert tap.pending() == 0 and peer.sent == 0

    unraisable: list[Any] = []
    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        run(main())
    finally:
        sys.unraisablehook = hook
    assert unraisable == []


def test_references_are_released() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        tap, stream, _ = make_tap(loop)
        tap(HEADER)
        peer = Peer('example.com', 'example.com')
        context = object()
        before = (sys.getrefcount(peer), sys.getrefcount(context))
        for _ in range(1000):
            future = loop.create_future()
            tap.pop(tap.track(peer, 10.0, future, context))
            future = tap.send_ping(peer, None, 10.0)
            tap(result_for(sent_id(stream)))
            await future
        del future
        gc.collect()
        assert (sys.getrefcount(peer), sys.getrefcount(context)) == before
    run(main())


def result_for(id_: str) -> bytes:
    return f"<iq type='result' id='{id_}'/>".encode()


def test_wrong_arguments_to_the_tap() -> None:
    tap, _, _ = make_tap()
    peer = Peer('a', 'a')
    with pytest.raises(TypeError):
        tap.send_ping('not a peer', None, 1.0)
    with pytest.raises(ValueError):
        tap.send_ping(peer, None, -1.0)
    with pytest.raises(ValueError):
        tap.send_ping(peer, None, math.nan)
    with pytest.raises(TypeError):
        tap.send_ping(peer, 5, 1.0)
    with pytest.raises(TypeError):
        tap.track(peer, 'soon', None, None)
    assert tap.find(12) is None and tap.pop(None) is None
    assert tap.pending() == 0
    with pytest.raises(TypeError):
        Peer('a', b'a')
    with pytest.raises(TypeError):
        peer.configure(['a'], True)
    with pytest.raises(TypeError):
        peer.record('fast')


# ---- statistics -------------------------------------------------------

def test_statistics_match_ping8() -> None:
    rng = random.Random(3)
    rtts = [rng.uniform(0.001, 0.5) for _ in range(1000)]
    peer = Peer('example.com', 'example.com')
    assert peer.stats() == (0, 0, 0, None, None, None, None, None)
    for rtt in rtts:
        peer.record(rtt)
    peer.record_lost()
    _, received, lost, last, low, avg, high, mdev = peer.stats()
    assert (received, lost, last, low, high) == (1000, 1, rtts[-1],
                                                 min(rtts), max(rtts))
    assert avg == pytest.approx(statistics.fmean(rtts))
    assert mdev == pytest.approx(statistics.pstdev(rtts))


def test_a_restart_inside_a_read_leaves_the_rest_to_slixmpp() -> None:
    tap, stream, _ = make_tap()
    stream.restart_on = b'<success/>'
    tap(HEADER + ping('p1') + b'<success/>' + ping('p2'))
    assert stream.transport.written == [result('p1')]
    assert b''.join(stream.received) == HEADER + b'<success/>' + ping('p2')
    # The next read starts the new stream.
    tap(HEADER + ping('p3'))
    assert stream.transport.written == [result('p1'), result('p3')]


def test_parsers_renew_their_libxml2_context() -> None:
    """libxml2 keeps every name it has seen; the parsers start afresh every
    few thousand stanzas, which must not change a single answer."""
    for i in range(10_000):
        data = f"<iq id='{i}'><q xmlns='urn:test:{i}'/></iq>".encode()
        assert parse_stanza(data)['id'] == str(i)
    tap, stream, _ = make_tap()
    tap(HEADER)
    for i in range(10_000):
        tap(ping(f'r{i}'))
    assert stream.transport.written == [result(f'r{i}') for i in range(10_000)]
    assert stream.received == [HEADER]


# ---- an expat that holds input back (>= 2.6) ------------------------------

class DeferringParser:
    """A parser on an expat that defers: flush() says whether the stream
    was refused.  With queue, its empty _events_queue says flush() released
    nothing; without, the tap cannot tell and hands slixmpp b"" after each
    flush."""

    def __init__(self, refused: bool = False, queue: bool = False) -> None:
        self.refused = refused
        self.flushes = 0
        if queue:
            self._events_queue: tuple[Any, ...] = ()

    def feed(self, data: bytes) -> None:
        pass

    def read_events(self) -> Iterable[tuple[str, Any]]:
        return ()

    def flush(self) -> None:
        self.flushes += 1
        if self.refused:
            raise ET.ParseError('not well-formed')


@pytest.mark.parametrize('refused', [False, True])
def test_a_deferring_parser_is_flushed_before_a_stanza_is_taken(refused: bool) -> None:
    tap, stream, _ = make_tap()
    tap.reparse_deferral = True
    stream.parser = parser = DeferringParser(refused)
    message = b"<message><body>hi</body></message>"
    tap(HEADER + message + ping('p1'))
    # Flushed once, after slixmpp got the bytes before the ping; without
    # _events_queue the released events go to slixmpp through b"".
    assert parser.flushes == 1
    if refused:
        assert stream.transport.written == []
        assert stream.received == [HEADER + message, ping('p1')]
    else:
        assert stream.transport.written == [result('p1')]
        assert stream.received == [HEADER + message, b'']
    # Nothing new reached slixmpp: the next ping costs no flush.
    tap(ping('p2'))
    assert parser.flushes == 1
    assert len(stream.transport.written) == (0 if refused else 2)


def test_deliver_without_delay_flushes_once_per_read_that_ends_a_stanza() -> None:
    tap, stream, _ = make_tap()
    tap.reparse_deferral = True
    tap.deliver_without_delay = True
    stream.parser = parser = DeferringParser(queue=True)
    tap(HEADER)
    assert parser.flushes == 0
    tap(b"<message><body>1</body></message><message><body>2")
    assert parser.flushes == 1
    tap(b"</body></message><presence/>")
    assert parser.flushes == 2
    tap(ping('p1'))
    # Taken by the tap: slixmpp got nothing since the last flush.
    assert parser.flushes == 2
    assert stream.transport.written == [result('p1')]
    tap(b"  ")
    assert parser.flushes == 2
    assert stream.received == [HEADER, b"<message><body>1</body></message><message><body>2",
                               b"</body></message><presence/>", b"  "]
    # Passive (past the stream's end), the tap tells no stanzas apart: it
    # flushes after every read that may end one (with a '>').
    tap(b"</stream:stream>")
    tap(b" ")
    tap(b" ")
    assert parser.flushes == 3
    tap(b"<a/>")
    assert parser.flushes == 4
