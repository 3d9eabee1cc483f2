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
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import SLIXMPP_XEP_0199
from memstream import CLIENT_JID, EXPAT_DEFERS, SERVER, MemoryStream, message_xml, open_client, ping_xml, result_xml

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
                    config: dict[str, Any] | None = None) -> list[Trace]:
    """One world: one stream, and in it case after case, each case's reads
    fed one by one with the loop run after each, then the releasing read
    (after which expat holds nothing: the next case starts afresh)."""
    traces: list[Trace] = []
    s = await open_client(plugin_cls, config=config)
    watch(s, traces)
    try:
        for reads in cases:
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
              for (length, size), a, b in zip(labels, theirs, ours) if a.whole() != b.whole()]
    delayed = [label for label, a in zip(labels, theirs) if a.delayed()]
    return differ, delayed


@pytest.mark.parametrize('variant', VARIANTS)
async def test_same_stanzas_and_bytes_as_slixmpp_on_this_expat(variant: str) -> None:
    differ, delayed = await differential(variant)
    assert differ == [], f'{len(differ)} cases differ, the first: {differ[:3]}'
    if EXPAT_DEFERS and VARIANTS[variant]:
        # slixmpp's own behaviour: some stanzas wait for a later read.
        assert delayed, 'expat defers, yet slixmpp delivered everything before the next read'
    else:
        assert delayed == []
