"""expat >= 2.6 holds parse events back until more data arrives ("reparse
deferral", CVE-2023-52425): slixmpp's handlers see a stanza only when a later
read lets expat parse it.  Here slixmpp's plugin and ours read the same
streams cut into reads of every small size; once a final read releases what
expat still holds, both must have shown slixmpp's handlers the same stanzas
and written the same bytes, in the same order.  What was delivered *before*
that final read states slixmpp's own behaviour on each expat.
"""
from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from tests.conftest import SLIXMPP_XEP_0199
from tests.memstream import (
    CLIENT_JID, EXPAT_DEFERS, SERVER, MemoryStream, client_stream, message_xml, open_client,
    ping_xml, result_xml)

import slixmpp_ping_c

FRIEND = 'friend@example.net/phone'
BODY_LENGTHS = [*range(1, 41), 100, 1000, 5000]
READ_SIZES = range(1, 11)
#: Whitespace keepalive as the last read: longer than anything expat could
#: hold, so that it parses everything before it.
RELEASE = b' ' * 16384


@dataclass
class Trace:
    """The stanzas slixmpp's handlers saw and the stanzas written, each in
    order, and how many of each came before the releasing read."""

    seen: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    marks: tuple[int, int] = (0, 0)
    #: (stanzas seen, stanzas written) after each read, where each read
    #: was let settle (run_world's settle_reads)
    per_read: list[tuple[int, int]] = field(default_factory=list)

    def mark(self) -> None:
        self.marks = (len(self.seen), len(self.written))

    def whole(self) -> tuple[list[str], list[str]]:
        return self.seen, self.written

    def delayed(self) -> bool:
        return self.marks != (len(self.seen), len(self.written))


def watch(s: MemoryStream, traces: list[Trace]) -> None:
    """Record the messages and disconnects slixmpp's handlers see, in the
    trace of the current case (the last)."""
    s.xmpp.add_event_handler('message', lambda msg: traces[-1].seen.append(f"message {msg['body']}"))
    s.xmpp.add_event_handler('disconnected', lambda _: traces[-1].seen.append('disconnected'))


def reads_of(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i:i + size] for i in range(0, len(data), size))


async def run_world(plugin_cls: type, cases: list[list[bytes]], *, pong_to_ours: bool = False,
                    config: dict[str, Any] | None = None, settle_reads: bool = False) -> list[Trace]:
    """One world: one stream, and in it case after case, each case's reads
    fed one by one with the loop run after each (one turn, or until all is
    written with ``settle_reads``), then the releasing read (after which
    expat holds nothing: the next case starts afresh)."""
    traces: list[Trace] = []
    s = await open_client(plugin_cls, config=config)
    watch(s, traces)
    try:
        for case in cases:
            reads = case
            trace = Trace()
            traces.append(trace)
            if pong_to_ours:
                ping = asyncio.ensure_future(s.ping_plugin.ping(SERVER, timeout=30))
                ping.add_done_callback(lambda f, seen=trace.seen: seen.append(f'pong {f.exception()!r}'))
                await s.settle()
                ping_id = re.search(r"id=['\"]([^'\"]+)", s.take_sent().decode())[1]  # type: ignore[index]
                reads = [r.replace(b'PING-ID', ping_id.encode()) for r in reads]
            for read in reads:
                s.feed(read)
                if settle_reads:
                    # Time enough between two reads for all to be written.
                    await s.settle()
                    trace.written += s.take_stanzas()
                    trace.per_read.append((len(trace.seen), len(trace.written)))
                else:
                    # One loop turn, as between two reads from a socket.
                    await asyncio.sleep(0)
            await s.settle()
            trace.written += s.take_stanzas()
            trace.mark()
            s.feed(RELEASE)
            await s.settle()
            trace.written += s.take_stanzas()
    finally:
        traces.append(Trace())  # what closing the stream shows
        await s.close()
    return traces[:len(cases)]


def stream_of(variant: str, body_length: int) -> tuple[bytes, bytes]:
    """(bytes cut into reads, bytes in one last read) of a variant."""
    message = message_xml('b' * body_length, frm=FRIEND).encode()
    ping = ping_xml('q1', frm=SERVER, to=CLIENT_JID).encode()
    if variant == 'message, ping':
        return message + ping, b''
    if variant == 'ping, message':
        return ping + message, b''
    if variant == 'message and ping, last read whole':
        return message[:-3], message[-3:] + ping
    assert variant == 'message, pong to our ping'
    return message + result_xml('PING-ID', frm=SERVER, to=CLIENT_JID).encode(), b''


#: Variant -> whether slixmpp's own plugin, on an expat that defers, leaves
#: something for a later read in some case: a stanza whose last bytes come
#: in a small read after a read expat could make nothing of.  A last read
#: holding whole stanzas is parsed whole.
VARIANTS = {'message, ping': True, 'ping, message': True,
            'message and ping, last read whole': False,
            'message, pong to our ping': True}


async def differential(variant: str) -> tuple[list[str], list[tuple[int, int]]]:
    """(the cases where the two worlds differ, the cases where slixmpp's
    plugin delivered or wrote something only after the releasing read)."""
    labels, cases = [], []
    for body_length in BODY_LENGTHS:
        for size in READ_SIZES:
            cut, last = stream_of(variant, body_length)
            labels.append((body_length, size))
            cases.append([*reads_of(cut, size), *([last] if last else [])])
    pong = variant.endswith('our ping')
    theirs = await run_world(SLIXMPP_XEP_0199, cases, pong_to_ours=pong)
    ours = await run_world(slixmpp_ping_c.XEP_0199, cases, pong_to_ours=pong)
    differ = [f'body {length}, reads of {size}: slixmpp {a.whole()}, ours {b.whole()}'
              for (length, size), a, b in zip(labels, theirs, ours, strict=True) if a.whole() != b.whole()]
    delayed = [label for label, a in zip(labels, theirs, strict=True) if a.delayed()]
    return differ, delayed


@pytest.mark.slow  # 430 streams through each plugin: seconds a variant
@pytest.mark.parametrize('variant', VARIANTS)
async def test_same_stanzas_and_bytes_as_slixmpp_on_this_expat(variant: str) -> None:
    differ, delayed = await differential(variant)
    assert differ == [], f'{len(differ)} cases differ, the first: {differ[:3]}'
    if EXPAT_DEFERS and VARIANTS[variant]:
        # slixmpp's own behaviour: some stanzas wait for a later read.
        assert delayed, 'expat defers, yet slixmpp delivered everything before the next read'
    else:
        assert delayed == []


# ---- the contract: nothing later than with slixmpp's plugin -----------

def later_than_theirs(ours: Trace, theirs: Trace) -> list[str]:
    """Where ours broke the contract against slixmpp's plugin in one case:
    a different outcome once expat holds nothing, or, after some read,
    fewer stanzas seen by slixmpp's handlers or fewer written."""
    if ours.whole() != theirs.whole():
        return [f'in the end: slixmpp {theirs.whole()}, ours {ours.whole()}']
    return [f'after read {i + 1}: slixmpp seen, written {b}, ours {a}'
            for i, (a, b) in enumerate(zip(ours.per_read, theirs.per_read, strict=True))
            if a[0] < b[0] or a[1] < b[1]]


def cut_at(data: bytes, at: int) -> list[bytes]:
    return [data[:at], data[at:]]


PING = ping_xml('s1', frm=SERVER, to=CLIENT_JID).encode()
MESSAGE = message_xml('before', frm=FRIEND).encode()
NEXT_MESSAGE = message_xml('after', frm=FRIEND).encode()
#: Stream -> (where its ping's last byte is, whether slixmpp's plugin
#: answers it or shows a stanza later for some cut, on an expat that defers).
CONTRACT_STREAMS = {
    'a ping': (PING, len(PING), True),
    'a ping between messages': (MESSAGE + PING + NEXT_MESSAGE, len(MESSAGE + PING), False),
}


@pytest.mark.parametrize('stream', CONTRACT_STREAMS)
async def test_cut_at_every_byte_nothing_later_than_slixmpp(stream: str) -> None:
    """The stream in two reads, cut at every byte, a settled loop after each
    read: slixmpp's handlers see every stanza, and every reply goes out, no
    later than with slixmpp's own plugin, the same ones in the same order;
    the ping is answered at the read that brings its last byte.  On an
    expat that defers, slixmpp's plugin answers some of them only later."""
    data, ping_end, their_late_on_defer = CONTRACT_STREAMS[stream]
    cuts = range(1, len(data))
    cases = [cut_at(data, at) for at in cuts]
    theirs = await run_world(SLIXMPP_XEP_0199, cases, settle_reads=True)
    ours = await run_world(slixmpp_ping_c.XEP_0199, cases, settle_reads=True)
    broken = [f'cut at {at}: {problem}' for at, a, b in zip(cuts, ours, theirs, strict=True)
              for problem in later_than_theirs(a, b)]
    assert broken == [], f'{len(broken)} breaches, the first: {broken[:3]}'
    answered_at = [next((i for i, (_, written) in enumerate(trace.per_read) if written), None)
                   for trace in ours]
    assert answered_at == [0 if at >= ping_end else 1 for at in cuts]
    their_late = [at for at, trace in zip(cuts, theirs, strict=True) if trace.delayed()]
    assert bool(their_late) is (EXPAT_DEFERS and their_late_on_defer)


# ---- deliver_without_delay --------------------------------------------

class IncomingFilter:
    """An application's incoming filter, which would see every stanza: the
    tap leaves them all to slixmpp as they come."""

    def __init__(self, s: MemoryStream) -> None:
        s.xmpp.add_filter('in', lambda stanza: stanza)


class DebugLogging:
    """slixmpp's stream logging at DEBUG: the tap leaves every stanza to
    slixmpp, which logs it."""

    def __init__(self, s: MemoryStream) -> None:
        self.logger = logging.getLogger('slixmpp.xmlstream.xmlstream')
        self.level = self.logger.level
        self.logger.setLevel(logging.DEBUG)

    def close(self) -> None:
        self.logger.setLevel(self.level)


async def fed_byte_by_byte(s: MemoryStream, data: bytes, done: Callable[[], bool]) -> str:
    """'at the last byte', 'later' (only once more bytes came) or 'early'."""
    for i in range(len(data)):
        s.feed(data[i:i + 1])
        await s.settle(quiet_rounds=2)
        if done():
            return 'at the last byte' if i == len(data) - 1 else 'early'
    s.feed(b' ' * len(data))
    await s.settle()
    assert done()
    return 'later'


async def message_byte_by_byte(plugin_cls: type, config: dict[str, Any] | None = None) -> str:
    async with client_stream(plugin_cls, config=config) as s:
        bodies: list[str] = []
        s.xmpp.add_event_handler('message', lambda msg: bodies.append(msg['body']))
        return await fed_byte_by_byte(s, message_xml('hello', frm=FRIEND).encode(),
                                      lambda: bodies == ['hello'])


@pytest.mark.parametrize('path', ['tap', 'slixmpp: an incoming filter', 'slixmpp: DEBUG logging'])
@pytest.mark.parametrize('option', [False, True])
async def test_deliver_without_delay(path: str, option: bool) -> None:
    """With the option a stanza reaches slixmpp's handlers as soon as its
    last byte is read, whichever path it takes; without it, no later than
    with slixmpp's own plugin, which, on an expat that defers, shows a
    stanza read byte by byte only at the next read.  A ping the tap answers
    never waits, nor one it held whole to look at (it hands slixmpp all of
    it at once)."""
    theirs = await message_byte_by_byte(SLIXMPP_XEP_0199)
    assert theirs == ('later' if EXPAT_DEFERS else 'at the last byte')
    async with client_stream(slixmpp_ping_c.XEP_0199, config={'deliver_without_delay': option}) as s:
        setup = {'tap': lambda s: None, 'slixmpp: an incoming filter': IncomingFilter,
                 'slixmpp: DEBUG logging': DebugLogging}[path](s)
        try:
            bodies: list[str] = []
            s.xmpp.add_event_handler('message', lambda msg: bodies.append(msg['body']))
            message = message_xml('hello', frm=FRIEND).encode()
            when = await fed_byte_by_byte(s, message, lambda: bodies == ['hello'])
            assert when == 'at the last byte' if option else when in {'at the last byte', theirs}
            ping = ping_xml('d1', frm=SERVER, to=CLIENT_JID).encode()
            written: list[str] = []
            when = await fed_byte_by_byte(s, ping, lambda: bool(written.extend(s.take_stanzas()) or written))
            assert written == [s.c14n(result_xml('d1', to=SERVER))]
            by_tap = path == 'tap'
            held_whole = path != 'slixmpp: an incoming filter'
            assert when == 'at the last byte' if option or held_whole else when in {'at the last byte', theirs}
            assert s.ping_plugin._tap.counters() == ((1, 0) if by_tap else (0, 0))
            # Set on the plugin, the option reaches the tap at once.
            s.ping_plugin.deliver_without_delay = not option
            assert s.ping_plugin._tap.deliver_without_delay is (not option)
        finally:
            if isinstance(setup, DebugLogging):
                setup.close()


# ---- an expat that defers, a parser without flush() -------------------

class ParserWithoutFlush:
    """slixmpp's parser as a Python older than flush() (3.12.2 and earlier)
    linked against a system expat >= 2.6 has it."""

    def __init__(self, parser: Any) -> None:
        self._parser = parser

    def feed(self, data: bytes) -> None:
        self._parser.feed(data)

    def read_events(self) -> Iterator[tuple[str, Any]]:
        return self._parser.read_events()


@pytest.mark.parametrize('wrapped', [False, True])
async def test_deferring_expat_without_flush_leaves_stanzas_to_slixmpp(wrapped: bool) -> None:
    """Nothing could tell what expat holds back: the tap stays passive and
    slixmpp answers (here on any expat: the tap is told expat defers; this
    Python's own parser has flush() from 3.13 on)."""
    async with client_stream(slixmpp_ping_c.XEP_0199) as s:
        tap = s.ping_plugin._tap
        tap.reparse_deferral = True
        s.xmpp.init_parser()
        if wrapped:
            s.xmpp.parser = ParserWithoutFlush(s.xmpp.parser)
        flush = hasattr(s.xmpp.parser, 'flush')
        s.feed(s.server_header())
        s.feed(ping_xml('n1', frm=SERVER, to=CLIENT_JID) + ' ' * 200)
        await s.settle()
        assert s.take_stanzas() == [s.c14n(result_xml('n1', to=SERVER))]
        assert tap.counters() == ((1, 0) if flush else (0, 0))


async def written_per_read(plugin_cls: type, reads: list[bytes], config: dict[str, Any] | None = None) -> list[bytes]:
    """The bytes written after each read, on a stream that may be refused."""
    async with client_stream(plugin_cls, config=config, check_pending=False) as s:
        written = []
        for read in reads:
            s.feed(read)
            await s.settle()
            written.append(s.take_sent())
        return written


async def test_a_refusal_expat_holds_back_is_reported_at_slixmpps_read() -> None:
    """A bad byte in a start tag expat has not parsed again yet (it defers),
    then a ping: slixmpp reports the stream error at the same read whether
    the tap flushed the parser before taking the ping, or after the read
    (deliver_without_delay), or not at all (slixmpp's plugin); the ping is
    never answered."""
    reads = [b"<message to='" + b'a' * 40, b"\x01'><body>x</body></message>",
             ping_xml('p1', frm=SERVER, to=CLIENT_JID).encode(), b' ' * 200]
    worlds = [await written_per_read(plugin_cls, reads, config)
              for plugin_cls, config in ((SLIXMPP_XEP_0199, None), (slixmpp_ping_c.XEP_0199, None),
                                         (slixmpp_ping_c.XEP_0199, {'deliver_without_delay': True}))]
    assert worlds[1] == worlds[0] and worlds[2] == worlds[0]
    first_error = next(i for i, out in enumerate(worlds[0]) if b'not-well-formed' in out)
    # expat 2.5 parses the bad byte as it comes; 2.6 with the ping's read.
    assert first_error == (2 if EXPAT_DEFERS else 1)
    assert b'result' not in b''.join(worlds[0])


async def test_a_refusal_the_tap_flushed_out_is_reported_when_expat_defers_again() -> None:
    """Regression: expat forgets an error once a later parse attempt is
    deferred (the deferred attempt stores "no error" over it).  The tap's
    flush() found the bad byte; the ping's read that followed was too short
    for expat to try again, and slixmpp never reported the stream (no
    stream error, no disconnect; every later read silently ignored).  Now
    slixmpp reports it at its next read, no later than with its own plugin,
    and the ping is never answered."""
    reads = [b"<message to='" + b'a' * 400, b"\x01'><body>x</body></message>",
             ping_xml('p1', frm=SERVER, to=CLIENT_JID).encode(), b' ' * 4000,
             message_xml('after', frm=FRIEND).encode(), b' ' * 4000]
    worlds = [await written_per_read(plugin_cls, reads) for plugin_cls in (SLIXMPP_XEP_0199, slixmpp_ping_c.XEP_0199)]
    theirs, ours = ([i for i, out in enumerate(world) if b'not-well-formed' in out] for world in worlds)
    assert theirs and ours and ours[0] <= theirs[0]
    assert b'result' not in b''.join(worlds[0] + worlds[1])
