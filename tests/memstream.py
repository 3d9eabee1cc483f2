"""An in-memory XMPP stream for real slixmpp objects.

Used by the compatibility tests and the benchmarks: a real
``slixmpp.ClientXMPP`` / ``slixmpp.ComponentXMPP`` is wired to a
:class:`MemoryTransport` instead of a socket, the server side is played by
feeding bytes through ``xmpp.data_received`` and reading back what slixmpp
wrote to the transport.  Nothing touches the network.

Typical use (inside a running event loop)::

    async with client_stream(XEP_0199) as s:
        s.feed(b"<iq type='get' id='1' from='example.com'>"
               b"<ping xmlns='urn:xmpp:ping'/></iq>")
        await s.settle()
        assert s.take_stanzas() == [s.c14n('<iq type="result" id="1" to="example.com"/>')]
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import ssl
import xml.etree.ElementTree as ET
import xml.parsers.expat
from collections.abc import AsyncIterator, Awaitable, Iterable, Iterator, Mapping
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import slixmpp
from slixmpp.jid import JID
from slixmpp.plugins import base as plugin_base

#: slixmpp's version as a tuple of ints, e.g. (1, 17, 0) or (1, 8, 3).
SLIXMPP_VERSION: tuple[int, ...] = tuple(
    int(part) for part in re.findall(r'\d+', slixmpp.__version__)[:3])
#: Where slixmpp's behaviour changed between the two supported reference
#: versions, tests branch on this.  Verified on 1.8.3 (True) and 1.17.0
#: (False); where the compat tests use it, also on the newest patch of
#: every minor release in between (make test-slixmpp-matrix).
OLD_SLIXMPP: bool = SLIXMPP_VERSION < (1, 9)
# Changes that came later, each named by what slixmpp does from the release
# given on, found by make test-slixmpp-matrix.
#: A component's keepalive pings are sent from its JID (1.8.6).
COMPONENT_KEEPALIVE_HAS_FROM: bool = SLIXMPP_VERSION >= (1, 8, 6)
#: send_ping() (and Iq.send) take no timeout_callback (1.10).
NO_TIMEOUT_CALLBACK: bool = SLIXMPP_VERSION >= (1, 10)
#: A result must come from the pinged JID's exact string, not from the same
#: JID written in another case (1.13).
RESULT_SENDER_COMPARED_AS_STRING: bool = SLIXMPP_VERSION >= (1, 13)
#: plugin_end() leaves the keepalive's session hooks behind (1.15).
KEEPALIVE_HOOKS_OUTLIVE_PLUGIN: bool = SLIXMPP_VERSION >= (1, 15)
#: A reply is addressed to the request's 'from' as written, not normalised,
#: and tostring() writes <stream:stream:error> for a stream error (1.17).
REPLY_ADDRESS_AS_WRITTEN: bool = SLIXMPP_VERSION >= (1, 17)
STREAM_ERROR_PREFIX_TWICE: bool = SLIXMPP_VERSION >= (1, 17)

#: This Python's expat holds parse events back until more data arrives
#: (2.6.0 and newer, "reparse deferral", CVE-2023-52425): slixmpp's own
#: handlers then see a stanza whose end came in a small read only with a
#: later read.  Tests of slixmpp's timing branch on this.
EXPAT_DEFERS: bool = xml.parsers.expat.version_info >= (2, 6, 0)

STREAM_NS = 'http://etherx.jabber.org/streams'
CLIENT_NS = 'jabber:client'
COMPONENT_NS = 'jabber:component:accept'
PING_NS = 'urn:xmpp:ping'
SM_NS = 'urn:xmpp:sm:3'
STANZAS_NS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
STREAMS_NS = 'urn:ietf:params:xml:ns:xmpp-streams'

CLIENT_JID = 'user@example.com/res'
SERVER = 'example.com'
COMPONENT_JID = 'comp.example.com'
COMPONENT_SECRET = 'secret'
COMPONENT_PORT = 5347

STREAM_FOOTER = b'</stream:stream>'

#: slixmpp's own XEP-0199 options.  slixmpp-ping-c has more, each of which
#: leaves slixmpp's behaviour unchanged at its default.
SLIXMPP_CONFIG_KEYS = frozenset({'keepalive', 'interval', 'timeout'})

#: slixmpp-ping-c's own options at their defaults (README).
OWN_CONFIG = {'keepalive_idle_only': False, 'keepalive_retries': 1,
              'error_is_pong': False, 'max_pending': 100_000,
              'stats_max_peers': 10_000, 'deliver_without_delay': False}


def split_config(config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(slixmpp's options, the others) of a plugin configuration."""
    theirs = {k: v for k, v in config.items() if k in SLIXMPP_CONFIG_KEYS}
    return theirs, {k: v for k, v in config.items() if k not in SLIXMPP_CONFIG_KEYS}


class MemoryTransport(asyncio.Transport):
    """A transport that keeps what is written in memory.

    ``close()``/``abort()`` behave like asyncio's socket transports: the
    protocol's ``connection_lost(None)`` is called soon after, from the
    event loop, not synchronously.
    """

    def __init__(self, extra: Mapping[str, Any] | None = None) -> None:
        super().__init__(dict(extra or {}))
        self._protocol: asyncio.BaseProtocol | None = None
        self._buffer = bytearray()
        self._closing = False
        #: How many write() calls there were.
        self.writes = 0
        #: Bytes written after close(), which a real transport would drop.
        self.dropped = bytearray()

    # -- asyncio.Transport interface ------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f'data must be bytes-like, not {type(data).__name__}')
        self.writes += 1
        if self._closing:
            self.dropped += data
            return
        self._buffer += data

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._protocol is not None:
            asyncio.get_running_loop().call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def is_closing(self) -> bool:
        return self._closing

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol | None:
        return self._protocol

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return False

    def is_reading(self) -> bool:
        return not self._closing

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    # -- test side -------------------------------------------------------
    def peek(self) -> bytes:
        return bytes(self._buffer)

    def take(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


# ---------------------------------------------------------------------------
# Canonicalisation

def _ns_decls(ns: str, extra_ns: Mapping[str, str] | None) -> str:
    decls = f' xmlns="{ns}" xmlns:stream="{STREAM_NS}"'
    for prefix, uri in (extra_ns or {}).items():
        decls += f' xmlns:{prefix}="{uri}"'
    return decls


def _as_text(data: bytes | str) -> str:
    return data.decode('utf-8') if isinstance(data, (bytes, bytearray)) else data


def _wrap(fragment: str, ns: str, extra_ns: Mapping[str, str] | None) -> str:
    # Stanzas on a stream inherit the stream's default namespace (and the
    # stream: prefix); slixmpp's serialiser relies on that and omits them.
    return f'<wrap{_ns_decls(ns, extra_ns)}>{fragment}</wrap>'


_WRAP_START = re.compile(r'^<wrap[^>]*>')


def c14n(xml_data: bytes | str, ns: str = CLIENT_NS,
         extra_ns: Mapping[str, str] | None = None) -> str:
    """Canonical XML (C14N 2.0) of one or more top-level stanzas.

    The fragment is parsed as if it appeared on a stream whose default
    namespace is ``ns``, so ``<iq type="result"/>`` written by slixmpp and
    ``<iq xmlns="jabber:client" type='result'></iq>`` compare equal, while
    any real difference (attribute value, escaping of a character that
    changes the value, child element, namespace) does not.
    """
    canon = ET.canonicalize(_wrap(_as_text(xml_data), ns, extra_ns))
    canon = _WRAP_START.sub('', canon, count=1)
    assert canon.endswith('</wrap>'), canon
    return canon[:-len('</wrap>')]


def top_level_slices(xml_data: bytes | str, ns: str = CLIENT_NS,
                     extra_ns: Mapping[str, str] | None = None) -> list[str]:
    """Split a well-formed sequence of top-level elements into their source
    texts (whitespace between them dropped)."""
    data = _wrap(_as_text(xml_data), ns, extra_ns).encode('utf-8')
    parser = xml.parsers.expat.ParserCreate()
    depth = 0
    bounds: list[int] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        if depth == 1:
            bounds.append(parser.CurrentByteIndex)
        depth += 1

    def end(name: str) -> None:
        nonlocal depth
        depth -= 1
        if depth == 0:
            bounds.append(parser.CurrentByteIndex)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.Parse(data, True)
    return [data[a:b].decode('utf-8').strip() for a, b in itertools.pairwise(bounds)]


def split_stanzas(xml_data: bytes | str, ns: str = CLIENT_NS,
                  extra_ns: Mapping[str, str] | None = None) -> list[str]:
    """Canonical form of each top-level element of ``xml_data``."""
    return [c14n(piece, ns, extra_ns) for piece in top_level_slices(xml_data, ns, extra_ns)]


def parse_stanzas(xml_data: bytes | str, ns: str = CLIENT_NS,
                  extra_ns: Mapping[str, str] | None = None) -> list[ET.Element]:
    """The top-level elements of ``xml_data`` as ElementTree elements
    (tags are ``{namespace}name``)."""
    return list(ET.fromstring(_wrap(_as_text(xml_data), ns, extra_ns)))


# ---------------------------------------------------------------------------
# Stanza builders (server side input and independently computed expectations)

def _attrs(pairs: Iterable[tuple[str, str | None]]) -> str:
    return ''.join(f' {name}={quoteattr(value)}' for name, value in pairs if value is not None)


def iq_xml(type_: str, id_: str | None, *, to: str | None = None, frm: str | None = None,
           lang: str | None = None, xmlns: str | None = None, payload: str = '') -> str:
    """``<iq/>`` with the given attributes (values escaped) and raw payload."""
    attrs = _attrs([('xmlns', xmlns), ('type', type_), ('id', id_), ('from', frm),
                    ('to', to), ('xml:lang', lang)])
    return f'<iq{attrs}>{payload}</iq>' if payload else f'<iq{attrs}/>'


PING_PAYLOAD = f'<ping xmlns="{PING_NS}"/>'


def ping_xml(id_: str, **kwargs: Any) -> str:
    """A ping request (``type='get'`` unless ``type_`` says otherwise)."""
    type_ = kwargs.pop('type_', 'get')
    payload = kwargs.pop('payload', PING_PAYLOAD)
    return iq_xml(type_, id_, payload=payload, **kwargs)


def result_xml(id_: str, **kwargs: Any) -> str:
    return iq_xml('result', id_, **kwargs)


def error_xml(id_: str, condition: str, *, error_type: str = 'cancel',
              text: str | None = None, error_ns: str | None = None, **kwargs: Any) -> str:
    """An iq error the way slixmpp serialises one (``error_ns``: an
    explicit namespace on <error/>)."""
    payload = (f'<error{_attrs([("xmlns", error_ns), ("type", error_type)])}>'
               f'<{condition} xmlns="{STANZAS_NS}"/>')
    if text is not None:
        payload += f'<text xmlns="{STANZAS_NS}">{escape(text)}</text>'
    payload += '</error>'
    return iq_xml('error', id_, payload=payload, **kwargs)


def message_xml(body: str, *, frm: str = 'friend@example.net/phone',
                to: str | None = None) -> str:
    attrs = _attrs([('type', 'chat'), ('from', frm), ('to', to)])
    return f'<message{attrs}><body>{escape(body)}</body></message>'


# ---------------------------------------------------------------------------
# Plugin selection

@contextlib.contextmanager
def use_ping_plugin(plugin_cls: type) -> Iterator[None]:
    """Make ``register_plugin('xep_0199')`` load ``plugin_cls``.

    slixmpp looks plugins up in ``PLUGIN_REGISTRY`` by name; the previous
    entry is restored afterwards so one implementation never leaks into a
    test of the other.  ``register_plugin`` (not a bare dict assignment) is
    used so PLUGIN_DEPENDENTS knows the plugin, which ``plugin.disable``
    needs.
    """
    registry = plugin_base.PLUGIN_REGISTRY
    missing = object()
    previous = registry.get('xep_0199', missing)
    plugin_base.register_plugin(plugin_cls, name='xep_0199')
    try:
        yield
    finally:
        if previous is missing:
            registry.pop('xep_0199', None)
        else:
            registry['xep_0199'] = previous  # type: ignore[assignment]


# ---------------------------------------------------------------------------
# The stream

class MemoryStream:
    """A slixmpp stream object connected to a :class:`MemoryTransport`."""

    def __init__(self, xmpp: slixmpp.BaseXMPP, ns: str, server: str,
                 lang: str | None = 'en',
                 extra_ns: Mapping[str, str] | None = None) -> None:
        self.xmpp = xmpp
        self.ns = ns
        self.server = server
        self.lang = lang
        self.extra_ns: dict[str, str] = dict(extra_ns or {})
        self.transport = MemoryTransport()
        self._stream_count = 0

    # -- setup -------------------------------------------------------------
    def register_plugins(self, plugin_cls: type, config: Mapping[str, Any] | None = None,
                         extra: tuple[str, ...] = ()) -> None:
        self.xmpp.register_plugin('xep_0030')
        for name in extra:
            self.xmpp.register_plugin(name)
        with use_ping_plugin(plugin_cls):
            self.xmpp.register_plugin('xep_0199', dict(config) if config else None)
        # Kept so pending() can still be asked after plugin.disable().
        self.plugin_instance = self.xmpp.plugin['xep_0199']

    def connect(self) -> None:
        """What XMLStream.connect() + a successful TCP connect do, minus DNS
        and sockets."""
        xmpp = self.xmpp
        # connect() calls init_plugins() (1.17; 1.8.3 does it in
        # start_stream_handler), which runs post_init() once per plugin.
        xmpp.init_plugins()
        # connect() starts the send loop; without it nothing leaves the
        # waiting queue.
        self.ensure_send_loop()
        self.transport.set_protocol(xmpp)
        xmpp.connection_made(self.transport)  # writes our stream header

    def ensure_send_loop(self) -> None:
        xmpp = self.xmpp
        task = getattr(xmpp, '_run_out_filters', None)
        if task is None or task.done():
            xmpp._run_out_filters = asyncio.ensure_future(xmpp.run_filters())

    def server_header(self, lang: str | None = None,
                      extra_ns: Mapping[str, str] | None = None,
                      stream_id: str | None = None) -> bytes:
        """The server's stream header (xml:lang and extra xmlns:prefix
        declarations configurable)."""
        lang = self.lang if lang is None else lang
        extra = self.extra_ns if extra_ns is None else extra_ns
        self._stream_count += 1
        attrs = [f"xmlns='{self.ns}'", f"xmlns:stream='{STREAM_NS}'"]
        attrs += [f"xmlns:{prefix}='{uri}'" for prefix, uri in extra.items()]
        attrs.append(f"id='{stream_id or f'stream{self._stream_count}'}'")
        attrs.append(f"from='{self.server}'")
        if self.ns == CLIENT_NS:
            attrs.append("version='1.0'")
        if lang:
            attrs.append(f"xml:lang='{lang}'")
        return ("<?xml version='1.0'?><stream:stream " + ' '.join(attrs) + '>').encode()

    def bind_client(self, full_jid: str) -> None:
        """What slixmpp's feature_bind does on the bind result when the
        server needs no legacy session: bound JID, session_bind event and
        Event, then session_start (which sets ``_session_started`` and
        flushes stanzas queued before it)."""
        xmpp = self.xmpp
        xmpp.boundjid = JID(full_jid)
        xmpp.bound = True
        xmpp.event('session_bind', xmpp.boundjid)
        xmpp.session_bind_event.set()
        xmpp.features.add('bind')
        xmpp.sessionstarted = True
        xmpp.event('session_start')

    def restart_stream(self, lang: str | None = None,
                       extra_ns: Mapping[str, str] | None = None) -> None:
        """A stream restart as after SASL/STARTTLS: new parser, new server
        header (slixmpp's own restart also re-sends our header; the test
        harness does not need it)."""
        self.xmpp.init_parser()
        self.feed(self.server_header(lang, extra_ns))

    async def reconnect_transport(self) -> MemoryTransport:
        """Drop the connection (server side close) and connect a fresh
        transport with a fresh server header, as a reconnect/resume would."""
        await self.drop_connection()
        self.transport = MemoryTransport()
        self.transport.set_protocol(self.xmpp)
        self.ensure_send_loop()
        self.xmpp.connection_made(self.transport)
        self.feed(self.server_header())
        await self.settle()
        return self.transport

    async def drop_connection(self) -> None:
        """Close the transport; slixmpp gets connection_lost(None)."""
        self.transport.close()
        await self.settle()

    async def enable_sm(self, sm_id: str = 'sm-1') -> None:
        """Enable XEP-0198 the way slixmpp does after binding: send
        <enable/> (its out_sync filter switches outgoing counting on) and
        receive <enabled/> (switches incoming counting on)."""
        from slixmpp.plugins.xep_0198 import stanza as sm_stanza
        enable = sm_stanza.Enable(self.xmpp)
        enable['resume'] = True
        enable.send()
        await self.settle()
        self.feed(f"<enabled xmlns='{SM_NS}' id='{sm_id}' resume='true'/>")
        await self.settle()

    # -- I/O -----------------------------------------------------------------
    def feed(self, data: bytes | str) -> None:
        """Deliver bytes from the server.  Always through the instance's
        ``data_received`` attribute: the plugin under test may replace it."""
        if isinstance(data, str):
            data = data.encode('utf-8')
        self.xmpp.data_received(data)

    def sent(self) -> bytes:
        """Bytes written since the last take_sent(), without consuming them."""
        return self.transport.peek()

    def take_sent(self) -> bytes:
        """Bytes written since the last take_sent()."""
        return self.transport.take()

    def take_stanzas(self) -> list[str]:
        """take_sent(), split into canonicalised top-level elements."""
        return split_stanzas(self.take_sent(), self.ns, self.extra_ns)

    def take_elements(self) -> list[ET.Element]:
        return parse_stanzas(self.take_sent(), self.ns, self.extra_ns)

    def take_one(self) -> tuple[str, ET.Element]:
        """The single stanza written since last time: (canonical form,
        parsed element)."""
        data = self.take_sent()
        canon = split_stanzas(data, self.ns, self.extra_ns)
        assert len(canon) == 1, f'expected exactly one stanza, got {data!r}'
        return canon[0], parse_stanzas(data, self.ns, self.extra_ns)[0]

    def c14n(self, xml_data: bytes | str) -> str:
        return c14n(xml_data, self.ns, self.extra_ns)

    def canon_list(self, *stanzas: str) -> list[str]:
        return [self.c14n(s) for s in stanzas]

    async def settle(self, quiet_rounds: int = 5, max_rounds: int = 1000) -> None:
        """Run the event loop until the send queue is drained and has stayed
        drained for a few loop iterations (handlers scheduled with
        ensure_future, and what they send, get to run)."""
        queue = self.xmpp.waiting_queue
        quiet = 0
        for _ in range(max_rounds):
            await asyncio.sleep(0)
            if queue.empty():
                quiet += 1
                if quiet >= quiet_rounds:
                    return
            else:
                quiet = 0
        raise AssertionError('slixmpp send queue did not drain')

    async def wait_for_output(self, timeout: float = 1.0, poll: float = 0.002) -> bytes:
        """Wait (real time) until something has been written, e.g. by a
        timer; returns it without consuming it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.sent():
            if loop.time() > deadline:
                raise AssertionError(f'nothing was written within {timeout} s')
            await asyncio.sleep(poll)
        await self.settle()
        return self.sent()

    # -- inspection ----------------------------------------------------------
    @property
    def ping_plugin(self) -> Any:
        return self.xmpp.plugin['xep_0199']

    def handler_names(self) -> list[str]:
        # XMLStream keeps its handlers in a name-mangled private list; there
        # is no public way to enumerate them.
        return [h.name for h in self.xmpp._XMLStream__handlers]

    def answer_handler_names(self) -> list[str]:
        """The handlers waiting for answers to pings: slixmpp's Iq.send
        registers one a request, ours one for all ('Ping responses')."""
        return [n for n in self.handler_names()
                if n == 'Ping responses' or n.startswith('IqCallback_')]

    def pending_iq(self) -> dict[str, Any]:
        """Everything that would keep an outgoing iq alive: IqCallback_
        handlers, IqTimeout_ schedules, and the plugin's own in-flight count
        (``pending()``, provided by the C implementation)."""
        pending_count = getattr(self.plugin_instance, 'pending', None)
        return {
            'handlers': [n for n in self.handler_names() if n.startswith('IqCallback_')],
            'timeouts': [n for n in self.xmpp.scheduled_events if n.startswith('IqTimeout_')],
            'plugin_pending': pending_count() if callable(pending_count) else 0,
        }

    def assert_no_pending(self) -> None:
        assert self.pending_iq() == {'handlers': [], 'timeouts': [], 'plugin_pending': 0}

    async def wait_no_pending(self, timeout: float = 1.0) -> None:
        """Wait (real time) for in-flight iqs to be answered or time out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.pending_iq() != {'handlers': [], 'timeouts': [], 'plugin_pending': 0}:
            if loop.time() > deadline:
                self.assert_no_pending()
            await asyncio.sleep(0.002)

    async def close(self) -> None:
        """Tear down: server closes the connection, the send loop stops."""
        if not self.transport.is_closing():
            self.transport.close()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        task = getattr(self.xmpp, '_run_out_filters', None)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class _NoCertificatesContext(ssl.SSLContext):
    def set_default_verify_paths(self) -> None:
        pass


@contextlib.contextmanager
def _without_ca_loading() -> Iterator[None]:
    """XMLStream.__init__ builds a default SSL context and loads the
    system CA store (~0.1 s per stream object, most of a test's run time).
    Nothing here ever does TLS, so hand it a context without certificates
    while the object is constructed."""
    original = ssl.create_default_context
    ssl.create_default_context = lambda *args, **kwargs: _NoCertificatesContext(
        ssl.PROTOCOL_TLS_CLIENT)
    try:
        yield
    finally:
        ssl.create_default_context = original


def _new_client(jid: str) -> slixmpp.ClientXMPP:
    with _without_ca_loading():
        return slixmpp.ClientXMPP(jid, 'password')


def _new_component(jid: str) -> slixmpp.ComponentXMPP:
    with _without_ca_loading():
        return slixmpp.ComponentXMPP(jid, COMPONENT_SECRET, SERVER, COMPONENT_PORT)


async def open_client(plugin_cls: type, *, jid: str = CLIENT_JID,
                      config: Mapping[str, Any] | None = None,
                      lang: str | None = 'en',
                      extra_ns: Mapping[str, str] | None = None,
                      extra_plugins: tuple[str, ...] = ()) -> MemoryStream:
    """A bound, started ClientXMPP on a memory transport; what it wrote
    during setup has been taken already.  Must be called inside a running
    loop (slixmpp binds its futures to it)."""
    stream = MemoryStream(_new_client(jid), CLIENT_NS, SERVER, lang, extra_ns)
    stream.register_plugins(plugin_cls, config, extra_plugins)
    stream.connect()
    stream.feed(stream.server_header())
    stream.bind_client(jid)
    await stream.settle()
    stream.take_sent()
    return stream


async def open_client_registered_late(plugin_cls: type | None, *,
                                     jid: str = CLIENT_JID,
                                     at: str = 'session_start',
                                     extra_plugins: tuple[str, ...] = ()) -> MemoryStream:
    """open_client(), but xep_0199 is registered once the stream has begun:
    by a session_start handler, right after the server's header
    (at='header'), or once the parser exists, before the header
    (at='before_header').
    plugin_cls None: not at all, the caller registers it."""
    stream = MemoryStream(_new_client(jid), CLIENT_NS, SERVER)
    stream.xmpp.register_plugin('xep_0030')
    for name in extra_plugins:
        stream.xmpp.register_plugin(name)

    def register(event: Any = None) -> None:
        with use_ping_plugin(plugin_cls):
            stream.xmpp.register_plugin('xep_0199')
        stream.plugin_instance = stream.xmpp.plugin['xep_0199']
    if plugin_cls is not None and at == 'session_start':
        stream.xmpp.add_event_handler(at, register)
    stream.connect()
    if plugin_cls is not None and at == 'before_header':
        register()
    stream.feed(stream.server_header())
    if plugin_cls is not None and at == 'header':
        register()
    stream.bind_client(jid)
    await stream.settle()
    stream.take_sent()
    return stream


async def open_component(plugin_cls: type, *, jid: str = COMPONENT_JID,
                         config: Mapping[str, Any] | None = None,
                         lang: str | None = 'en',
                         extra_ns: Mapping[str, str] | None = None,
                         extra_plugins: tuple[str, ...] = ()) -> MemoryStream:
    """A ComponentXMPP (jabber:component:accept) past its handshake."""
    stream = MemoryStream(_new_component(jid), COMPONENT_NS, jid, lang, extra_ns)
    stream.register_plugins(plugin_cls, config, extra_plugins)
    stream.connect()
    # The server header makes slixmpp send its <handshake/>; the server's
    # empty <handshake/> answer is what binds and starts a component session.
    stream.feed(stream.server_header())
    await stream.settle()
    stream.feed('<handshake/>')
    await stream.settle()
    stream.take_sent()
    return stream


@contextlib.asynccontextmanager
async def _open_stream(opened: Awaitable[MemoryStream], check_pending: bool
                       ) -> AsyncIterator[MemoryStream]:
    """A stream as a context manager; on a clean exit it also asserts that
    no iq is left pending, then closes the stream."""
    stream = await opened
    try:
        yield stream
        if check_pending:
            await stream.settle()
            stream.assert_no_pending()
    finally:
        await stream.close()


def client_stream(plugin_cls: type, *, check_pending: bool = True,
                  **kwargs: Any) -> contextlib.AbstractAsyncContextManager[MemoryStream]:
    """open_client() as a context manager (see _open_stream)."""
    return _open_stream(open_client(plugin_cls, **kwargs), check_pending)


def client_stream_registered_late(plugin_cls: type, *, check_pending: bool = True,
                                  **kwargs: Any
                                  ) -> contextlib.AbstractAsyncContextManager[MemoryStream]:
    """open_client_registered_late() as a context manager."""
    return _open_stream(open_client_registered_late(plugin_cls, **kwargs), check_pending)


def component_stream(plugin_cls: type, *, check_pending: bool = True,
                     **kwargs: Any) -> contextlib.AbstractAsyncContextManager[MemoryStream]:
    """open_component() as a context manager (see _open_stream)."""
    return _open_stream(open_component(plugin_cls, **kwargs), check_pending)
