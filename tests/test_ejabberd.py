"""Against a second real server: a throwaway ejabberd 23.01 on loopback
(tests/ejabberd.py), whose mod_ping pings every client idle for
``ping_interval`` seconds and kills the session of one that does not answer
within ``ping_ack_timeout`` (``timeout_action: kill``).

Real slixmpp clients with slixmpp's XEP-0199 plugin and ours ('impl'): an
idle client answers the server's pings (ours in C) and keeps its session;
clients ping each other through the server; Stream Management
(mod_stream_mgmt) counts the stanzas the C code answered and completed on
both sides; and a flood of 30,000 pings from our plugin keeps its session
under a 1 s ping interval.  What happens to slixmpp's plugin in a flood
(and to ours with 50,000) is a measurement, not a test: see
benchmarks/e2e.py (``make bench``).

The clients, the relay and the Stream Management checks are the Prosody
tests' own (tests/test_prosody.py): they take any server with a host, a
c2s port and the shared accounts.  Never skipped: if ejabberd cannot
start, the fixtures raise EjabberdError with its own words.
"""
from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import slixmpp

from tests.conftest import PROSODY_ACCOUNTS
from tests.ejabberd import FLOOD_MOD_PING, Ejabberd, EjabberdError
from tests.test_prosody import (
    OURS, PING_TIMEOUT, SLIXMPPS, EventLog, Proxy, Session, _client_to_client, assert_sm_consistent,
    errors_logged, no_pending, ping_plugin, run, sm_traffic, until)

if TYPE_CHECKING:
    from tests.conftest import Impl

PING_NS = 'urn:xmpp:ping'
CLIENT_NS = '{jabber:client}'


# ---------------------------------------------------------------------------
# The fixture's own guarantees

def processes() -> dict[int, tuple[str, int]]:
    """Every process now: pid -> (name, process group).  Read from /proc,
    not with pgrep, which hangs under make sanitize's preloaded ASan."""
    found = {}
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / 'stat').read_text()
        except OSError:   # gone meanwhile
            continue
        name = stat[stat.index('(') + 1:stat.rindex(')')]
        found[int(entry.name)] = (name, int(stat[stat.rindex(')') + 2:].split()[2]))
    return found


def epmd_pids() -> set[int]:
    return {pid for pid, (name, _) in processes().items() if name == 'epmd'}


@pytest.mark.server
def test_ejabberd_starts_no_epmd_and_leaves_nothing_behind() -> None:
    """No Erlang distribution: no epmd while it runs nor after, and after a
    failing test neither the process group, the ports nor the files
    remain."""
    before = epmd_pids()
    with pytest.raises(ZeroDivisionError), \
            Ejabberd(accounts={'alice': 'pw'}) as server:
        directory, pid = server.dir, server.pid
        assert directory is not None and (directory / 'database').is_dir()
        assert server.api('registered_users', host=server.domain) == ['alice']
        assert epmd_pids() == before
        raise ZeroDivisionError('the test fails')
    assert epmd_pids() == before
    assert not directory.exists()
    assert not Path(f'/proc/{pid}').exists()
    left = [p for p, (_, group) in processes().items() if group == pid]
    assert left == []   # nothing left in its process group
    assert not server._accepts(server.c2s_port)
    assert not server._accepts(server.http_port)


class _BrokenEjabberd(Ejabberd):
    def _config(self) -> str:
        return super()._config() + 'modules: [unbalanced\n'


@pytest.mark.server
def test_ejabberd_that_cannot_start_fails_with_its_own_words() -> None:
    server = _BrokenEjabberd()
    with pytest.raises(EjabberdError, match=r"Failed to read YAML file '[^']*': Syntax error"):
        server.start()
    assert server.dir is None and server.process is None


# ---------------------------------------------------------------------------
# The stanzas on the wire

def wire_stanzas(data: bytes) -> list[ET.Element]:
    """The complete stanzas of a relayed stream after its last stream
    header (SASL restarts the stream)."""
    start = data.rfind(b'<stream:stream')
    if start < 0:
        return []
    parser = ET.XMLPullParser(events=('start', 'end'))
    parser.feed(data[start:])
    found: list[ET.Element] = []
    depth = 0
    for event, element in parser.read_events():
        depth += 1 if event == 'start' else -1
        if event == 'end' and depth == 1:
            found.append(element)
    return found


def server_pings(stanzas: list[ET.Element], domain: str) -> list[str]:
    """The ids of the pings the server itself sent."""
    return [iq.get('id', '') for iq in stanzas
            if iq.tag == CLIENT_NS + 'iq' and iq.get('type') == 'get'
            and iq.get('from') == domain and iq.find(f'{{{PING_NS}}}ping') is not None]


def results_to(stanzas: list[ET.Element], domain: str) -> set[str]:
    """The ids of the results the client sent to the server."""
    return {iq.get('id', '') for iq in stanzas
            if iq.tag == CLIENT_NS + 'iq' and iq.get('type') == 'result'
            and iq.get('to') == domain}


class Wire:
    """The server's pings to one client relayed by a Proxy, and the
    client's answers to them."""

    def __init__(self, proxy: Proxy, domain: str) -> None:
        self.proxy = proxy
        self.domain = domain

    def pings(self) -> list[str]:
        return server_pings(wire_stanzas(bytes(self.proxy.relays[-1].down)), self.domain)

    def answered(self) -> list[str]:
        answers = results_to(wire_stanzas(bytes(self.proxy.relays[-1].up)), self.domain)
        return [id_ for id_ in self.pings() if id_ in answers]

    def sm_requests_answered(self) -> int:
        """How many of the server's SM <r/> the client's <a/> followed."""
        relay = self.proxy.relays[-1]
        return min(bytes(relay.down).count(b'<r '), bytes(relay.up).count(b'<a '))


def keeps_sm_alive_with_r(server: Ejabberd) -> bool:
    """ejabberd 24.02 and newer keep a client that enabled Stream
    Management alive with SM's <r/> (its "XEP-0198 pings") where 23.01
    sent mod_ping's iq."""
    major, minor = (int(part) for part in re.findall(r'\d+', server.version())[:2])
    return (major, minor) >= (24, 2)


def c_answered(xmpp: slixmpp.ClientXMPP) -> int:
    """How many pings our C tap answered itself."""
    return ping_plugin(xmpp)._tap.counters()[0]


# ---------------------------------------------------------------------------
# Keepalive: the server pings idle clients

async def test_idle_client_answers_the_server_pings(ejabberd: Ejabberd, impl: Impl) -> None:
    """Idle for three ping intervals and more: every ping the server sent
    was answered (ours: by the C tap) and the session is still there."""
    server = ejabberd
    async with Proxy(server) as proxy, Session(server) as session:
        alice = await session.client('alice', impl, address=proxy.address)
        events = EventLog(alice, 'disconnected')
        wire = Wire(proxy, server.domain)
        answered_before = c_answered(alice) if impl.is_c else 0
        budget = 3 * (server.ping_interval + server.ping_ack_timeout) + 5
        await until(lambda: len(wire.answered()) >= 3, budget,
                    'three server pings answered', wire.pings)
        assert wire.answered() == wire.pings()[:len(wire.answered())]
        assert events.count('disconnected') == 0
        assert alice.boundjid.resource in server.resources('alice')
        if impl.is_c:
            # The fast path answered them all, none went to slixmpp.
            assert c_answered(alice) - answered_before == len(wire.answered())
        assert (await ping_plugin(alice).ping(timeout=PING_TIMEOUT)) > 0


# ---------------------------------------------------------------------------
# Client to client

def test_client_to_client_both_ways(ejabberd: Ejabberd, loop_kind: str) -> None:
    """alice with our plugin, bob with slixmpp's, full JIDs, each way and
    both at once: ejabberd routes iqs between the full JIDs of local users
    without a roster subscription."""
    run(loop_kind, _client_to_client(ejabberd))


# ---------------------------------------------------------------------------
# Stream Management (mod_stream_mgmt), seen on the wire through a relay

async def test_stream_management_counts_server_pings(ejabberd: Ejabberd, impl: Impl,
                                                     caplog: pytest.LogCaptureFixture
                                                     ) -> None:
    """The server's pings answered (ours: in C), pings to the server and
    between clients completed: the client's counters agree with the wire
    and with the server's h each way (the server's <a h/> against what the
    client sent; the client's <a h/> against what the server sent, without
    a complaint from ejabberd)."""
    server = ejabberd
    mark = server.output_path.stat().st_size
    iq_pings = not keeps_sm_alive_with_r(server)
    async with Proxy(server) as proxy, Session(server) as session:
        alice = await session.client('alice', impl, sm=True, address=proxy.address)
        bob = await session.client('bob', SLIXMPPS)
        sm = alice.plugin['xep_0198']
        wire = Wire(proxy, server.domain)
        await until(lambda: sm.enabled_in and sm.enabled_out, PING_TIMEOUT, 'SM enabled')
        answered_before = c_answered(alice) if impl.is_c else 0
        budget = 2 * (server.ping_interval + server.ping_ack_timeout) + 5
        for rounds in (2, 3):
            # Idle until the server pinged again, then traffic both ways.
            if iq_pings:
                pinged = len(wire.answered())
                await until(lambda pinged=pinged: len(wire.answered()) > pinged, budget,
                            'a server ping answered', wire.pings)
            else:
                requested = wire.sm_requests_answered()
                await until(lambda requested=requested: wire.sm_requests_answered() > requested,
                            budget, "the server's <r/> answered")
            await sm_traffic(server, alice, bob, rounds=rounds)
            await assert_sm_consistent(proxy, alice)
            await client_ack_agrees(proxy, alice)
        # 23.01 pinged alice idle; 24.02 and newer sent <r/> instead.
        assert (len(wire.answered()) >= 2) is iq_pings
        if impl.is_c:
            # The server's pings and bob's, one a round: all answered in C.
            assert c_answered(alice) - answered_before == len(wire.answered()) + 2 + 3
        assert sm.handled >= 5 * 3 + 2 and no_pending(alice)
    assert errors_logged(caplog) == []
    assert server.complaints_since(mark) == []


async def client_ack_agrees(proxy: Proxy, xmpp: slixmpp.ClientXMPP) -> None:
    """The client's own <a h/>, sent unasked, counts every stanza the server
    delivered to it."""
    relay = proxy.relays[-1]
    acks = relay.up.count(b'<a ')
    xmpp.plugin['xep_0198'].send_ack()
    await until(lambda: relay.up.count(b'<a ') > acks, PING_TIMEOUT,
                "the client's ack relayed")
    h = [int(attrs['h']) for name, attrs in proxy.elements('up') if name == 'a'][-1]
    assert h == len(proxy.stanzas('down')), (h, len(proxy.stanzas('down')))


# ---------------------------------------------------------------------------
# A flood under the server's pings

#: The suite's flood: several ping intervals long (about 4 s on an idle
#: 2-core machine); `make bench` floods with 50,000.
FLOOD = 30_000


@pytest.mark.server
async def test_flood_keeps_the_session_with_our_plugin() -> None:
    """30,000 pings at once to a server that pings every client idle for 1
    s and kills it when an answer takes 10 s: every ping answered, the
    session kept, and the server's pings after it answered in C.  (With
    slixmpp's plugin a flood of 5,000 blocks the event loop so long that
    ejabberd kills the session: measured by `make bench`.)"""
    with Ejabberd(accounts=PROSODY_ACCOUNTS, **FLOOD_MOD_PING) as server:
        async with Session(server) as session:
            alice = await session.client('alice', OURS)
            plugin = ping_plugin(alice)
            events = EventLog(alice, 'disconnected', 'session_end')
            rtts: list[Any] = await asyncio.wait_for(asyncio.gather(
                *(plugin.ping(server.domain, timeout=120) for _ in range(FLOOD))), 300)
            assert len(rtts) == FLOOD and all(rtt > 0 for rtt in rtts)
            answered = c_answered(alice)
            await until(lambda: c_answered(alice) >= answered + 2,
                        2 * (server.ping_interval + 5) + 5,
                        'two server pings answered after the flood')
            assert events.count('disconnected') == 0
            assert events.count('session_end') == 0
            assert server.resources('alice') == [alice.boundjid.resource]
            assert 'ping_timeout' not in server.own_words()
            assert no_pending(alice)
