"""XEP-0199 (XMPP Ping) for slixmpp, with the hot path in C.

The plugin is slixmpp's own, line for line where it can be, and a complete
implementation without the C fast path: pings in flight are completed by
one handler whose matcher asks the in-flight table (O(1) per stanza)
instead of one handler per ping.  The C ``Tap`` sits in front of slixmpp's
``data_received`` and answers pings and completes pongs itself, but only
while nothing else would have seen those stanzas; ``_update_flags`` keeps the
flags that say so.

Without the extension (it cannot be imported, or the environment has
``SLIXMPP_PING_C_NO_EXTENSIONS`` set to a non-empty value when this module
is imported) the plugin runs on the pure-Python core, ``_pycore``: the same
in-flight table without the tap, every stanza going through slixmpp.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import pyexpat
import time
from asyncio import Future
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from slixmpp.exceptions import IqTimeout
from slixmpp.jid import JID, InvalidJID
from slixmpp.plugins import BasePlugin
from slixmpp.plugins.xep_0199 import Ping, stanza
from slixmpp.stanza import Iq
from slixmpp.xmlstream import ET, StanzaBase, register_stanza_plugin
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatcherId, StanzaPath
from slixmpp.xmlstream.matcher.base import MatcherBase
from slixmpp.xmlstream.matcher.idsender import MatchIDSender
from slixmpp.xmlstream.xmlstream import XMLStream

from slixmpp_ping_c import _pycore
from slixmpp_ping_c._pycore import PingsInFlight
from slixmpp_ping_c._slixmpp_typed import (disco_info, iq_error, iq_from_xml,
                                           iq_timeout, reply, report_exception,
                                           schedule_repeating, send_answer,
                                           set_plugin_attribute)

if TYPE_CHECKING:
    from slixmpp_ping_c._core import Peer, Tap

log = logging.getLogger(__name__)

#: Set (non-empty) when this module was imported: the C extension is not
#: loaded, as multidict's MULTIDICT_NO_EXTENSIONS.
NO_EXTENSIONS = bool(os.environ.get('SLIXMPP_PING_C_NO_EXTENSIONS'))


def _import_c_core() -> ModuleType | None:
    if NO_EXTENSIONS:
        log.debug('SLIXMPP_PING_C_NO_EXTENSIONS is set: the C core is not '
                  'loaded')
        return None
    try:
        from slixmpp_ping_c import _core
    except ImportError as exc:
        log.debug('The C core cannot be imported (%s)', exc)
        return None
    return _core


#: The C core the plugins initialised from now on run on; None: the
#: pure-Python core.  Read by each plugin_init (the test suite switches it).
c_core: ModuleType | None = _import_c_core()

# slixmpp logs every stanza here at DEBUG; when that is on, stanzas take
# slixmpp's path so that the log shows them.
_stream_log = logging.getLogger('slixmpp.xmlstream.xmlstream')

# Stream Management's sequence numbers wrap at 2**32 (XEP-0198).
_SM_MAX_SEQ = 2 ** 32

_KEEPALIVE = 'Ping keepalive'
# The id of the sample stanzas (see _sample_stanzas): drawn once, so that
# no session event calls what applications patch in their tests (uuid4).
_SAMPLE_TOKEN = os.urandom(16).hex()
# slixmpp's own new_id(): ping ids are ours unless an application's is set.
_SLIXMPP_NEW_ID = XMLStream.new_id
# asyncio may run a timer a little early; an idle time this close counts.
_TIMER_SLACK = 1e-3
# The errors that, with error_is_pong, say the pinged entity is there but
# does not do XEP-0199 (RFC 6120 8.4; some implementations answer the
# latter).
_REACHABLE_CONDITIONS = frozenset({'service-unavailable',
                                   'feature-not-implemented'})

# slixmpp's own stream filters that return any iq untouched and do nothing
# else with it (read in slixmpp 1.8.3 and 1.17): the fast path need not
# show them pings.  Any other filter sends pings through slixmpp.
_FILTERS_BLIND_TO_IQ = frozenset({
    ('slixmpp.roster.multi', 'Roster._save_last_status'),
    ('slixmpp.plugins.xep_0027.gpg', 'XEP_0027._sign_presence'),
    ('slixmpp.plugins.xep_0077.register', 'XEP_0077._force_stream_feature'),
    ('slixmpp.plugins.xep_0115.caps', 'XEP_0115._filter_add_caps'),
    ('slixmpp.plugins.xep_0153.vcard_avatar', 'XEP_0153._update_presence'),
    ('slixmpp.plugins.xep_0184.receipt',
     'XEP_0184._filter_add_receipt_request'),
    ('slixmpp.plugins.xep_0256', 'XEP_0256._initial_presence_activity'),
    ('slixmpp.plugins.xep_0319.idle', 'XEP_0319._stamp_idle_presence'),
})


def _blind_to_iq(stream_filter: Callable[..., Any]) -> bool:
    function = getattr(stream_filter, '__func__', stream_filter)
    return (getattr(function, '__module__', None),
            getattr(function, '__qualname__', None)) in _FILTERS_BLIND_TO_IQ


def _handlers(xmpp: XMLStream) -> list[Any]:
    """slixmpp's handlers, in the order it runs them (private to
    XMLStream: _install_tap checks that it is there)."""
    handlers: list[Any] = xmpp.__dict__['_XMLStream__handlers']
    return handlers


def _reply_normalizes() -> bool:
    """Whether this slixmpp's iq.reply() writes the sender's JID in its
    normalized form (1.8.3) or as received (1.17)."""
    request = iq_from_xml(ET.fromstring(
        "<iq xmlns='jabber:client' type='get' from='A@B.C/R'/>"))
    return reply(request).xml.get('to') == 'a@b.c/R'


_REPLY_NORMALIZES = _reply_normalizes()


def _reply_jid(raw: str) -> str | None:
    """A JID attribute as iq.reply() writes it, or None where answering
    through slixmpp raises InvalidJID (as slixmpp's handler does while
    logging the sender)."""
    try:
        jid = JID(raw)
    except InvalidJID:
        return None
    return jid.full if _REPLY_NORMALIZES else raw


class PingStats(NamedTuple):
    """Statistics of the pings to one entity, as ping(8) reports them.

    Times are in seconds, None until the first pong; ``lost`` counts pings
    that timed out, were answered with an error, or were cancelled.
    """
    sent: int
    received: int
    lost: int
    last: float | None
    min: float | None
    avg: float | None
    max: float | None
    mdev: float | None


class PingTimeout(NamedTuple):
    """The data of the ``ping_timeout`` and ``keepalive_failed`` events:
    the JID pinged and the ping Iq sent.

    Not the Iq itself: slixmpp's event() calls a stanza's exception() when
    a handler raises, and an Iq's would send an error reply to our own
    ping.
    """
    jid: JID
    iq: Iq


class TooManyPings(RuntimeError):
    """ping() or send_ping() while ``max_pending`` pings are in flight
    already: nothing was sent and nothing is tracked."""

    def __init__(self, limit: int) -> None:
        super().__init__(f'{limit} pings in flight already (max_pending); '
                         'this one was not sent')
        self.limit = limit


class _InFlight(MatcherBase):
    """Matches the answers to our pings in flight: one table lookup per
    stanza, then slixmpp's own sender rules (MatchIDSender, or MatcherId
    before the session is bound)."""

    def __init__(self, pings: Tap) -> None:
        super().__init__(None)
        self._pings = pings

    def match(self, xml: Any) -> bool:
        if not isinstance(xml, Iq):
            return False
        id_ = xml.xml.get('id')
        peer = None if id_ is None else self._pings.find(id_)
        if peer is None or xml['type'] not in ('result', 'error'):
            return False
        if peer.allowed is None:
            return True
        return MatchIDSender({
            'id': xml['id'],
            'self': peer.self_jid,
            'peer': peer.jid,
        }).match(xml)


class _StreamManagementAccount:
    """Counts what the fast path consumes and writes as xep_0198 counts
    what passes its filters, so acks and resends stay exact."""

    def __init__(self, xmpp: Any, sm: BasePlugin) -> None:
        self._xmpp = xmpp
        self._sm = sm

    def incoming(self) -> None:
        if self._sm.enabled_in:
            self._sm.handled = (self._sm.handled + 1) % _SM_MAX_SEQ

    def outgoing(self, type_: str, id_: str, to: str | None,
                 ifrom: str | None, lang: str | None) -> None:
        if not self._sm.enabled_out:
            return
        # With its id: xmpp.new_id() is called once a ping, as slixmpp does.
        iq = self._xmpp.Iq(sid=id_)
        iq['type'] = type_
        if to is not None:
            iq['to'] = to
        if ifrom is not None:
            iq['from'] = ifrom
        if lang is not None:
            iq['lang'] = lang
        if type_ == 'get':
            iq.enable('ping')
        # The unacked queue keeps this Iq: a resume resends it.
        self._sm._handle_outgoing(iq)


class XEP_0199(BasePlugin):

    """
    XEP-0199: XMPP Ping

    Given that XMPP is based on TCP connections, it is possible for the
    underlying connection to be terminated without the application's
    awareness. Ping stanzas provide an alternative to whitespace based
    keepalive methods for detecting lost connections.

    Also see <http://www.xmpp.org/extensions/xep-0199.html>.

    Attributes:
        keepalive -- If True, periodically send ping requests
                     to the server. If a ping is not answered,
                     the connection will be reset.
        interval  -- Time in seconds between keepalive pings.
                     Defaults to 300 seconds.
        timeout   -- Time in seconds to wait for a ping response.
                     Defaults to 30 seconds.
        keepalive_idle_only -- If True, a keepalive ping is sent only
                     when no stanza was received for `interval`
                     seconds.  Defaults to False.
        keepalive_retries -- How many keepalive pings in a row must go
                     unanswered before the connection is reset; each
                     retry is sent when the previous one times out.
                     Defaults to 1.
        error_is_pong -- If True, ping() counts a service-unavailable or
                     feature-not-implemented error from the pinged JID
                     as a pong.  Defaults to False.
        max_pending -- At most this many pings in flight (None: no
                     limit); past it ping() and send_ping() raise
                     TooManyPings.  Defaults to 100,000.
        stats_max_peers -- stats() keeps the statistics of at most this
                     many JIDs (at least 1), dropping the least recently
                     pinged.  Defaults to 10,000.
        deliver_without_delay -- If True, with expat 2.6 or newer (whose
                     parser holds a stanza back until more data arrives)
                     every stanza reaches slixmpp's handlers as soon as
                     its last byte is read: one parser flush per read
                     that ends a stanza.  Defaults to False (slixmpp's
                     own timing).
    Events:
        ping_timeout -- A ping timed out; data: PingTimeout(jid, iq).
        keepalive_failed -- The keepalive is about to reconnect; data:
                     the PingTimeout of its last ping.
    Methods:
        send_ping -- Send a ping to a given JID, returning the
                     round trip time.
        ping_many -- Ping many JIDs at once.
        is_ping_supported -- Whether a JID says it supports XEP-0199.
        stats     -- Per-JID statistics of the pings sent.
    """

    name = 'xep_0199'
    description = 'XEP-0199: XMPP Ping'
    dependencies = {'xep_0030'}
    stanza = stanza
    default_config = {
        'keepalive': False,
        'interval': 300,
        'timeout': 30,
        'keepalive_idle_only': False,
        'keepalive_retries': 1,
        'error_is_pong': False,
        'max_pending': 100_000,
        'stats_max_peers': 10_000,
        'deliver_without_delay': False,
    }

    def plugin_init(self) -> None:
        """
        Start the XEP-0199 plugin.
        """
        register_stanza_plugin(Iq, Ping)

        self.__pending_futures: list[Future[None]] = []
        # Coroutine callbacks running; the loop holds its tasks only weakly.
        self._callback_tasks: set[Future[Any]] = set()
        # Keepalive pings unanswered in a row.
        self._keepalive_misses = 0
        # is_ping_supported()'s answers, for this session.
        self._ping_support: dict[JID, bool] = {}
        # Pings by the target the caller named (a cache), and by the full
        # JID pinged, least recently pinged first (see _remember).
        self._peers: dict[Any, Peer] = {}
        self._peers_by_jid: OrderedDict[str, Peer] = OrderedDict()
        # Bumped whenever what a Peer derives from the session may change.
        self._identity = 0
        # Set when a ping may have been cancelled since the table last
        # dropped the cancelled ones (see _forget_cancelled).
        self._cancelled_pings = False

        xmpp = self.xmpp
        core = c_core
        log.debug('XEP-0199 on the %s core',
                  'C' if core is not None else 'pure-Python')
        self._core: ModuleType = core if core is not None else _pycore
        # The C core's Tap holds the pings in flight; the pure core's table
        # has no tap.
        self._tap: Tap | None = None
        # The pure core, for keepalive_idle_only: when a stanza was last
        # received, noted by an incoming filter while the keepalive runs.
        self._received_at = 0.0
        self._noting_received = False
        if core is None:
            # Typed as the Tap, whose ping methods it has (on the twin of
            # the C Peer).
            self._pings: Tap = cast('Tap', PingsInFlight(
                xmpp.loop, send_slow=self._send_slow,
                on_timeout=self._on_timeout))
        else:
            self._pings = self._tap = core.Tap(
                xmpp, xmpp.data_received, xmpp.loop,
                default_ns=xmpp.default_ns,
                component=bool(xmpp.is_component),
                log=_stream_log,
                send_queue=xmpp.waiting_queue,
                normalize_jid=_reply_jid,
                send_slow=self._send_slow,
                on_timeout=self._on_timeout,
            )
            self._tap.deliver_without_delay = bool(self.deliver_without_delay)
            if self._tap.reparse_deferral and not hasattr(ET.XMLPullParser,
                                                          'flush'):
                log.info('expat %s may hold stanzas back and this Python has '
                         'no XMLPullParser.flush() to release them: stanzas '
                         "take slixmpp's path",
                         '.'.join(map(str, pyexpat.version_info)))
        # Both matchers pass Iq stanzas only, which the handlers take.
        self._ping_handler = Callback(
            'Ping', StanzaPath('iq@type=get/ping'),
            cast('Callable[[StanzaBase], None]', self._handle_ping))
        self._response_handler = Callback(
            'Ping responses', _InFlight(self._pings),
            cast('Callable[[StanzaBase], None]', self._handle_response))
        xmpp.register_handler(self._ping_handler)
        xmpp.register_handler(self._response_handler)

        self._session_events = dict.fromkeys(
            ('session_bind', 'session_start', 'session_resumed',
             'session_end', 'connected', 'disconnected'),
            self._new_identity)
        for name, handler in self._session_events.items():
            xmpp.add_event_handler(name, handler)
        for name in ('session_start', 'session_end'):
            xmpp.add_event_handler(name, self._forget_ping_support)

        self._keepalive_events: dict[str, Callable[..., Any]] = {}
        if self.keepalive:
            self._keepalive_events = {
                'session_start': lambda event: self.enable_keepalive(),
                'session_resumed': lambda event: self.enable_keepalive(),
                'disconnected': self.disable_keepalive,
            }
            for name, handler in self._keepalive_events.items():
                xmpp.add_event_handler(name, handler)

        if self._tap is not None:
            self._install_tap(self._tap)

    def __setattr__(self, key: str, value: Any) -> None:
        set_plugin_attribute(self, key, value)
        # The tap reads its copy on every read, not the config.
        tap = self.__dict__.get('_tap')
        if key == 'deliver_without_delay' and tap is not None:
            tap.deliver_without_delay = bool(value)

    def plugin_end(self) -> None:
        self.xmpp.plugin['xep_0030'].del_feature(feature=Ping.namespace)
        self.xmpp.remove_handler('Ping')
        self.xmpp.remove_handler('Ping responses')
        for name, handler in self._keepalive_events.items():
            self.xmpp.del_event_handler(name, handler)
        for name, handler in self._session_events.items():
            self.xmpp.del_event_handler(name, handler)
        for name in ('session_start', 'session_end'):
            self.xmpp.del_event_handler(name, self._forget_ping_support)
        self.disable_keepalive()
        if self._tap is not None:
            self._remove_tap(self._tap)
        # No ping of an ended plugin completes or times out.
        self._pings.cancel_all()

    def session_bind(self, jid: JID) -> None:
        self.xmpp.plugin['xep_0030'].add_feature(Ping.namespace)
        # BasePlugin calls this before plugin_init when already bound.
        if '_pings' in self.__dict__:
            self._new_identity()

    # ---- the fast path's permissions --------------------------------

    def _install_tap(self, tap: Tap) -> None:
        """Put the tap in front of slixmpp's data_received, and watch what
        could make it wrong: handlers, filters, the session."""
        xmpp = self.xmpp
        self._wrapped: list[str] = []
        # The handlers (other than ours) that would see a ping request, and
        # those that would see a pong, were slixmpp to parse them.
        self._sees_pings: set[Any] = set()
        self._sees_pongs: set[Any] = set()
        self._samples: tuple[StanzaBase, StanzaBase] | None = None
        if any(getattr(xmpp, name, None) is None for name in (
                '_XMLStream__handlers', '_XMLStream__filters',
                '_session_started', '_always_send_everything')) or not hasattr(
                    xmpp.waiting_queue, '_unfinished_tasks'):
            # Not the slixmpp we know: the plugin still works, without C.
            log.warning('slixmpp internals not found; fast path disabled')
            return
        self._watch('register_handler', self._handler_added)
        self._watch('remove_handler', self._handler_removed)
        self._watch('add_filter', self._judge_filters)
        self._watch('del_filter', self._judge_filters)
        # An attribute of the instance, in front of the method.
        xmpp.__dict__['data_received'] = tap
        if xmpp.parser is not None:
            # Registered after the stream opened (from session_start, say):
            # the tap starts where it can prove it reads the stream as
            # slixmpp does, not at a header it never saw.
            tap.join_stream()
        self._scan_handlers()

    def _remove_tap(self, tap: Tap) -> None:
        xmpp = self.xmpp
        for method in self._wrapped:
            xmpp.__dict__.pop(method, None)
        if xmpp.__dict__.get('data_received') is tap:
            del xmpp.data_received
        tap.answer_pings = False
        tap.complete_pongs = False
        tap.direct_send = False

    def _watch(self, method: str, after: Callable[..., None]) -> None:
        """Call after(*args) after each call of xmpp.method(*args)."""
        original = getattr(self.xmpp, method)

        @functools.wraps(original)
        def watched(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            after(*args, **kwargs)
            return result
        setattr(self.xmpp, method, watched)
        self._wrapped.append(method)

    def _tapped(self) -> bool:
        return (self._tap is not None
                and self.xmpp.__dict__.get('data_received') is self._tap)

    def _new_identity(self, event: Any = None) -> None:
        self._identity += 1
        if self._tapped():
            self._scan_handlers()

    def _sample_stanzas(self) -> tuple[StanzaBase, StanzaBase]:
        """A ping request and a pong as they would arrive, to ask each
        handler whether it would see them."""
        xmpp = self.xmpp
        own = xmpp.boundjid
        ns = xmpp.default_ns
        token = _SAMPLE_TOKEN
        ping = ET.fromstring(
            f"<iq xmlns='{ns}' type='get' id='{token}' "
            f"from='probe@example.invalid/{token}' to='{own.full}'>"
            "<ping xmlns='urn:xmpp:ping'/></iq>")
        pong = ET.fromstring(
            f"<iq xmlns='{ns}' type='result' id='{token}' "
            f"from='{own.domain}' to='{own.full}'/>")
        return xmpp._build_stanza(ping), xmpp._build_stanza(pong)

    def _judge(self, handler: Any) -> None:
        """Note whether a handler would see pings or pongs."""
        if handler is self._ping_handler or handler is self._response_handler:
            return
        # Iq.send's handlers wait for one id, never one of ours: the common
        # case, and the one that must cost little.
        if type(getattr(handler, '_matcher', None)) in (MatchIDSender,
                                                       MatcherId):
            return
        # Set by _scan_handlers before any handler is judged.
        assert self._samples is not None
        ping, pong = self._samples
        for sample, seeing in ((ping, self._sees_pings),
                               (pong, self._sees_pongs)):
            try:
                sees = handler.match(sample)
            except Exception:
                sees = True
            if sees:
                seeing.add(handler)

    def _scan_handlers(self) -> None:
        """Judge every handler and filter afresh (the session, hence the
        samples, changed)."""
        self._samples = self._sample_stanzas()
        self._sees_pings.clear()
        self._sees_pongs.clear()
        handlers = _handlers(self.xmpp)
        for handler in handlers:
            self._judge(handler)
        self._answering = any(h is self._ping_handler for h in handlers)
        self._judge_filters()

    def _judge_filters(self, *args: Any, **kwargs: Any) -> None:
        """Note whether a filter or an override would see our stanzas."""
        tap = self._tap
        if tap is None or not self._tapped():
            return
        xmpp = self.xmpp
        filters: dict[str, list[Any]] = xmpp.__dict__['_XMLStream__filters']
        # PluginManager has no get() on slixmpp 1.8.3.
        sm = xmpp.plugin['xep_0198'] if 'xep_0198' in xmpp.plugin else None  # noqa: SIM401
        ours_in: set[Any] = set()
        ours_out: set[Any] = set()
        if sm is not None:
            ours_in.add(sm._handle_incoming)
            ours_out.add(sm._handle_outgoing)
            if not isinstance(tap.sm, _StreamManagementAccount):
                tap.sm = _StreamManagementAccount(xmpp, sm)
        else:
            tap.sm = None
        overridden = (type(xmpp).incoming_filter
                      is not XMLStream.incoming_filter
                      or 'incoming_filter' in xmpp.__dict__)
        self._filters_see_incoming = overridden or any(
            f not in ours_in and not _blind_to_iq(f) for f in filters['in'])
        self._filters_see_outgoing = any(
            f not in ours_out and not _blind_to_iq(f)
            for mode in ('out', 'out_sync', 'out_sce')
            for f in filters.get(mode, ()))
        self._update_flags()

    def _handler_added(self, handler: Any, *args: Any, **kwargs: Any
                       ) -> None:
        if self._tapped():
            self._judge(handler)
            self._update_flags()

    def _handler_removed(self, *args: Any, **kwargs: Any) -> None:
        """Forget the handlers gone (slixmpp also drops run-once handlers
        silently, which the slow path notices: see _forget_gone)."""
        if self._tapped():
            self._forget_gone(force=True)

    def _forget_gone(self, force: bool = False) -> None:
        if self._tap is None or not (force or self._sees_pings
                                     or self._sees_pongs):
            return
        present = {id(h) for h in _handlers(self.xmpp)}
        # Someone may have removed our 'Ping' handler: then slixmpp answers
        # no ping, and neither may we.
        self._answering = id(self._ping_handler) in present
        for seeing in (self._sees_pings, self._sees_pongs):
            seeing.difference_update(
                [h for h in seeing if id(h) not in present])
        self._update_flags()

    def _update_flags(self) -> None:
        """Decide what the C fast path may do: only what no handler, filter
        or override would have seen had slixmpp handled the stanza."""
        tap = self._tap
        if tap is None:
            return
        blocked = self._filters_see_incoming
        tap.answer_pings = self._answering and not (blocked
                                                    or self._sees_pings)
        tap.complete_pongs = not (blocked or self._sees_pongs)
        # Whether the session has started, the C side asks itself.
        tap.direct_send = not self._filters_see_outgoing

    # ---- answering pings --------------------------------------------

    def _handle_ping(self, iq: Iq) -> None:
        """Automatically reply to ping requests."""
        log.debug("Pinged by %s", iq['from'])
        send_answer(reply(iq))
        self._forget_gone()

    # ---- keepalive --------------------------------------------------

    def _clear_pending_futures(self) -> None:
        """Cancel all pending ping futures"""
        if self.__pending_futures:
            log.debug('Clearing %s pending pings', len(self.__pending_futures))
            for future in self.__pending_futures:
                future.cancel()
            self.__pending_futures.clear()

    def enable_keepalive(self, interval: float | None = None,
                         timeout: float | None = None) -> None:
        """
        Enable the ping keepalive on the connection.
        The plugin will send a ping at `interval` and reconnect if the ping
        timeouts.

        :param interval: The interval between each ping
        :param timeout: The timeout of the ping
        """
        if interval:
            self.interval = interval
        if timeout:
            self.timeout = timeout

        self.keepalive = True
        self._keepalive_misses = 0

        if self.keepalive_idle_only:
            if _KEEPALIVE in self.xmpp.scheduled_events:
                raise ValueError('There is already a scheduled event of '
                                 'name: %s' % _KEEPALIVE)
            if self._tap is None and not self._noting_received:
                self.xmpp.add_filter('in', self._note_received)
                self._noting_received = True
            self._schedule_idle_check(self.interval)
        else:
            schedule_repeating(self.xmpp, _KEEPALIVE, self.interval,
                               self._keepalive_tick)

    def _keepalive_tick(self, event: Any = None) -> None:
        # Cleanup futures
        self.__pending_futures = [
            future for future in self.__pending_futures
            if not future.done()
        ]
        if self._keepalive_misses and self.__pending_futures:
            # Retrying: one series of keepalive pings at a time.
            return
        future = asyncio.ensure_future(
            self._keepalive(event),
            loop=self.xmpp.loop,
        )
        self.__pending_futures.append(future)

    def _schedule_idle_check(self, delay: float) -> None:
        """Check for idleness after delay seconds.  The handle goes where
        slixmpp's schedule() keeps it, so that cancel_schedule() cancels
        it; schedule() itself would forget a handle rescheduled from its
        own callback."""
        xmpp = self.xmpp
        xmpp.scheduled_events[_KEEPALIVE] = xmpp.loop.call_later(
            delay, self._idle_check)

    def _idle_check(self) -> None:
        """keepalive_idle_only: ping once nothing was received for an
        interval; else look again when it will have been."""
        # The C tap stamps every read that ends a stanza, those it
        # consumes itself included.
        received_at = (self._tap.received_at if self._tap is not None
                       else self._received_at)
        idle = time.monotonic() - received_at
        delay = self.interval - idle
        if delay <= _TIMER_SLACK:
            try:
                self._keepalive_tick()
            except Exception as exc:
                report_exception(self.xmpp, exc)
            delay = self.interval
        self._schedule_idle_check(delay)

    def _note_received(self, stanza: Any) -> Any:
        """An incoming filter (the pure core, keepalive_idle_only): a
        stanza was received; it goes on untouched."""
        self._received_at = time.monotonic()
        return stanza

    def disable_keepalive(self, event: Any = None) -> None:
        self._clear_pending_futures()
        self.xmpp.cancel_schedule(_KEEPALIVE)
        if self._noting_received:
            self._noting_received = False
            self.xmpp.del_filter('in', self._note_received)

    session_end = disable_keepalive

    async def _keepalive(self, event: Any = None) -> None:
        log.debug("Keepalive ping...")
        ifrom = None
        if self.xmpp.is_component:
            ifrom = self.xmpp.boundjid
        while True:
            try:
                rtt = await self.ping(
                    self.xmpp.boundjid.host,
                    timeout=self.timeout,
                    ifrom=ifrom
                )
            except IqTimeout as timeout:
                self._keepalive_misses += 1
                if self._keepalive_misses < self.keepalive_retries:
                    log.debug("Keepalive ping %d of %d unanswered, "
                              "retrying.", self._keepalive_misses,
                              self.keepalive_retries)
                    continue
                self._keepalive_misses = 0
                log.debug("Did not receive ping back in time. "
                          "Requesting Reconnect.")
                self.xmpp.event('keepalive_failed', PingTimeout(
                    JID(self.xmpp.boundjid.host), timeout.iq))
                self.xmpp.reconnect(0.0,
                                    "Ping timeout after %ds" % self.timeout)
            except TooManyPings as full:
                # No room for it: no sign of a dead link either.
                log.warning('Keepalive ping not sent: %s', full)
            else:
                self._keepalive_misses = 0
                log.debug('Keepalive RTT: %s', rtt)
            return

    # ---- sending pings ----------------------------------------------

    def _peer(self, jid: Any) -> Peer:
        """The Peer for a ping target as the caller named it (None: the
        server), set up for the current session."""
        peer = self._peers.get(jid)
        if peer is not None and peer.identity == self._identity:
            return peer
        xmpp = self.xmpp
        # slixmpp's plugin pings xmpp.server for a component: the same
        # value (boundjid.server), without its deprecation warning.
        target = JID(jid or xmpp.boundjid.host)
        peer = self._peers_by_jid.get(target.full)
        if peer is None:
            peer = self._core.Peer(target, target.full)
            self._remember(peer)
        own_host = target == xmpp.boundjid.host
        own = xmpp.boundjid
        peer.self_jid = JID(own)
        if xmpp.session_bind_event.is_set():
            # Iq.send's MatchIDSender: the answers slixmpp accepts.
            allowed = ('', own.bare, own.domain, target.full, target.bare,
                       target.domain)
            peer.configure(allowed, own_host)
        else:
            # Iq.send's MatcherId: any sender, before the session is bound.
            peer.configure(None, own_host)
        peer.identity = self._identity
        if len(self._peers) >= self.config['stats_max_peers']:
            # Names for peers dropped since, perhaps: start afresh.
            self._peers.clear()
        self._peers[jid] = peer
        return peer

    def _remember(self, peer: Peer) -> None:
        """Keep a new peer's statistics, dropping those of the least
        recently pinged peers beyond stats_max_peers."""
        peers = self._peers_by_jid
        peers[peer.to] = peer
        while len(peers) > max(self.config['stats_max_peers'], 1):
            _, dropped = peers.popitem(last=False)
            # Never current again: the names cached for it miss.
            dropped.identity = None

    def _ping_target(self, jid: Any) -> Peer:
        """The Peer to ping for ``jid`` as ping() names it, once there is
        room for one more ping in flight."""
        limit = self.config['max_pending']
        if limit is not None and self.pending() >= limit:
            raise TooManyPings(limit)
        peer = self._peers.get(jid)
        if peer is None or peer.identity != self._identity:
            peer = self._peer(jid)
        self._peers_by_jid.move_to_end(peer.to)
        return peer

    def _overrides_new_id(self) -> bool:
        """Whether the application overrides xmpp.new_id() (a subclass's
        method, or an attribute of the instance), asked at each ping."""
        xmpp = self.xmpp
        return (type(xmpp).new_id is not _SLIXMPP_NEW_ID
                or 'new_id' in xmpp.__dict__)

    def _given_id(self) -> str | None:
        """A new ping's id: xmpp.new_id()'s when overridden, as slixmpp's
        plugin takes all its ids from there; else None, for the C side to
        draw an unpredictable one."""
        return self.xmpp.new_id() if self._overrides_new_id() else None

    def _sent_iq(self, id_: str, to: Any, ifrom: Any) -> Iq:
        # With its id: xmpp.new_id() is called once a ping, as slixmpp does.
        iq = self.xmpp.Iq(sid=id_)
        iq['type'] = 'get'
        iq['to'] = to
        iq['from'] = ifrom
        iq.enable('ping')
        return iq

    def _send_slow(self, id_: str, peer: Peer, ifrom: str | None) -> None:
        """Send a ping through slixmpp's send queue and filters, when the
        C side may not write it directly."""
        self.xmpp.send(self._sent_iq(id_, peer.jid, ifrom))

    def send_ping(self, jid: JID | str, ifrom: JID | str | None = None,
                  timeout: float | None = None,
                  callback: Callable[[Iq], Any] | None = None,
                  timeout_callback: Callable[[Iq], Any] | None = None
                  ) -> Future[Iq]:
        """Send a ping request.

        The future resolves to the response Iq, or raises IqError or
        IqTimeout.  ``callback`` is called with the response (result or
        error), ``timeout_callback`` with the sent Iq when no response
        came in time; coroutine functions are run as tasks.

        :param jid: The JID that will receive the ping.
        :raises TooManyPings: When max_pending pings are in flight
        """
        if not timeout:
            timeout = self.timeout

        iq = self.xmpp.Iq()
        iq['type'] = 'get'
        iq['to'] = jid
        iq['from'] = ifrom
        # Checked now, as the 'to' is by _peer(): slixmpp's send queue would
        # fail to write it, with the ping already in flight.
        JID(iq.xml.get('from', ''))
        iq.enable('ping')

        peer = self._ping_target(iq['to'])
        future = self.xmpp.loop.create_future()
        # xmpp.Iq() took its id from xmpp.new_id(): kept if overridden.
        given = iq['id'] if self._overrides_new_id() else None
        iq['id'] = self._pings.track(peer, timeout, future,
                                     (iq, callback, timeout_callback), given)
        self.xmpp.send(iq)
        return future

    async def ping(self, jid: JID | str | None = None,
                   ifrom: JID | str | None = None,
                   timeout: float | None = None) -> float:
        """Send a ping request and calculate RTT.
        This is a coroutine.

        :param jid: The JID that will receive the ping.
        :raises IqError: When the remote entity answered an error
        :raises IqTimeout: When the remote entity did not answer
        :raises TooManyPings: When max_pending pings are in flight
        """
        peer = self._ping_target(jid)
        if not timeout:
            timeout = self.config['timeout']
        sender = JID(ifrom).full if ifrom else None

        log.debug('Pinging %s', peer.jid)
        try:
            rtt = await self._pings.send_ping(peer, sender, timeout,
                                              self._given_id())
        except asyncio.CancelledError:
            # The caller gave up (wait_for, a cancelled task): its slot is
            # freed before pings are next counted.
            self._cancelled_pings = True
            raise
        log.debug('Pinged %s, RTT: %s', peer.jid, rtt)
        return rtt

    async def ping_many(self, jids: Iterable[Any],
                        timeout: float | None = None,
                        concurrency: int | None = None,
                        ifrom: JID | str | None = None
                        ) -> dict[Any, float | BaseException]:
        """Ping many JIDs: a dict from each JID as given (once, however
        often given) to its RTT or the exception ping() would have raised.
        This is a coroutine.

        At most ``concurrency`` pings (and never more than ``max_pending``)
        are in flight at once; each answer or timeout sends the next.  A JID
        for which there is no room, other pings filling ``max_pending``,
        gets TooManyPings.  Each JID costs one ping's
        future and one done callback: no task of its own.
        """
        # In the order given; each filled in as its answer comes.
        results: dict[Any, Any] = dict.fromkeys(jids)
        if not results:
            return results
        targets = list(results)
        width = len(targets)
        for cap in (concurrency, self.config['max_pending']):
            if cap is not None:
                if cap < 1:
                    raise ValueError('concurrency and max_pending must be '
                                     'at least 1')
                width = min(width, cap)
        if not timeout:
            timeout = self.config['timeout']
        sender = JID(ifrom).full if ifrom else None
        pings = self._pings
        done = self.xmpp.loop.create_future()
        queue = iter(targets)
        in_flight: dict[Future[float], Any] = {}

        def send_next() -> None:
            for jid in queue:
                try:
                    future = pings.send_ping(self._ping_target(jid), sender,
                                             timeout, self._given_id())
                except Exception as exc:
                    results[jid] = exc
                    continue
                in_flight[future] = jid
                future.add_done_callback(finished)
                return
            if not in_flight and not done.done():
                done.set_result(None)

        def finished(future: Future[float]) -> None:
            jid = in_flight.pop(future)
            if future.cancelled():
                results[jid] = asyncio.CancelledError()
            else:
                error = future.exception()
                results[jid] = future.result() if error is None else error
            send_next()

        for _ in range(width):
            send_next()
        try:
            await done
        finally:
            # Cancelled: send nothing more, and the pings still out are
            # the caller's no longer.
            for _ in queue:
                pass
            for future in list(in_flight):
                if future.cancel():
                    self._cancelled_pings = True
        return results

    async def is_ping_supported(self, jid: Any) -> bool:
        """Whether the entity lists urn:xmpp:ping in its disco#info
        (XEP-0199 section 5).  This is a coroutine.

        Answers are kept per JID until the session ends.  An error or no
        answer raises IqError or IqTimeout, and is not kept.
        """
        target = JID(jid)
        supported = self._ping_support.get(target)
        if supported is not None:
            return supported
        # A str, so that xep_0030 answers for our own JID locally.
        info = await disco_info(self.xmpp, target.full)
        if isinstance(info, Iq):
            info = info['disco_info']
        supported = Ping.namespace in info['features']
        self._ping_support[target] = supported
        return supported

    def _forget_ping_support(self, event: Any = None) -> None:
        self._ping_support.clear()

    # ---- completing pings -------------------------------------------

    def _run_callback(self, callback: Callable[[Iq], Any] | None,
                      iq: Iq) -> None:
        if callback is None:
            return
        # inspect's, as slixmpp 1.17's Iq.send: asyncio's is deprecated in
        # Python 3.14.
        if inspect.iscoroutinefunction(callback):
            task = asyncio.ensure_future(callback(iq), loop=self.xmpp.loop)
            self._callback_tasks.add(task)
            task.add_done_callback(self._callback_tasks.discard)
        else:
            callback(iq)

    def _handle_response(self, iq: Iq) -> None:
        """An answer to one of our pings that slixmpp parsed (the fast path
        did not take it)."""
        self._forget_gone()
        popped = self._pings.pop(iq['id'])
        if popped is None:
            return
        future, peer, context, rtt, tracked = popped
        error = iq['type'] == 'error'
        if tracked:
            pong = not error
        else:
            # An error from one's own server still proves it is there.
            pong = (not error or peer.own_host
                    or (self.error_is_pong and self._proves_reachable(
                        iq, peer)))
        if pong:
            peer.record(rtt)
        else:
            peer.record_lost()
        if not future.done():
            if not pong:
                future.set_exception(iq_error(iq))
            elif tracked:
                future.set_result(iq)
            else:
                future.set_result(rtt)
        if tracked:
            self._run_callback(context[1], iq)

    @staticmethod
    def _proves_reachable(iq: Iq, peer: Peer) -> bool:
        """error_is_pong: the pinged JID itself answered that it does not
        do XEP-0199 (an error from anyone else, its server say, is no
        sign of it)."""
        return (iq['error']['condition'] in _REACHABLE_CONDITIONS
                and iq['from'] == peer.jid)

    def _on_timeout(self, id_: str, future: Future[Any], peer: Peer,
                    context: Any, tracked: bool) -> None:
        """The deadline of a ping passed (called by the C timer)."""
        if tracked:
            iq, _, timeout_callback = context
        else:
            iq, timeout_callback = self._sent_iq(id_, peer.jid, context), None
        if not future.done():
            future.set_exception(iq_timeout(iq))
        if timeout_callback is not None:
            try:
                self._run_callback(timeout_callback, iq)
            except Exception:
                log.exception('Error in the timeout callback of ping %s',
                              id_)
        self.xmpp.event('ping_timeout', PingTimeout(peer.jid, iq))

    # ---- introspection ----------------------------------------------

    def pending(self) -> int:
        """The number of pings in flight."""
        self._forget_cancelled()
        return self._pings.pending()

    def _forget_cancelled(self) -> None:
        """Free the slots of the pings whose callers gave up, once after
        any number of them (one pass over the table)."""
        if self._cancelled_pings:
            self._cancelled_pings = False
            self._pings.forget_cancelled()

    def stats(self, jid: Any = None) -> Mapping[JID, PingStats] | PingStats:
        """Statistics of the pings sent: a mapping JID -> PingStats, or the
        PingStats of one JID (KeyError if it was never pinged)."""
        if jid is None:
            return {peer.jid: PingStats(*peer.stats())
                    for peer in self._peers_by_jid.values()}
        return PingStats(*self._peers_by_jid[JID(jid).full].stats())
