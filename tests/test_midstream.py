"""The plugin registered after the stream header (from session_start, or a
harness's order): slixmpp sees exactly what it would with its own plugin,
and the C fast path starts where the tap can prove it reads the stream as
slixmpp's parser does (README, "When the fast path starts").

The compat tests run both implementations ('impl'); the others are about
slixmpp_ping_c's counters, which say which path a stanza took.
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Any

import pytest
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

from tests.conftest import Impl, load_impl
from tests.memstream import (
    CLIENT_JID, COMPONENT_JID, COMPONENT_NS, EXPAT_DEFERS, SERVER, MemoryStream, _new_client,
    _new_component, message_xml, open_client_registered_late, ping_xml, result_xml, use_ping_plugin)

OURS = load_impl('c')
SLIXMPPS = load_impl('slixmpp')


def register_ping(s: MemoryStream, impl: Impl) -> None:
    with use_ping_plugin(impl.cls):
        s.xmpp.register_plugin('xep_0199')
    s.plugin_instance = s.xmpp.plugin['xep_0199']


async def late_client(impl: Impl, *, at: str = 'session_start',
                      extra: tuple[str, ...] = ()) -> MemoryStream:
    return await open_client_registered_late(impl.cls, at=at, extra_plugins=extra)


async def bare_client() -> MemoryStream:
    """A bound, started client without xep_0199 yet."""
    return await open_client_registered_late(None)


def counters(s: MemoryStream) -> tuple[int, int]:
    return s.ping_plugin._tap.counters()


async def ping_answered(s: MemoryStream, id_: str) -> int:
    """Feeds a ping, checks it was answered as slixmpp answers; the pings
    the C side has answered so far."""
    s.feed(ping_xml(id_, frm=SERVER))
    await s.settle()
    assert s.take_stanzas() == s.canon_list(result_xml(id_, to=SERVER))
    return counters(s)[0]


async def pong_completed(s: MemoryStream) -> int:
    """A ping() to the server and its answer; the pongs the C side has
    completed so far."""
    task = s.xmpp.loop.create_task(s.ping_plugin.ping())
    await s.settle()
    id_ = re.search(r'id="([0-9a-f]+)"', s.take_sent().decode()).group(1)
    s.feed(result_xml(id_, frm=SERVER))
    assert await task >= 0
    return counters(s)[1]


# ---- the fast path starts --------------------------------------------------

@pytest.mark.parametrize('at', ['session_start', 'header'])
async def test_registered_late_the_fast_path_starts(at: str) -> None:
    s = await late_client(OURS, at=at)
    # The read after registration is the candidate point; the next one
    # proves it (its first start tag opens the same element in slixmpp).
    assert await ping_answered(s, 'first') == 0
    assert await ping_answered(s, 'proof') == 0
    assert await ping_answered(s, 'fast') == 1
    assert await pong_completed(s) == 1
    await s.close()


async def test_registered_before_the_header_reached_slixmpp() -> None:
    """The parser exists, nothing was fed yet: the tap cannot know that.
    The header's read is the candidate, the first stanza the proof."""
    s = await late_client(OURS, at='before_header')
    assert await ping_answered(s, 'proof') == 0
    assert await ping_answered(s, 'fast') == 1
    await s.close()


async def test_registered_late_component() -> None:
    """Answered as slixmpp answers.  (ComponentXMPP overrides
    incoming_filter, which would see every stanza: the fast path stays off
    for components however the plugin was registered.)"""
    s = MemoryStream(_new_component(COMPONENT_JID), COMPONENT_NS, COMPONENT_JID)
    s.xmpp.register_plugin('xep_0030')
    s.xmpp.add_event_handler('session_start', lambda event: register_ping(s, OURS))
    s.connect()
    s.feed(s.server_header())
    await s.settle()
    s.feed('<handshake/>')
    await s.settle()
    s.take_sent()
    for id_ in 'abcd':
        s.feed(ping_xml(id_, frm='user@example.com/r', to=COMPONENT_JID))
        await s.settle()
        assert s.take_stanzas() == s.canon_list(
            result_xml(id_, to='user@example.com/r', frm=COMPONENT_JID))
    assert counters(s) == (0, 0)
    await s.close()


async def test_a_restart_starts_the_tap_at_the_header() -> None:
    s = await late_client(OURS)
    s.restart_stream()
    assert await ping_answered(s, 'after-restart') == 1
    await s.close()


async def test_keepalive_idle_clock_moves_while_syncing() -> None:
    s = await late_client(OURS)
    tap = s.ping_plugin._tap
    before = tap.received_at
    s.feed(message_xml('hi'))
    assert tap.received_at > before
    await s.close()


async def test_a_stanza_expat_held_back_ends_at_a_candidate() -> None:
    """A message read byte by byte after registration.  An expat that
    defers holds its end back until more input comes (slixmpp's depth still
    says 2 after its last byte); the tap flushes slixmpp's parser before it
    reads the depth, so on every expat the message's last read is the
    candidate and the next stanza the proof."""
    s = await late_client(OURS)
    bodies: list[str] = []
    s.xmpp.add_event_handler('message', lambda msg: bodies.append(msg['body']))
    message = message_xml('held back').encode()
    for i in range(len(message)):
        s.feed(message[i:i + 1])
    await s.settle()
    seen_after_last_byte = list(bodies)
    assert await ping_answered(s, 'proof') == 0
    assert await ping_answered(s, 'fast') == 1
    # The flush hands slixmpp's handlers the message as its last byte came.
    assert seen_after_last_byte == ['held back']
    await s.close()


async def test_registered_during_a_read() -> None:
    """A handler registers the plugin while slixmpp is inside a read; the
    rest of that read is slixmpp's, the tap starts with the next."""
    s = await bare_client()

    def register(msg: Any) -> None:
        if 'xep_0199' not in s.xmpp.plugin:
            register_ping(s, OURS)
    s.xmpp.register_handler(Callback('register', StanzaPath('message'), register))
    s.feed(message_xml('now') + ping_xml('same-read', frm=SERVER))
    await s.settle()
    assert s.take_stanzas() == s.canon_list(result_xml('same-read', to=SERVER))
    assert [await ping_answered(s, id_) for id_ in 'abc'] == [0, 0, 1]
    await s.close()


async def test_stream_management_counts_as_slixmpp() -> None:
    handled = []
    for impl in (SLIXMPPS, OURS):
        s = await late_client(impl, extra=('xep_0198',))
        await s.enable_sm()
        s.take_sent()
        for id_ in 'abcde':
            s.feed(ping_xml(id_, frm=SERVER))
            await s.settle()
        s.take_sent()
        handled.append(s.xmpp.plugin['xep_0198'].handled)
        if impl.is_c:
            # <enabled/> was the candidate, 'a' the proof
            assert counters(s)[0] == 4
        await s.close()
    assert handled[0] == handled[1] == 5


# ---- where no proof comes ----------------------------------------------------

async def test_no_read_ends_at_depth_one_stays_passive() -> None:
    """Every read ends inside a message: no candidate, slixmpp answers."""
    s = await late_client(OURS)
    s.feed('<message from="a@example.com/b"><body>')
    for id_ in 'abcdef':
        s.feed('x</body></message>' + ping_xml(id_, frm=SERVER)
               + '<message from="a@example.com/b"><body>')
        await s.settle()
        assert s.take_stanzas() == s.canon_list(result_xml(id_, to=SERVER))
    assert counters(s) == (0, 0)
    await s.close()


async def test_only_empty_stanzas_first_prove_nothing() -> None:
    """<iq/>, <r/>: the first stanza after a candidate must open an element
    that slixmpp opens too."""
    s = await late_client(OURS)
    for n in range(4):
        s.feed(f"<presence from='x@example.com/{n}'/>" + ping_xml(f'p{n}', frm=SERVER))
        await s.settle()
        assert s.take_stanzas() == s.canon_list(result_xml(f'p{n}', to=SERVER))
    assert counters(s) == (0, 0)
    await s.close()


async def test_a_stream_with_another_default_namespace_stays_passive() -> None:
    """The made-up header declares the default namespace the first stanza
    proves; one that is not slixmpp's proves nothing."""
    s = MemoryStream(_new_client(CLIENT_JID), 'jabber:other', SERVER)
    s.xmpp.register_plugin('xep_0030')
    s.connect()
    s.feed(s.server_header())
    s.bind_client(CLIENT_JID)
    await s.settle()
    register_ping(s, OURS)
    for id_ in 'abcd':
        s.feed(ping_xml(id_, frm=SERVER))
        await s.settle()
    s.take_sent()
    assert counters(s) == (0, 0)
    await s.close()


# ---- adversarial candidates (both plugins, compared) ----------------------

PING_IN = ("<iq type='get' id='{}' from='example.com'>"
           "<ping xmlns='urn:xmpp:ping'/></iq>")

#: Reads after registration whose first read ends where slixmpp is at depth
#: 1 but inside a token; the next read looks like a stanza to a scanner that
#: takes that point for one between stanzas.  The pings inside are no pings
#: to slixmpp.
DECOY = "<message from='a@example.com/b'><body>decoy</body></message>"
ADVERSARIAL = {
    'comment': ['<!-- ', DECOY, PING_IN.format('in-comment'), ' -->'],
    'comment ends in a tag': ['<!-- ', "<iq type='get' id='x' a='-->'>",
                              "<ping xmlns='urn:xmpp:ping'/>"],
    'cdata': ['<![CDATA[ ', DECOY, PING_IN.format('in-cdata'), ' ]]>'],
    'pi': ['<?note ', DECOY, PING_IN.format('in-pi'), ' ?>'],
    'attribute with >': ["<message from='a@example.com/b' note='a>",
                         " b'><body/></message>"],
    'entity': ['<message><body>x</body></message>&am', 'p;'],
}


#: Whitespace keepalive as the last read: longer than anything expat could
#: hold back (reparse deferral, 2.6+), so that it parses everything before
#: it and both plugins are compared once neither holds anything.
RELEASE = ' ' * 16384


def outcome(s: MemoryStream) -> list[str]:
    return s.take_stanzas()


async def run_reads(impl: Impl, reads: Sequence[str], then: int = 4
                    ) -> tuple[list[list[str]], tuple[int, int] | None]:
    """Registers the plugin, feeds the reads then a few pings and the
    releasing read; what slixmpp wrote after each, and our counters."""
    s = await bare_client()
    register_ping(s, impl)
    written = []
    for data in [*reads, *(PING_IN.format(f'then-{n}') for n in range(then)), RELEASE]:
        s.feed(data)
        await s.settle()
        written.append(outcome(s))
    count = counters(s) if impl.is_c else None
    await s.close()
    return written, count


def assert_same_writes(ours: list[list[str]], theirs: list[list[str]], where: Any = None) -> None:
    """What each plugin had slixmpp write after each read.  On an expat that
    defers, the tap flushes slixmpp's parser where it must know its state:
    events come in the same order, but expat's next attempts then come at
    other reads, so a stanza may reach slixmpp's handlers (and their answer
    the wire) at another read than with slixmpp's plugin; after the
    releasing read both have written the same, in the same order."""
    if EXPAT_DEFERS:
        assert list(itertools.chain(*ours)) == list(itertools.chain(*theirs)), where
    else:
        assert ours == theirs, where


@pytest.mark.parametrize('case', sorted(ADVERSARIAL))
async def test_adversarial_candidate(case: str) -> None:
    reads = ADVERSARIAL[case]
    theirs, _ = await run_reads(SLIXMPPS, reads)
    ours, count = await run_reads(OURS, reads)
    assert_same_writes(ours, theirs)
    # The fast path still starts, once a proven point comes.
    assert min(count[0], 1) == 1


#: A stream's stanzas, with what slixmpp ignores between them.
BODY = ''.join([
    message_xml('hello'),
    PING_IN.format('a'),
    '<!-- ' + PING_IN.format('in-comment') + ' -->',
    "<presence from='x@example.com/y'/>",
    PING_IN.format('b'),
    ("<message from='a@example.com/b' to='user@example.com/res'><body>&lt;iq&gt;"
     "<![CDATA[<iq type='get' id='c'>]]></body></message>"),
    '  \n',
    "<?pi " + PING_IN.format('in-pi') + " ?>",
    PING_IN.format('d'),
    "<iq type='get' id='e' from='example.com'><ping xmlns='urn:xmpp:ping'/>"
    "</iq>" + PING_IN.format('f'),
    PING_IN.format('g'),
    PING_IN.format('h'),
]).encode()


async def split_run(impl: Impl, cut: int, size: int) -> tuple[list[list[str]], int]:
    """BODY's first `cut` bytes before the plugin is registered, the rest in
    reads of `size` bytes, then the releasing read: what was written after
    each, and C's answers."""
    s = await bare_client()
    s.feed(BODY[:cut])
    await s.settle()
    s.take_sent()
    register_ping(s, impl)
    written = []
    for data in [*(BODY[start:start + size] for start in range(cut, len(BODY), size)),
                 RELEASE.encode()]:
        s.feed(data)
        await s.settle()
        written.append(outcome(s))
    answered = counters(s)[0] if impl.is_c else 0
    await s.close()
    return written, answered


SIZES = (1, 3, 17, 64, 1000)


@pytest.mark.slow  # both plugins, thousands of streams: tens of seconds
async def test_split_reads_everywhere() -> None:
    """Registered at every byte of BODY, the rest cut into reads of several
    sizes: ours writes exactly what slixmpp's plugin writes."""
    fast_answers = 0
    for cut, size in zip(range(len(BODY)), itertools.cycle(SIZES)):
        theirs, _ = await split_run(SLIXMPPS, cut, size)
        ours, answered = await split_run(OURS, cut, size)
        assert_same_writes(ours, theirs, (cut, size))
        fast_answers += answered
    # Whole reads prove a point soon: the fast path took part.
    assert min(fast_answers, 1) == 1


async def test_a_nested_iq_is_no_stanza_when_registered_late() -> None:
    """Regression: a tap started at a header it never saw took the first
    stanza for the stream root, and an iq inside it (in the stream's
    namespace, declared on the outer element) for a stanza: it answered a
    ping slixmpp never got."""
    nested = ("<message xmlns='jabber:client' from='a@example.com/b'>"
              + PING_IN.format('nested') + '</message>')
    theirs, _ = await run_reads(SLIXMPPS, [nested], then=0)
    ours, count = await run_reads(OURS, [nested], then=0)
    assert_same_writes(ours, theirs)
    assert not any(ours)
    assert count == (0, 0)
