"""The fast path's permissions: the C tap in front of slixmpp's
data_received, and the flags that say what it may do, kept so that it
answers a ping, completes a pong or writes directly only while nothing
else (a handler, a filter, an override) would have seen that stanza.

The only module that touches slixmpp's private attributes (its handlers
and filters, the instance's attributes in front of its methods, xep_0198's
internals, _build_stanza).
"""

from __future__ import annotations

import functools
import logging
import os
import pyexpat
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from slixmpp.basexmpp import BaseXMPP
from slixmpp.jid import JID, InvalidJID
from slixmpp.plugins import BasePlugin
from slixmpp.xmlstream import ET, StanzaBase
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatcherId
from slixmpp.xmlstream.matcher.idsender import MatchIDSender
from slixmpp.xmlstream.xmlstream import XMLStream

from slixmpp_ping_c._slixmpp_typed import iq_from_xml, reply

if TYPE_CHECKING:
    from slixmpp_ping_c._core import Peer, Tap

log = logging.getLogger(__name__)

# slixmpp logs every stanza here at DEBUG; when that is on, stanzas take
# slixmpp's path so that the log shows them.
_stream_log = logging.getLogger('slixmpp.xmlstream.xmlstream')

# Stream Management's sequence numbers wrap at 2**32 (XEP-0198).
_SM_MAX_SEQ = 2 ** 32

# The id of the sample stanzas (see _sample_stanzas): drawn once, so that
# no session event calls what applications patch in their tests (uuid4).
_SAMPLE_TOKEN = os.urandom(16).hex()
# slixmpp's private attributes the tap reads at each write or read, where a
# Python call would cost as much as the rest of a ping; the C core knows
# none of these names.  XMLStream.send() holds a stanza back until one of
# the flags is true; the send queue (asyncio.Queue) counts the stanzas not
# yet written, queued or in the send loop's filters; XMLPullParser keeps
# its parsed events in a queue until read.
TAP_PRIVATE_NAMES: dict[str, Any] = {
    'session_flags': ('_session_started', '_always_send_everything'),
    'queue_unfinished': '_unfinished_tasks',
    'parser_events': '_events_queue',
}

# slixmpp's own new_id(): ping ids are ours unless an application's is set.
_SLIXMPP_NEW_ID = XMLStream.new_id

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


def _handlers(xmpp: BaseXMPP) -> list[Any]:
    """slixmpp's handlers, in the order it runs them (private to
    XMLStream: FastPathPermissions.install checks that it is there)."""
    handlers: list[Any] = xmpp.__dict__['_XMLStream__handlers']
    return handlers


def _reply_normalizes() -> bool:
    """Whether this slixmpp's iq.reply() writes the sender's JID in its
    normalized form (1.8.3) or as received (1.17)."""
    request = iq_from_xml(ET.fromstring(
        "<iq xmlns='jabber:client' type='get' from='A@B.C/R'/>"))
    return reply(request).xml.get('to') == 'a@b.c/R'


_REPLY_NORMALIZES = _reply_normalizes()


def reply_jid(raw: str) -> str | None:
    """A JID attribute as iq.reply() writes it, or None where answering
    through slixmpp raises InvalidJID (as slixmpp's handler does while
    logging the sender)."""
    try:
        jid = JID(raw)
    except InvalidJID:
        return None
    return jid.full if _REPLY_NORMALIZES else raw


def overrides_new_id(xmpp: BaseXMPP) -> bool:
    """Whether the application overrides xmpp.new_id() (a subclass's
    method, or an attribute of the instance), asked at each ping."""
    return (type(xmpp).new_id is not _SLIXMPP_NEW_ID
            or 'new_id' in xmpp.__dict__)


def new_tap(core: ModuleType, xmpp: BaseXMPP,
            send_slow: Callable[[str, Peer, str | None], None],
            on_timeout: Callable[..., None],
            deliver_without_delay: bool) -> Tap:
    """The C core's table of pings in flight, with its stream tap (not yet
    in front of data_received: see FastPathPermissions.install)."""
    tap: Tap = core.Tap(
        xmpp, xmpp.data_received, xmpp.loop,
        default_ns=xmpp.default_ns,
        component=bool(xmpp.is_component),
        log=_stream_log,
        send_queue=xmpp.waiting_queue,
        normalize_jid=reply_jid,
        send_slow=send_slow,
        on_timeout=on_timeout,
        **TAP_PRIVATE_NAMES,
    )
    tap.deliver_without_delay = deliver_without_delay
    if tap.reparse_deferral and not hasattr(ET.XMLPullParser, 'flush'):
        log.info('expat %s may hold stanzas back and this Python has '
                 'no XMLPullParser.flush() to release them: stanzas '
                 "take slixmpp's path",
                 '.'.join(map(str, pyexpat.version_info)))
    return tap


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


class FastPathPermissions:
    """Puts the tap in front of slixmpp's data_received and decides what it
    may do: only what no handler, filter or override would have seen had
    slixmpp handled the stanza.  ``ping_handler`` and ``response_handler``
    are the plugin's own, which see pings and pongs by design."""

    def __init__(self, xmpp: BaseXMPP, tap: Tap, ping_handler: Callback,
                 response_handler: Callback) -> None:
        self._xmpp = xmpp
        self._tap = tap
        self._ping_handler = ping_handler
        self._response_handler = response_handler
        self._wrapped: list[str] = []
        # The handlers (other than ours) that would see a ping request, and
        # those that would see a pong, were slixmpp to parse them.
        self._sees_pings: set[Any] = set()
        self._sees_pongs: set[Any] = set()
        self._samples: tuple[StanzaBase, StanzaBase] | None = None

    def install(self) -> None:
        """Put the tap in front of slixmpp's data_received, and watch what
        could make it wrong: handlers, filters, the session."""
        xmpp = self._xmpp
        if any(getattr(xmpp, name, None) is None for name in (
                '_XMLStream__handlers', '_XMLStream__filters',
                *TAP_PRIVATE_NAMES['session_flags'])) or not hasattr(
                    xmpp.waiting_queue, TAP_PRIVATE_NAMES['queue_unfinished']):
            # Not the slixmpp we know: the plugin still works, without C.
            log.warning('slixmpp internals not found; fast path disabled')
            return
        self._watch('register_handler', self._handler_added)
        self._watch('remove_handler', self._handler_removed)
        self._watch('add_filter', self._judge_filters)
        self._watch('del_filter', self._judge_filters)
        self._flush_before_send_raw()
        # An attribute of the instance, in front of the method.
        xmpp.__dict__['data_received'] = self._tap
        if xmpp.parser is not None:
            # Registered after the stream opened (from session_start, say):
            # the tap starts where it can prove it reads the stream as
            # slixmpp does, not at a header it never saw.
            self._tap.join_stream()
        self._scan_handlers()

    def remove(self) -> None:
        xmpp = self._xmpp
        tap = self._tap
        tap.flush()
        for method in self._wrapped:
            xmpp.__dict__.pop(method, None)
        if xmpp.__dict__.get('data_received') is tap:
            del xmpp.data_received
        tap.answer_pings = False
        tap.complete_pongs = False
        tap.direct_send = False

    def tapped(self) -> bool:
        """Whether the tap is in front of data_received."""
        return self._xmpp.__dict__.get('data_received') is self._tap

    def rescan(self) -> None:
        """The session changed: judge every handler and filter afresh."""
        if self.tapped():
            self._scan_handlers()

    def _watch(self, method: str, after: Callable[..., None]) -> None:
        """Call after(*args) after each call of xmpp.method(*args)."""
        original = getattr(self._xmpp, method)

        @functools.wraps(original)
        def watched(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            after(*args, **kwargs)
            return result
        setattr(self._xmpp, method, watched)
        self._wrapped.append(method)

    def _flush_before_send_raw(self) -> None:
        """The tap writes what one turn of the event loop sends at once,
        at the turn's end: whatever slixmpp writes (send_raw(), through
        which its send queue, keepalives and stream footer go) follows
        it, in the order Stream Management counted."""
        original = self._xmpp.send_raw
        flush = self._tap.flush

        @functools.wraps(original)
        def send_raw(data: str | bytes) -> None:
            flush()
            original(data)
        self._xmpp.__dict__['send_raw'] = send_raw
        self._wrapped.append('send_raw')

    def _sample_stanzas(self) -> tuple[StanzaBase, StanzaBase]:
        """A ping request and a pong as they would arrive, to ask each
        handler whether it would see them."""
        xmpp = self._xmpp
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
        handlers = _handlers(self._xmpp)
        for handler in handlers:
            self._judge(handler)
        self._answering = any(h is self._ping_handler for h in handlers)
        self._judge_filters()

    def _judge_filters(self, *args: Any, **kwargs: Any) -> None:
        """Note whether a filter or an override would see our stanzas."""
        if not self.tapped():
            return
        tap = self._tap
        xmpp = self._xmpp
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
        if self.tapped():
            self._judge(handler)
            self._update_flags()

    def _handler_removed(self, *args: Any, **kwargs: Any) -> None:
        """Forget the handlers gone (slixmpp also drops run-once handlers
        silently, which the slow path notices: see forget_gone)."""
        if self.tapped():
            self.forget_gone(force=True)

    def forget_gone(self, force: bool = False) -> None:
        """Forget the handlers slixmpp no longer has (called by the slow
        path's handlers, after slixmpp may have dropped run-once ones)."""
        if not (force or self._sees_pings or self._sees_pongs):
            return
        present = {id(h) for h in _handlers(self._xmpp)}
        # Someone may have removed our 'Ping' handler: then slixmpp answers
        # no ping, and neither may we.
        self._answering = id(self._ping_handler) in present
        for seeing in (self._sees_pings, self._sees_pongs):
            seeing.difference_update(
                [h for h in seeing if id(h) not in present])
        self._update_flags()

    def _update_flags(self) -> None:
        """Decide what the C fast path may do."""
        tap = self._tap
        blocked = self._filters_see_incoming
        tap.answer_pings = self._answering and not (blocked
                                                    or self._sees_pings)
        tap.complete_pongs = not (blocked or self._sees_pongs)
        # Whether the session has started, the C side asks itself.
        tap.direct_send = not self._filters_see_outgoing
