"""Against a real server: a throwaway Prosody 0.12 on loopback (tests/prosody.py).

Real slixmpp clients and components, with slixmpp's XEP-0199 plugin and
ours ('impl'), ping the server, each other and a component through it; the
server's errors, forged answers, disconnects with pings in flight, a frozen
and a killed server, and Stream Management (mod_smacks) with a resume.  A
representative subset also runs under uvloop's event loop ('loop_kind').

What Prosody 0.12 answers (asserted below, identical for both plugins):
its mod_ping answers a ping to any bare JID of its host itself (an online
user, an offline one, one that does not exist); a full JID without a
session gets ``service-unavailable`` (cancel) from that JID; a domain of
another server ``not-allowed`` (cancel, s2s is off); a component that is
not connected ``remote-server-timeout`` (wait, "Component unavailable").

Never skipped: if Prosody cannot start, the fixtures raise ProsodyError
with Prosody's own words.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
import uuid
import xml.parsers.expat
from collections import Counter
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

from slixmpp_ping_c import session as login

from tests.conftest import PROSODY_ACCOUNTS, load_impl
from tests.memstream import OLD_SLIXMPP, _without_ca_loading, use_ping_plugin
from tests.loopback_server import use_sasl_mechanism
from tests.prosody import Prosody, ProsodyError, connect_client

if TYPE_CHECKING:
    from tests.conftest import Impl

OURS = load_impl('c')
SLIXMPPS = load_impl('slixmpp')

START_TIMEOUT = 10.0   # connect + SASL + bind on a loaded 2-core machine
CLOSE_TIMEOUT = 3.0
PING_TIMEOUT = 5.0     # an answer from a live Prosody on loopback


# ---------------------------------------------------------------------------
# Event loops

def run(loop_kind: str, coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a test's body in a fresh loop of the given kind."""
    if loop_kind == 'asyncio':
        return asyncio.run(coro)
    assert loop_kind == 'uvloop', loop_kind
    import uvloop  # never importorskip: without uvloop these tests fail
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        loop = runner.get_loop()
        assert isinstance(loop, uvloop.Loop), type(loop)
        return runner.run(coro)


# ---------------------------------------------------------------------------
# Waiting, bounded

async def until(predicate: Callable[[], bool], timeout: float, what: str,
                describe: Callable[[], Any] | None = None) -> float:
    """Poll until predicate() holds; fail after ``timeout`` seconds.
    Returns the time it took."""
    start = time.monotonic()
    deadline = start + timeout
    while not predicate():
        if time.monotonic() > deadline:
            detail = f': {describe()}' if describe is not None else ''
            raise AssertionError(f'not within {timeout} s: {what}{detail}')
        await asyncio.sleep(0.005)
    return time.monotonic() - start


class EventLog:
    """Records when a slixmpp object fires the given events."""

    def __init__(self, xmpp: slixmpp.BaseXMPP, *names: str) -> None:
        self.times: dict[str, list[float]] = {name: [] for name in names}
        self.data: dict[str, list[Any]] = {name: [] for name in names}
        for name in names:
            xmpp.add_event_handler(name, functools.partial(self._fired, name))

    def _fired(self, name: str, data: Any = None) -> None:
        self.times[name].append(time.monotonic())
        self.data[name].append(data)

    def count(self, name: str) -> int:
        return len(self.times[name])

    async def wait(self, name: str, count: int = 1, timeout: float = START_TIMEOUT) -> float:
        """Wait until ``name`` fired ``count`` times; its time then."""
        await until(lambda: self.count(name) >= count, timeout,
                    f'{name!r} fired {count} time(s)', lambda: self.times)
        return self.times[name][count - 1]


class ReconnectSpy:
    """Wraps xmpp.reconnect: records each call, then does what it did."""

    def __init__(self, xmpp: slixmpp.BaseXMPP) -> None:
        self.calls: list[tuple[float, tuple[Any, ...], dict[str, Any]]] = []
        self._real = xmpp.reconnect
        xmpp.reconnect = self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((time.monotonic(), args, kwargs))
        return self._real(*args, **kwargs)


# ---------------------------------------------------------------------------
# Clients and components

def unique_resource(tag: str) -> str:
    return f'{tag}-{uuid.uuid4().hex[:8]}'


def _keep_address(xmpp: slixmpp.ClientXMPP, address: Any) -> None:
    """slixmpp 1.8.3's reconnect() calls connect() without arguments, which
    goes to the JID's domain on port 5222 with STARTTLS forced, not to the
    address first given: an application with its own address (as here) has
    to supply it again.  slixmpp 1.17 keeps it (custom_address)."""
    original = xmpp.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return original(*args, **kwargs)
        return original((address.host, address.c2s_port),
                        force_starttls=False, disable_starttls=True)
    xmpp.connect = connect


class Session:
    """The clients and components of one test, all closed on exit."""

    def __init__(self, server: Prosody) -> None:
        self.server = server
        self.sessions: list[login.Session] = []

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        closed = await asyncio.gather(*(session.close(CLOSE_TIMEOUT)
                                        for session in self.sessions))
        assert all(closed), 'a stream did not close cleanly'

    async def client(self, user: str, impl: Impl, *, sm: bool = False,
                     config: dict[str, Any] | None = None, resource: str | None = None,
                     address: Any = None) -> slixmpp.ClientXMPP:
        """A ClientXMPP with xep_0030, the chosen xep_0199 [and xep_0198],
        connected (through ``address``, default the server) and
        session-started."""
        jid = f'{user}@{self.server.domain}/{resource or unique_resource(impl.name)}'
        with _without_ca_loading():
            xmpp = slixmpp.ClientXMPP(jid, PROSODY_ACCOUNTS[user])
        xmpp.register_plugin('xep_0030')
        if sm:
            xmpp.register_plugin('xep_0198')
        with use_ping_plugin(impl.cls):
            xmpp.register_plugin('xep_0199', config)
        assert type(xmpp.plugin['xep_0199']) is impl.cls
        use_sasl_mechanism(xmpp, self.server)
        address = address or self.server
        if OLD_SLIXMPP:
            _keep_address(xmpp, address)
        self.sessions.append(await login.client_session(
            xmpp, address.host, address.c2s_port, no_tls=True, timeout=START_TIMEOUT))
        return xmpp

    async def component(self, impl: Impl = OURS) -> slixmpp.ComponentXMPP:
        server = self.server
        with _without_ca_loading():
            xmpp = slixmpp.ComponentXMPP(server.component, server.component_secret,
                                         server.host, server.component_port)
        xmpp.register_plugin('xep_0030')
        with use_ping_plugin(impl.cls):
            xmpp.register_plugin('xep_0199')
        assert type(xmpp.plugin['xep_0199']) is impl.cls
        self.sessions.append(await login.component_session(
            xmpp, server.host, server.component_port, timeout=START_TIMEOUT))
        return xmpp


def ping_plugin(xmpp: slixmpp.BaseXMPP) -> Any:
    return xmpp.plugin['xep_0199']


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f'{r.name}: {r.getMessage()}' for r in caplog.records
            if r.levelno >= logging.ERROR]


class LogMark:
    """Prosody's log lines written since the mark was made."""

    def __init__(self, server: Prosody) -> None:
        self.path = server.log_path
        self.offset = self.path.stat().st_size

    def lines(self) -> list[str]:
        with self.path.open('rb') as log:
            log.seek(self.offset)
            return log.read().decode(errors='replace').splitlines()

    def problems(self) -> list[str]:
        """Warnings and errors (Prosody logs c2s ack mismatches as warn)."""
        return [line for line in self.lines() if re.search(r'\t(warn|error)\t', line)]


class Holder:
    """Makes a component hold back the pings it gets instead of answering.

    slixmpp's 'Ping' handler is removed (our plugin then answers no ping
    either: slixmpp would not) and a handler that only keeps the request
    takes its place, so slixmpp does not answer feature-not-implemented."""

    def __init__(self, component: slixmpp.ComponentXMPP) -> None:
        self.component = component
        self.held: list[slixmpp.Iq] = []
        component.remove_handler('Ping')
        component.register_handler(
            Callback('Hold pings', StanzaPath('iq@type=get/ping'), self.held.append))

    def ids(self) -> list[str]:
        return [iq['id'] for iq in self.held]

    async def wait(self, count: int) -> None:
        await until(lambda: len(self.held) >= count, PING_TIMEOUT,
                    f'the component holds {count} ping(s)', lambda: len(self.held))

    def release(self, iq: slixmpp.Iq) -> None:
        iq.reply().send()


def no_pending(xmpp: slixmpp.BaseXMPP) -> bool:
    """Nothing waits for an answer: our plugin's table is empty; slixmpp's
    Iq.send keeps one scheduled timeout per iq in flight."""
    plugin = ping_plugin(xmpp)
    if isinstance(plugin, OURS.cls):
        return plugin.pending() == 0
    return not [name for name in xmpp.scheduled_events if name.startswith('IqTimeout_')]


# ---------------------------------------------------------------------------
# The fixture's own guarantees

class _BrokenProsody(Prosody):
    def _config(self) -> str:
        return super()._config() + '\nmodules_enabled = {\n'


@pytest.mark.server
@pytest.mark.parametrize('accounts', [{}, {'alice': 'pw'}], ids=['prosody', 'prosodyctl'])
def test_prosody_that_cannot_start_fails_with_its_own_words(accounts: dict[str, str]) -> None:
    server = _BrokenProsody(accounts=accounts)
    with pytest.raises(ProsodyError, match='unexpected symbol near <eof>'):
        server.start()
    assert server.dir is None and server.process is None


@pytest.mark.server
def test_prosody_is_stopped_and_removed_when_a_test_fails() -> None:
    with pytest.raises(ZeroDivisionError), Prosody(accounts={'alice': 'pw'}) as server:
        directory, pid = server.dir, server.pid
        assert directory is not None and directory.exists()
        assert server._accepts(server.c2s_port)
        raise ZeroDivisionError('the test fails')
    assert not directory.exists()
    assert not Path(f'/proc/{pid}').exists()
    assert not server._accepts(server.c2s_port)


# ---------------------------------------------------------------------------
# Pings through the server

async def _ping_own_server(server: Prosody, impl: Impl) -> None:
    async with Session(server) as session:
        alice = await session.client('alice', impl)
        plugin = ping_plugin(alice)
        for target in (None, server.domain):
            rtt = await plugin.ping(target, timeout=PING_TIMEOUT)
            assert type(rtt) is float and rtt > 0
        answer = await plugin.send_ping(server.domain, timeout=PING_TIMEOUT)
        assert answer['type'] == 'result' and answer['from'] == server.domain
        if impl.is_c:
            stats = plugin.stats(server.domain)
            assert (stats.sent, stats.received, stats.lost) == (3, 3, 0)
            assert 0 < stats.min <= stats.avg <= stats.max
        assert no_pending(alice)


def test_ping_own_server(prosody: Prosody, impl: Impl, loop_kind: str) -> None:
    run(loop_kind, _ping_own_server(prosody, impl))


async def _client_to_client(server: Prosody) -> None:
    async with Session(server) as session:
        ours = await session.client('alice', OURS)
        theirs = await session.client('bob', SLIXMPPS)
        for pinger, target in ((ours, theirs), (theirs, ours)):
            plugin = ping_plugin(pinger)
            full = target.boundjid.full
            rtt = await plugin.ping(full, timeout=PING_TIMEOUT)
            assert type(rtt) is float and rtt > 0
            answer = await plugin.send_ping(full, timeout=PING_TIMEOUT)
            # The client answered (Prosody only answers for bare JIDs).
            assert answer['type'] == 'result'
            assert answer['from'].full == full
            assert answer['to'].full == pinger.boundjid.full
        # Both ways at once, many in flight.
        results = await asyncio.gather(
            *(ping_plugin(ours).ping(theirs.boundjid.full, timeout=PING_TIMEOUT)
              for _ in range(50)),
            *(ping_plugin(theirs).ping(ours.boundjid.full, timeout=PING_TIMEOUT)
              for _ in range(50)))
        assert all(type(rtt) is float and rtt > 0 for rtt in results)
        stats = ping_plugin(ours).stats(theirs.boundjid.full)
        assert (stats.sent, stats.received, stats.lost) == (52, 52, 0)
        assert no_pending(ours) and no_pending(theirs)


def test_client_to_client_both_ways(prosody: Prosody, loop_kind: str) -> None:
    """alice with our plugin, bob with slixmpp's, full JIDs."""
    run(loop_kind, _client_to_client(prosody))


async def test_ping_answers_and_errors_from_prosody(prosody: Prosody, impl: Impl) -> None:
    domain = prosody.domain
    async with Session(prosody) as session:
        alice = await session.client('alice', impl)
        bob = await session.client('bob', SLIXMPPS)
        pinged_bob: list[slixmpp.Iq] = []   # what reaches bob's client
        bob.register_handler(Callback('Seen pings', StanzaPath('iq@type=get/ping'),
                                      pinged_bob.append))
        plugin = ping_plugin(alice)
        assert (await plugin.ping(bob.boundjid.full, timeout=PING_TIMEOUT)) > 0
        assert len(pinged_bob) == 1   # the recorder sees what reaches bob
        pinged_bob.clear()
        # target -> None for a result from the target, else the error
        # (condition, type, text) that must reach the caller as IqError.
        cases: dict[str, tuple[str, str, str] | None] = {
            # Prosody's mod_ping answers for any bare JID of its host.
            f'bob@{domain}': None,                       # online user
            f'carol@{domain}': None,                     # offline user
            f'nobody@{domain}': None,                    # no such user
            f'bob@{domain}/{unique_resource("gone")}': ('service-unavailable', 'cancel', ''),
            f'carol@{domain}/{unique_resource("x")}': ('service-unavailable', 'cancel', ''),
            f'nobody@{domain}/{unique_resource("x")}': ('service-unavailable', 'cancel', ''),
            'elsewhere.example': ('not-allowed', 'cancel',
                                  'Communication with remote domains is not enabled'),
        }
        for target, error in cases.items():
            if error is None:
                answer = await plugin.send_ping(target, timeout=PING_TIMEOUT)
                assert (answer['type'], answer['from'].full) == ('result', target), target
                assert (await plugin.ping(target, timeout=PING_TIMEOUT)) > 0
                continue
            with pytest.raises(IqError) as info:
                await plugin.ping(target, timeout=PING_TIMEOUT)
            iq = info.value.iq
            assert iq['type'] == 'error', target
            assert iq['from'].full == target, target
            assert (iq['error']['condition'], iq['error']['type'],
                    iq['error']['text']) == error, target
        if impl.is_c:
            assert plugin.stats(f'bob@{domain}').received == 2
            assert plugin.stats('elsewhere.example').lost == 1
        # Prosody answered for bob's bare JID without asking his client
        assert pinged_bob == []
        assert no_pending(alice)


# ---------------------------------------------------------------------------
# Components

async def test_component_pings_client(prosody: Prosody, impl: Impl) -> None:
    async with Session(prosody) as session:
        alice = await session.client('alice', OURS)
        component = await session.component(impl)
        plugin = ping_plugin(component)
        for ifrom in (prosody.component, f'gateway@{prosody.component}/bot'):
            answer = await plugin.send_ping(alice.boundjid.full, ifrom=ifrom,
                                            timeout=PING_TIMEOUT)
            assert answer['type'] == 'result'
            assert answer['from'].full == alice.boundjid.full
            assert answer['to'].full == ifrom
            assert (await plugin.ping(alice.boundjid.full, ifrom=ifrom,
                                      timeout=PING_TIMEOUT)) > 0
        gone = f'{alice.boundjid.bare}/{unique_resource("gone")}'
        with pytest.raises(IqError) as info:
            await plugin.ping(gone, ifrom=prosody.component, timeout=PING_TIMEOUT)
        # Read the XML: slixmpp (1.8.3, and 1.17 unless fix_error_ns, which
        # changes the Error class for every stream) looks for a component's
        # <error/> in jabber:client, finds none and makes a default one:
        # iq['error']['condition'] says feature-not-implemented, whichever
        # plugin is used.
        error = info.value.iq.xml.find(f'{{{component.default_ns}}}error')
        assert error is not None and error.get('type') == 'cancel'
        assert [child.tag for child in error] == [
            '{urn:ietf:params:xml:ns:xmpp-stanzas}service-unavailable']
        assert info.value.iq['from'].full == gone
        assert no_pending(component)
        # The default target of a component is xmpp.server, its own domain,
        # and the ping has no 'from'.  Prosody 0.12 routes it back to the
        # component, which answers it; Prosody 13 ends the component's
        # stream (invalid-from) and the ping times out, with either plugin.
        stream_errors: list[str] = []
        component.add_event_handler(
            'stream_error', lambda error: stream_errors.append(error['condition']))
        if prosody_major_version(prosody) < 13:
            assert (await plugin.ping(timeout=PING_TIMEOUT)) > 0
            assert stream_errors == []
        else:
            with pytest.raises(IqTimeout):
                await plugin.ping(timeout=1)
            assert stream_errors == ['invalid-from']
        assert no_pending(component)


def prosody_major_version(prosody: Prosody) -> int:
    """0 for 0.12.x, 13 for 13.0.x."""
    return int(prosody.version().split('.')[0])


async def test_client_pings_component(prosody: Prosody, impl: Impl) -> None:
    async with Session(prosody) as session:
        alice = await session.client('alice', impl)
        plugin = ping_plugin(alice)
        targets = (prosody.component, f'someone@{prosody.component}/device')
        for target in targets:   # no component connected yet
            with pytest.raises(IqError) as info:
                await plugin.ping(target, timeout=PING_TIMEOUT)
            error = info.value.iq['error']
            assert (error['condition'], error['type'], error['text']) == (
                'remote-server-timeout', 'wait', 'Component unavailable')
        await session.component(OURS)
        for target in targets:
            answer = await plugin.send_ping(target, timeout=PING_TIMEOUT)
            assert answer['type'] == 'result'
            assert answer['from'].full == target
            assert (await plugin.ping(target, timeout=PING_TIMEOUT)) > 0
        assert no_pending(alice)


# ---------------------------------------------------------------------------
# Forged answers, disconnects

async def test_forged_result_never_completes_the_ping(prosody: Prosody, impl: Impl) -> None:
    """alice pings a JID of the component, which holds the answer back;
    carol, who knows the id, sends alice a result and an error with it.
    Prosody stamps carol's real address on them: alice must not take
    them; the real answer, released afterwards, completes the ping."""
    async with Session(prosody) as session:
        component = await session.component(OURS)
        holder = Holder(component)
        alice = await session.client('alice', impl)
        carol = await session.client('carol', OURS)
        target = f'held@{prosody.component}/x'
        plugin = ping_plugin(alice)
        ping = asyncio.ensure_future(plugin.ping(target, timeout=10))
        await holder.wait(1)
        id_ = holder.ids()[0]
        for type_ in ('result', 'error'):
            forged = carol.Iq()
            forged['type'] = type_
            forged['id'] = id_
            forged['to'] = alice.boundjid.full
            if type_ == 'error':
                forged['error']['condition'] = 'item-not-found'
            forged.send()
        # carol's ping travels behind her forgeries: once alice answered
        # it, she has read them.
        assert (await ping_plugin(carol).ping(alice.boundjid.full, timeout=PING_TIMEOUT)) > 0
        assert not ping.done(), ping
        if impl.is_c:
            assert plugin.pending() == 1
        holder.release(holder.held[0])
        rtt = await asyncio.wait_for(ping, PING_TIMEOUT)
        assert rtt > 0
        assert holder.ids() == [id_]
        if impl.is_c:
            stats = plugin.stats(target)
            assert (stats.sent, stats.received, stats.lost) == (1, 1, 0)
        assert no_pending(alice)


@pytest.mark.parametrize('how', ['disconnect', 'abort'])
async def test_disconnect_with_pings_in_flight(prosody: Prosody, impl: Impl, how: str) -> None:
    """Every ping in flight ends (IqTimeout, its own timeout) after the
    stream is closed or the connection dropped, and nothing stays pending.
    Our plugin's C timer still fires after a disconnect; slixmpp's Iq
    timeouts (1.8.3 and 1.17) are loop timers that do too."""
    count, timeout = 50, 1.0
    async with Session(prosody) as session:
        component = await session.component(OURS)
        holder = Holder(component)
        alice = await session.client('alice', impl)
        plugin = ping_plugin(alice)
        sent_at = time.monotonic()
        pings = [asyncio.ensure_future(plugin.ping(f'held{i}@{prosody.component}',
                                                   timeout=timeout))
                 for i in range(count)]
        await holder.wait(count)
        assert not no_pending(alice)
        gone = EventLog(alice, 'disconnected')
        if how == 'disconnect':
            alice.disconnect(wait=1.0)
        else:
            alice.transport.abort()
        disconnected_at = await gone.wait('disconnected', timeout=CLOSE_TIMEOUT)
        assert disconnected_at - sent_at < timeout, 'disconnected after the timeouts'
        assert not any(p.done() for p in pings)
        _, not_done = await asyncio.wait(pings, timeout=timeout + 2)
        assert not not_done, f'{len(not_done)} pings never ended'
        assert all(isinstance(p.exception(), IqTimeout) for p in pings), \
            Counter(type(p.exception()).__name__ for p in pings)
        assert no_pending(alice)
        if impl.is_c:
            stats = plugin.stats()
            assert sum(s.sent for s in stats.values()) == count
            assert sum(s.lost for s in stats.values()) == count


# ---------------------------------------------------------------------------
# Many pings

async def _ten_thousand(server: Prosody) -> None:
    count = 10_000
    async with Session(server) as session:
        alice = await session.client('alice', OURS)
        plugin = ping_plugin(alice)
        started_at = time.monotonic()
        results = await asyncio.gather(*(plugin.ping(timeout=30) for _ in range(count)),
                                       return_exceptions=True)
        elapsed = time.monotonic() - started_at
        failures = Counter(type(r).__name__ for r in results if not isinstance(r, float))
        assert not failures, failures
        assert all(rtt > 0 for rtt in results)
        stats = plugin.stats(server.domain)
        assert (stats.sent, stats.received, stats.lost) == (count, count, 0)
        assert plugin.pending() == 0
        # Generous: about 1 s here; slixmpp's own plugin needs minutes.
        assert elapsed < 20, elapsed


def test_ten_thousand_concurrent_pings_to_the_server(prosody: Prosody, loop_kind: str) -> None:
    run(loop_kind, _ten_thousand(prosody))


# ---------------------------------------------------------------------------
# Keepalive against a frozen and a killed server (a Prosody of their own)

KEEPALIVE = {'keepalive': True, 'interval': 1, 'timeout': 1}


async def _keepalive_frozen_server(server: Prosody) -> None:
    interval, timeout = KEEPALIVE['interval'], KEEPALIVE['timeout']
    async with Session(server) as session:
        alice = await session.client('alice', OURS, config=dict(KEEPALIVE))
        plugin = ping_plugin(alice)
        events = EventLog(alice, 'session_start', 'disconnected')
        spy = ReconnectSpy(alice)

        def answered() -> int:
            stats = plugin.stats()
            return stats[next(iter(stats))].received if stats else 0

        # The keepalive works before the fault.
        await until(lambda: answered() >= 1, interval + timeout + 1, 'a keepalive pong')
        assert spy.calls == []
        server.freeze()
        frozen_at = time.monotonic()
        try:
            budget = interval + timeout + 1
            await until(lambda: bool(spy.calls), budget,
                        'the keepalive asks to reconnect after the server froze')
            called_at, args, kwargs = spy.calls[0]
            assert called_at - frozen_at <= budget
            assert 'Ping timeout' in str(args) + str(kwargs)
            disconnected_at = await events.wait('disconnected', timeout=budget)
            assert disconnected_at >= frozen_at
            # reconnecting to a frozen server: no session yet
            assert events.count('session_start') == 0
        finally:
            server.thaw()
        await events.wait('session_start', timeout=START_TIMEOUT)
        assert (await plugin.ping(timeout=PING_TIMEOUT)) > 0
        # and the keepalive runs again on the new session
        before = answered()
        await until(lambda: answered() > before, interval + timeout + 1,
                    'a keepalive pong after the reconnect')
        assert len(spy.calls) == 1
        plugin.disable_keepalive()
        # The pings lost to the freeze timed out; nothing leaks.
        await until(lambda: plugin.pending() == 0, timeout + 1, 'no ping pending',
                    plugin.pending)
        stats = plugin.stats(server.domain)
        assert stats.lost >= 1 and stats.sent == stats.received + stats.lost


def test_keepalive_detects_a_frozen_server_and_reconnects(own_prosody: Prosody,
                                                         loop_kind: str) -> None:
    """SIGSTOP: the client notices the dead link within interval + timeout
    + 1 s and asks to reconnect; SIGCONT: it is back and pings work."""
    run(loop_kind, _keepalive_frozen_server(own_prosody))


async def test_keepalive_reports_a_killed_server(own_prosody: Prosody) -> None:
    server = own_prosody
    count = 20
    async with Session(server) as session:
        alice = await session.client('alice', OURS, config=dict(KEEPALIVE))
        plugin = ping_plugin(alice)
        events = EventLog(alice, 'disconnected', 'session_end')
        server.freeze()   # the pings below stay in flight
        pings = [asyncio.ensure_future(plugin.ping(timeout=1.5)) for _ in range(count)]
        await until(lambda: plugin.pending() >= count, 1, 'the pings in flight',
                    plugin.pending)
        server.kill()
        killed_at = time.monotonic()
        disconnected_at = await events.wait('disconnected', timeout=1.0)
        assert disconnected_at - killed_at < 1.0
        assert alice.transport is None and events.count('session_end') == 1
        _, not_done = await asyncio.wait(pings, timeout=3)
        assert not not_done
        assert all(isinstance(p.exception(), IqTimeout) for p in pings), \
            Counter(type(p.exception()).__name__ for p in pings)
        await until(lambda: plugin.pending() == 0, 2, 'no ping pending', plugin.pending)
        stats = plugin.stats(server.domain)
        assert stats.lost >= count and stats.sent == stats.received + stats.lost


# ---------------------------------------------------------------------------
# Stream Management (mod_smacks), seen on the wire through a relay

class Relay:
    """One relayed TCP connection: the bytes delivered each way."""

    def __init__(self) -> None:
        self.up = bytearray()        # client -> server, delivered
        self.down = bytearray()      # server -> client, delivered
        self.dropped = bytearray()   # client -> server, thrown away


#: Seconds between the parts of what Proxy.split_down cuts: the client reads
#: each part on its own.
SPLIT_GAP = 0.2


class Proxy:
    """A TCP relay between one client and Prosody that keeps what it
    passes; ``blackhole`` makes it throw away what the client sends, as a
    network that died under a still-open socket would; ``split_down``, if
    set, cuts what the server sends into parts, each its own TCP write
    (``SPLIT_GAP`` apart), and ``split_done`` has the time.monotonic() of
    each last part written."""

    def __init__(self, server: Prosody) -> None:
        self.target = (server.host, server.c2s_port)
        self.sasl_mechanism = server.sasl_mechanism
        self.relays: list[Relay] = []
        self.blackhole = False
        self.split_down: Callable[[bytes], list[bytes]] | None = None
        self.split_done: list[float] = []
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._accept, '127.0.0.1', 0)
        port = self._server.sockets[0].getsockname()[1]
        # Where to connect instead of the server, logging in as it asks.
        self.address = SimpleNamespace(host='127.0.0.1', c2s_port=port,
                                       sasl_mechanism=self.sasl_mechanism)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self._server.close()
        for writer in self._writers:
            writer.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, client_in: asyncio.StreamReader,
                      client_out: asyncio.StreamWriter) -> None:
        self._tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        relay = Relay()
        self.relays.append(relay)
        server_in, server_out = await asyncio.open_connection(*self.target)
        self._writers += [client_out, server_out]
        await asyncio.gather(self._pump(client_in, server_out, relay, up=True),
                             self._pump(server_in, client_out, relay, up=False))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    relay: Relay, up: bool) -> None:
        try:
            while data := await reader.read(65536):
                if up and self.blackhole:
                    relay.dropped += data
                    continue
                (relay.up if up else relay.down).extend(data)
                parts = [data] if up or self.split_down is None else self.split_down(data)
                for i, part in enumerate(parts):
                    if i:
                        await writer.drain()
                        await asyncio.sleep(SPLIT_GAP)
                    writer.write(part)
                if len(parts) > 1:
                    await writer.drain()
                    self.split_done.append(time.monotonic())
        except OSError:
            pass
        finally:
            writer.close()   # the other side sees the connection end

    # -- what went through ----------------------------------------------
    def elements(self, direction: str) -> list[tuple[str, dict[str, str]]]:
        """The complete top-level elements delivered one way once Stream
        Management was enabled or resumed, all connections in order."""
        mark = _SM_MARK[direction]
        found: list[tuple[str, dict[str, str]]] = []
        for relay in self.relays:
            found += top_elements(bytes(getattr(relay, direction)), mark)
        return found

    def stanzas(self, direction: str) -> list[tuple[str, dict[str, str]]]:
        return [(name, attrs) for name, attrs in self.elements(direction)
                if name in ('iq', 'message', 'presence')]

    def acks(self) -> list[int]:
        """The h of each <a/> the server sent."""
        return [int(attrs['h']) for name, attrs in self.elements('down') if name == 'a']

    def ack_requests(self) -> int:
        """How many <r/> the client sent (slixmpp sends its own every
        ``window`` stanzas, too)."""
        return sum(name == 'r' for name, attrs in self.elements('up'))


_SM_MARK = {'up': re.compile(rb'<(?:enable|resume)\b'),
            'down': re.compile(rb'<(?:enabled|resumed)\b')}


def top_elements(data: bytes, mark: re.Pattern[bytes]) -> list[tuple[str, dict[str, str]]]:
    """The complete top-level elements of a stream from the first match of
    ``mark`` on (no stream restart follows SM's enable/resume), as (name as
    written, attributes)."""
    match = mark.search(data)
    if match is None:
        return []
    tail = data[match.start():]
    footer = tail.find(b'</stream:stream>')
    if footer >= 0:
        tail = tail[:footer]
    parser = xml.parsers.expat.ParserCreate()   # no namespace processing
    found: list[tuple[str, dict[str, str]]] = []
    depth = 0
    current: tuple[str, dict[str, str]] | None = None

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth, current
        if depth == 1:
            current = (name, attrs)
        depth += 1

    def end(name: str) -> None:
        nonlocal depth
        depth -= 1
        if depth == 1:
            assert current is not None
            found.append(current)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(b'<relayed>', False)
    parser.Parse(tail, False)   # an element cut short is not counted
    return found


def stanza_key(element: tuple[str, dict[str, str]]) -> tuple[str | None, ...]:
    name, attrs = element
    return (name, attrs.get('type'), attrs.get('id'), attrs.get('from'), attrs.get('to'))


def duplicates(elements: list[tuple[str, dict[str, str]]]) -> list[Any]:
    return [key for key, n in Counter(map(stanza_key, elements)).items() if n > 1]


async def acked(proxy: Proxy, xmpp: slixmpp.ClientXMPP) -> int:
    """Ask the server for an ack and wait until the client has read it;
    returns its h."""
    sm = xmpp.plugin['xep_0198']
    requests = proxy.ack_requests() + 1
    sm.request_ack()
    # Each <r/> gets one <a/>, in order: the last answers ours.
    await until(lambda: proxy.ack_requests() >= requests
                and len(proxy.acks()) == proxy.ack_requests(), PING_TIMEOUT,
                'the server answers every ack request',
                lambda: (proxy.ack_requests(), proxy.acks()))
    h = proxy.acks()[-1]
    await until(lambda: sm.last_ack == h, PING_TIMEOUT, 'the client reads the ack',
                lambda: (sm.last_ack, h))
    return h


async def assert_sm_consistent(proxy: Proxy, xmpp: slixmpp.ClientXMPP, lost: int = 0) -> None:
    """Both counters agree with the wire: the client counted every stanza
    the server delivered to it, the server every stanza it got; the
    unacked queue is empty once acked.  ``lost``: stanzas the client sent
    that never arrived and that it will not resend (slixmpp 1.8.3)."""
    sm = xmpp.plugin['xep_0198']
    h = await acked(proxy, xmpp)
    await until(lambda: sm.handled == len(proxy.stanzas('down')), PING_TIMEOUT,
                'the client counted every stanza delivered to it',
                lambda: (sm.handled, len(proxy.stanzas('down'))))
    assert h == len(proxy.stanzas('up')), (h, len(proxy.stanzas('up')))
    assert sm.seq == (h + lost) % 2 ** 32, (sm.seq, h, lost)
    assert not sm.unacked_queue, list(sm.unacked_queue)
    assert duplicates(proxy.stanzas('up')) == []
    assert duplicates(proxy.stanzas('down')) == []


async def sm_traffic(server: Prosody, alice: slixmpp.ClientXMPP, bob: slixmpp.ClientXMPP,
                     rounds: int) -> None:
    """Pings both ways: alice -> server, alice -> bob, bob -> alice."""
    a, b = ping_plugin(alice), ping_plugin(bob)
    for _ in range(rounds):
        results = await asyncio.gather(
            a.ping(timeout=PING_TIMEOUT), a.ping(server.domain, timeout=PING_TIMEOUT),
            a.ping(bob.boundjid.full, timeout=PING_TIMEOUT),
            b.ping(alice.boundjid.full, timeout=PING_TIMEOUT))
        assert all(rtt > 0 for rtt in results)


async def test_stream_management_pings_both_ways(prosody: Prosody, impl: Impl,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    prosody_log = LogMark(prosody)
    async with Proxy(prosody) as proxy, Session(prosody) as session:
        alice = await session.client('alice', impl, sm=True, address=proxy.address)
        bob = await session.client('bob', SLIXMPPS)
        sm = alice.plugin['xep_0198']
        await until(lambda: sm.enabled_in and sm.enabled_out, PING_TIMEOUT, 'SM enabled')
        await sm_traffic(prosody, alice, bob, rounds=10)
        await assert_sm_consistent(proxy, alice)
        # 10 rounds: 10 pings from bob, 30 pongs to alice's pings, at least
        assert sm.handled >= 40 and sm.seq >= 40
        # In bursts, with several in flight.
        await asyncio.gather(*(sm_traffic(prosody, alice, bob, rounds=1) for _ in range(20)))
        await assert_sm_consistent(proxy, alice)
        assert sm.handled >= 120
    assert errors_logged(caplog) == []
    assert prosody_log.problems() == []


async def test_stream_management_resume(prosody: Prosody, impl: Impl,
                                        caplog: pytest.LogCaptureFixture) -> None:
    """Drop alice's connection abruptly with SM on, resume, and check that
    nothing acked is resent and nothing is lost.

    Before the drop: P1, a ping to a JID of the component, which holds the
    answer back, is acked by the server.  Then the network dies under the
    socket (the relay throws away what alice sends): P2, a ping to the
    server, and alice's answer to Q, bob's ping to her, are lost; then
    alice's socket is aborted.  After the resume slixmpp resends P2 and the
    answer to Q, not P1; the component gets P1 once and its answer
    completes P1 once.  slixmpp 1.8.3's xep_0198 empties its unacked queue
    when it sends <resume/> (fixed in later slixmpp): there P2 and the
    answer to Q are lost and those two pings time out, with either plugin.
    """
    prosody_log = LogMark(prosody)
    async with Proxy(prosody) as proxy, Session(prosody) as session:
        component = await session.component(OURS)
        holder = Holder(component)
        alice = await session.client('alice', impl, sm=True, address=proxy.address)
        bob = await session.client('bob', SLIXMPPS)
        sm = alice.plugin['xep_0198']
        a, b = ping_plugin(alice), ping_plugin(bob)
        events = EventLog(alice, 'session_start', 'session_resumed', 'disconnected',
                          'sm_failed')
        await until(lambda: sm.enabled_in and sm.enabled_out, PING_TIMEOUT, 'SM enabled')
        await sm_traffic(prosody, alice, bob, rounds=3)
        await assert_sm_consistent(proxy, alice)

        p1_done = 0

        def p1_answered(iq: slixmpp.Iq) -> None:
            nonlocal p1_done
            p1_done += 1
        p1 = a.send_ping(f'held@{prosody.component}/x', timeout=10, callback=p1_answered)
        await holder.wait(1)
        await acked(proxy, alice)
        assert not sm.unacked_queue

        proxy.blackhole = True
        relay = proxy.relays[-1]
        p2 = asyncio.ensure_future(a.ping(prosody.domain, timeout=3))
        q = asyncio.ensure_future(b.send_ping(alice.boundjid.full, timeout=3))
        await until(lambda: relay.dropped.count(b'<iq') >= 2, PING_TIMEOUT,
                    'P2 and the answer to Q lost', lambda: bytes(relay.dropped))
        lost = [e for e in top_elements(bytes(relay.dropped), re.compile(rb'<'))
                if e[0] == 'iq']
        assert len(lost) == 2, lost   # P2 and the answer to Q
        assert len(sm.unacked_queue) == 2
        assert not p2.done() and not q.done()

        alice.transport.abort()
        await events.wait('disconnected', timeout=CLOSE_TIMEOUT)
        proxy.blackhole = False
        connect_client(alice, proxy.address)
        await events.wait('session_resumed', timeout=START_TIMEOUT)
        assert events.count('session_start') == 0 and events.count('sm_failed') == 0
        assert len(proxy.relays) == 2

        if OLD_SLIXMPP:
            for lost_ping in (p2, q):
                with pytest.raises(IqTimeout):
                    await asyncio.wait_for(lost_ping, 5)
        else:
            assert (await asyncio.wait_for(p2, 5)) > 0
            assert (await asyncio.wait_for(q, 5))['type'] == 'result'
        assert not p1.done()
        holder.release(holder.held[0])
        answer = await asyncio.wait_for(p1, PING_TIMEOUT)
        assert answer['type'] == 'result'
        assert answer['from'].full == f'held@{prosody.component}/x'

        # Pings still work, and the counters still agree with the wire.
        await sm_traffic(prosody, alice, bob, rounds=3)
        await assert_sm_consistent(proxy, alice, lost=len(lost) if OLD_SLIXMPP else 0)
        assert p1_done == 1
        assert len(holder.held) == 1   # P1 reached the component once
        assert no_pending(alice) and no_pending(bob)
    assert errors_logged(caplog) == []
    assert prosody_log.problems() == []
