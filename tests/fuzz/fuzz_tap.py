"""Atheris harness for the stream tap (csrc/tap.c, csrc/scanner.c), checked
against slixmpp's own parser.

One byte stream, cut into reads at any points, goes once through slixmpp's
``XMLStream.data_received`` alone and once through the Tap in front of it.
The stanzas that reach slixmpp through the tap, with the ones the tap
consumed (pings it answered, pongs it completed) in their place, must be
exactly the stanzas slixmpp alone finds, in the same order; the stream's
header and end, and a rejection as not well-formed (at the same place
among the stanzas, nothing dispatched after it) must be the same too.

Input: a flags byte (bit 0: answer pings, bit 1: complete pongs, bit 2: a
component's stream, bit 3: no writing to the transport, bit 4: the tap put
in front only before read n // 16, as by a plugin registered mid-stream),
a byte n, n % 16 cut points of two bytes each (little endian, modulo the
stream's length + 1), then the stream.  In the stream,
``$1`` and ``$2`` stand for the ids of two pings in flight: one to our own
server (any sender, an error counts), one that only ``example.com`` may
answer; ``$B`` for 16 KiB of text, more than the tap holds back.

Run by ``make fuzz`` with the module built with AddressSanitizer and
libFuzzer's coverage (FUZZ_CORE names it); without FUZZ_CORE it uses the
module built in place.  ``check(data)`` is the oracle, for regression tests.
"""
from __future__ import annotations

import ast
import logging
import sys
import types
import typing
import xml.etree.ElementTree as ET

from instrumented import load_core

load_core()

from slixmpp.xmlstream.xmlstream import XMLStream  # noqa: E402

from slixmpp_ping_c._core import Peer, Tap  # noqa: E402
from slixmpp_ping_c._fast_path import TAP_PRIVATE_NAMES, reply_jid  # noqa: E402

CLIENT_NS = 'jabber:client'
COMPONENT_NS = 'jabber:component:accept'
PING_TAG = '{urn:xmpp:ping}ping'
MAX_CUTS = 16
# The tap holds an iq back until it ends, or until it outgrows MAX_HELD
# (16 KiB, csrc/tap.c); a malformed byte in it reaches slixmpp only then.
# Whitespace, which goes anywhere the tap may be holding, past that size
# ends every stream, so that both sides have seen every byte.
FLUSH = b' ' * (16 * 1024 + 1)
# What $B stands for: enough to make an iq too big to hold.
BIG = b'b' * (16 * 1024)
QUIET = logging.getLogger('fuzz_tap.quiet')
QUIET.setLevel(logging.WARNING)

# typing is imported whole: `from typing import ...` run by __main__ leaves,
# on Python 3.13.0, a frame object that LeakSanitizer reports when
# libFuzzer exits without finalizing the interpreter.
Any = typing.Any
Log = list[tuple[Any, ...]]


class Transport:
    """What the tap writes: the pings sent, then the answers, in the log."""

    def __init__(self) -> None:
        self.log: Log | None = None
        self.requests: list[bytes] = []

    def write(self, data: bytes) -> None:
        if self.log is None:
            self.requests.append(data)
        else:
            self.log.append(('answer', data))


class Recorder(XMLStream):
    """The parts of slixmpp's XMLStream that its data_received uses, with
    what it dispatches recorded instead of handled.  XMLStream.__init__ is
    not run: nothing here connects."""

    def __init__(self, ns: str) -> None:  # XMLStream.__init__ left out on purpose
        self.default_ns = ns
        self.stream_ns = 'http://etherx.jabber.org/streams'
        self.namespace_map: dict[str, str] = {}
        self.use_cdata = False
        self._run_out_filters = None
        self.transport = Transport()
        self._session_started = True
        self._always_send_everything = False
        self.log: Log = []
        self.init_parser()

    def start_stream_handler(self, xml: ET.Element) -> None:
        self.log.append(('header', xml.tag, sorted(xml.attrib.items())))

    def _spawn_event(self, xml: ET.Element) -> None:
        # The text after the element (its tail) is whatever of it the read
        # held: it depends on where reads end, and slixmpp ignores it.
        xml.tail = None
        self.log.append(('stanza', ET.tostring(xml)))

    _XMLStream__spawn_event = _spawn_event  # slixmpp 1.8's name

    def abort(self) -> None:
        self.log.append(('abort',))

    def send(self, data: Any, use_filters: bool = True) -> None:
        self.log.append(('error', data['condition'], data['text']))

    def disconnect(self, *args: Any, **kwargs: Any) -> None:
        self.log.append(('disconnect',))


class Future:
    """The loop's future for a ping: its completion goes in the log, in its
    place among the stanzas."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.id: str | None = None
        self._done = False

    def set_result(self, value: float) -> None:
        assert not self._done, 'a ping completed twice'
        self._done = True
        self.log.append(('pong', self.id))

    def set_exception(self, exc: BaseException) -> None:
        self._done = True

    def cancel(self) -> bool:
        self._done = True
        return True

    def done(self) -> bool:
        return self._done

    def cancelled(self) -> bool:
        return self._done


class Loop:
    """A loop that never runs: timers are armed and never fire."""

    def __init__(self, log: Log) -> None:
        self.log = log

    def create_future(self) -> Future:
        return Future(self.log)

    def call_later(self, delay: float, callback: Any, *args: Any) -> Any:
        return types.SimpleNamespace(cancel=lambda: None)

    def call_soon(self, callback: Any, *args: Any) -> Any:
        """The turn ends at once: what the tap writes is written where the
        oracle compares it with slixmpp's dispatching."""
        callback(*args)
        return types.SimpleNamespace(cancel=lambda: None)


def split(data: bytes) -> tuple[int, int, list[bytes]]:
    """The flags, the read before which the tap comes (0: from the
    start), and the reads of an input (the ids not yet put in)."""
    if len(data) < 2:
        return 0, 0, []
    flags, n = data[0], data[1] % MAX_CUTS
    stream = data[2 + 2 * n:]
    cut_bytes = data[2:2 + 2 * n]
    cuts = sorted(int.from_bytes(cut_bytes[i:i + 2], 'little') % (len(stream) + 1)
                  for i in range(0, len(cut_bytes) - 1, 2))
    reads, start = [], 0
    for cut in [*cuts, len(stream)]:
        reads.append(stream[start:cut])
        start = cut
    return flags, data[1] // MAX_CUTS if flags & 16 else 0, reads


def release(reads: list[bytes]) -> bytes:
    """The last read, whitespace: expat >= 2.6 holds input back until what
    it holds at least doubles, and it never held more than all the bytes
    so far; this makes it parse everything, in both worlds, so that they
    are compared once neither holds anything."""
    return b' ' * sum(map(len, reads))


def reference(ns: str, reads: list[bytes]) -> Log:
    """What slixmpp's parser alone makes of the reads."""
    stream = Recorder(ns)
    for read in reads:
        XMLStream.data_received(stream, read)
    return stream.log


def through_tap(flags: int, late: int, reads: list[bytes]
                ) -> tuple[Log, list[bytes]]:
    """The same with the tap in front (from read `late` on, joining the
    stream there); the reads with the ids put in."""
    ns = COMPONENT_NS if flags & 4 else CLIENT_NS
    stream = Recorder(ns)
    log = stream.log
    slow: list[str] = []
    tap = Tap(stream, stream.data_received, Loop(log), default_ns=ns,
              component=bool(flags & 4), log=QUIET,
              send_queue=types.SimpleNamespace(_unfinished_tasks=0),
              normalize_jid=reply_jid,
              send_slow=lambda id_, peer, ifrom: slow.append(id_),
              on_timeout=lambda *args: None, **TAP_PRIVATE_NAMES)
    tap.answer_pings = bool(flags & 1)
    tap.complete_pongs = bool(flags & 2)
    tap.direct_send = not flags & 8
    own = Peer('example.com', 'example.com')
    own.configure(None, True)
    other = Peer('other@example.net', 'other@example.net')
    other.configure(('example.com',), False)
    ids = []
    for peer in (own, other):
        future = tap.send_ping(peer, None, 60.0)
        # Written by the tap, or handed to slixmpp to send.
        requests = stream.transport.requests
        future.id = slow.pop() if slow else ET.fromstring(requests.pop()).get('id')
        ids.append(future.id.encode())
    reads = [read.replace(b'$1', ids[0]).replace(b'$2', ids[1])
             .replace(b'$B', BIG) for read in reads] + [FLUSH]
    reads.append(release(reads))
    stream.transport.log = log
    for i, read in enumerate(reads):
        if i < late:
            XMLStream.data_received(stream, read)
            continue
        if i == late and late > 0:
            tap.join_stream()
        tap(read)
    tap.cancel_all()
    return log, reads


def consumed(entry: tuple[Any, ...], stanza: bytes) -> bool:
    """Whether the tap's entry stands for this stanza of slixmpp's."""
    xml = ET.fromstring(stanza)
    if entry[0] == 'answer':
        answer = ET.fromstring(entry[1])
        return (xml.get('type') == 'get' and len(xml) > 0
                and xml[0].tag == PING_TAG
                and answer.get('type') == 'result'
                and answer.get('id') == xml.get('id'))
    return (xml.get('type') in ('result', 'error')
            and xml.get('id') == entry[1])


def quoted(text: str) -> bytes:
    """The bytes in slixmpp's not-well-formed text, 'Server sent: b...'."""
    prefix = 'Server sent: '
    assert text.startswith(prefix), text
    value = ast.literal_eval(text[len(prefix):])
    assert isinstance(value, bytes), text
    return value


class Mismatch:
    """What an assertion shows: the reads and both logs, long bytes cut."""

    def __init__(self, reads: list[bytes], got: Log, expected: Log) -> None:
        self.parts = {'reads': reads, 'through the tap': got,
                      'slixmpp alone': expected}

    def __repr__(self) -> str:
        return '\n'.join(f'{name}:\n' + '\n'.join(
            f'  {entry!r:.300}' for entry in part)
            for name, part in self.parts.items())


def until_refused(log: Log) -> tuple[Log, Log]:
    """The log up to slixmpp's first not-well-formed error, and from it."""
    for i, entry in enumerate(log):
        if entry[0] == 'error':
            return log[:i], log[i:]
    return log, []


def check(data: bytes) -> None:
    """The oracle: raises AssertionError where the tap and slixmpp part."""
    flags, late, reads = split(data)
    got, reads = through_tap(flags, late, reads)
    expected = reference(COMPONENT_NS if flags & 4 else CLIENT_NS, reads)
    context = Mismatch(reads[:-2], got, expected)
    (got, got_after), (expected, expected_after) = (
        until_refused(got), until_refused(expected))
    assert len(got) == len(expected), context
    for ours, theirs in zip(got, expected, strict=True):
        if ours[0] in ('answer', 'pong'):
            assert theirs[0] == 'stanza' and consumed(ours, theirs[1]), context
        else:
            assert ours == theirs, context
    # Refused, the stream is dead: slixmpp reports every data_received
    # call after that as not well-formed and dispatches nothing.  Through
    # the tap a read may come in pieces, each reported; their text quotes
    # what slixmpp was given, which may be a piece of a read.
    assert bool(got_after) == bool(expected_after), context
    stream = b''.join(reads)
    for entry in got_after:
        assert entry[0] in ('error', 'disconnect'), context
        if entry[0] == 'error':
            assert entry[1] == 'not-well-formed', context
            assert quoted(entry[2]) in stream, context
    assert all(entry[0] in ('error', 'disconnect')
               for entry in expected_after), context


def main() -> None:
    import atheris
    # slixmpp logs every parse error; the harness compares them instead.
    logging.getLogger('slixmpp').setLevel(logging.CRITICAL)
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == '__main__':
    main()
