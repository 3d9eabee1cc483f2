"""Completing our pings on slixmpp's path: the matcher of their answers,
the answers slixmpp parsed (the fast path did not take them), timeouts,
callbacks, and the pings the C side may not write directly."""

from __future__ import annotations

import asyncio
import inspect
import logging
from asyncio import Future
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from slixmpp.basexmpp import BaseXMPP
from slixmpp.jid import JID
from slixmpp.stanza import Iq
from slixmpp.xmlstream import StanzaBase
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher.base import MatcherBase
from slixmpp.xmlstream.matcher.idsender import MatchIDSender

from slixmpp_ping_c._peers import PingTimeout, session_jid
from slixmpp_ping_c._slixmpp_typed import iq_error, iq_timeout

if TYPE_CHECKING:
    from slixmpp_ping_c._core import Peer, Tap

log = logging.getLogger(__name__)

# The errors that, with error_is_pong, say the pinged entity is there but
# does not do XEP-0199 (RFC 6120 8.4; some implementations answer the
# latter).
_REACHABLE_CONDITIONS = frozenset({'service-unavailable',
                                   'feature-not-implemented'})


class AnswerMatcher(MatcherBase):
    """Matches the answers to our pings in flight: one table lookup per
    stanza, then slixmpp's own sender rules (MatchIDSender, or MatcherId
    before the session is bound).  With no ping in flight it calls
    ``on_idle`` and matches nothing."""

    def __init__(self, pings: Tap, on_idle: Callable[[], None]) -> None:
        super().__init__(None)
        self._pings = pings
        self._on_idle = on_idle

    def match(self, xml: Any) -> bool:
        if not self._pings.pending():
            self._on_idle()
            return False
        if not isinstance(xml, Iq):
            return False
        id_ = xml.xml.get('id')
        peer = None if id_ is None else self._pings.find(id_)
        if peer is None or xml['type'] not in ('result', 'error'):
            return False
        if peer.senders is None:
            return True
        # Iq.send's MatchIDSender, with the JIDs it reads: the session's
        # and the peer's (its rules are slixmpp's release's: 1.8 compares
        # the 'from' as a JID, later ones as the raw attribute).
        return MatchIDSender({
            'id': xml['id'],
            'self': session_jid(peer.senders),
            'peer': JID(peer.to),
        }).match(xml)


class ResponseHandler:
    """The 'Ping responses' handler, registered with slixmpp only while
    pings of ours are in flight, as slixmpp's Iq.send registers one for
    each request: slixmpp asks every handler about every stanza it
    parses, so one registered for nothing would cost every message."""

    NAME = 'Ping responses'

    def __init__(self, xmpp: BaseXMPP, pings: Tap,
                 handle: Callable[[Iq], None]) -> None:
        self._xmpp = xmpp
        self._pings = pings
        self.callback = Callback(
            self.NAME, AnswerMatcher(pings, self._idle),
            cast('Callable[[StanzaBase], None]', handle))
        self._registered = False
        self._dropping = False

    def expect(self) -> None:
        """A ping is about to be sent: its answer must be matched."""
        if not self._registered:
            # slixmpp registers a handler only while its stream is unset,
            # and never unsets it.
            self.callback.stream = None
            self._xmpp.register_handler(self.callback)
            self._registered = True

    def remove(self) -> None:
        if self._registered:
            self._registered = False
            self._xmpp.remove_handler(self.NAME)

    def _idle(self) -> None:
        # Not from inside the match: slixmpp is going over its handlers.
        if not self._dropping:
            self._dropping = True
            self._xmpp.loop.call_soon(self._drop_if_idle)

    def _drop_if_idle(self) -> None:
        self._dropping = False
        if not self._pings.pending():
            self.remove()


class PingCompletion:
    """Completes the pings of one table (``pings``, set once made: the
    table calls send_slow and on_timeout).  ``config``: the plugin's, for
    error_is_pong."""

    def __init__(self, xmpp: BaseXMPP, config: Mapping[str, Any]) -> None:
        self._xmpp = xmpp
        self._config = config
        self.pings: Tap | None = None
        # Coroutine callbacks running; the loop holds its tasks only weakly.
        self._callback_tasks: set[Future[Any]] = set()

    def sent_iq(self, id_: str, to: Any, ifrom: Any) -> Iq:
        """The ping Iq with this id, as sent."""
        # With its id: xmpp.new_id() is called once a ping, as slixmpp does.
        iq = self._xmpp.Iq(sid=id_)
        iq['type'] = 'get'
        iq['to'] = to
        iq['from'] = ifrom
        iq.enable('ping')
        return iq

    def send_slow(self, id_: str, peer: Peer, ifrom: str | None) -> None:
        """Send a ping through slixmpp's send queue and filters, when the
        C side may not write it directly."""
        self._xmpp.send(self.sent_iq(id_, peer.jid, ifrom))

    def run_callback(self, callback: Callable[[Iq], Any] | None,
                     iq: Iq) -> None:
        if callback is None:
            return
        # inspect's, as slixmpp 1.17's Iq.send: asyncio's is deprecated in
        # Python 3.14.
        if inspect.iscoroutinefunction(callback):
            task = asyncio.ensure_future(callback(iq), loop=self._xmpp.loop)
            self._callback_tasks.add(task)
            task.add_done_callback(self._callback_tasks.discard)
        else:
            callback(iq)

    def handle_response(self, iq: Iq) -> None:
        """An answer to one of our pings that slixmpp parsed."""
        assert self.pings is not None
        popped = self.pings.pop(iq['id'])
        if popped is None:
            return
        future, peer, context, rtt, tracked = popped
        error = iq['type'] == 'error'
        if tracked:
            pong = not error
        else:
            # An error from one's own server still proves it is there.
            pong = (not error or peer.own_host
                    or (self._config['error_is_pong']
                        and self._proves_reachable(iq, peer)))
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
            self.run_callback(context[1], iq)

    @staticmethod
    def _proves_reachable(iq: Iq, peer: Peer) -> bool:
        """error_is_pong: the pinged JID itself answered that it does not
        do XEP-0199 (an error from anyone else, its server say, is no
        sign of it)."""
        return (iq['error']['condition'] in _REACHABLE_CONDITIONS
                and iq['from'] == peer.jid)

    def on_timeout(self, id_: str, future: Future[Any], peer: Peer,
                   context: Any, tracked: bool) -> None:
        """The deadline of a ping passed (called by the table's timer)."""
        if tracked:
            iq, _, timeout_callback = context
        else:
            iq, timeout_callback = self.sent_iq(id_, peer.jid, context), None
        if not future.done():
            future.set_exception(iq_timeout(iq))
        if timeout_callback is not None:
            try:
                self.run_callback(timeout_callback, iq)
            except Exception:
                log.exception('Error in the timeout callback of ping %s',
                              id_)
        self._xmpp.event('ping_timeout', PingTimeout(JID(peer.jid), iq))
