"""XEP-0199 (XMPP Ping) for slixmpp, with the hot path in C.

The plugin is slixmpp's own, line for line where it can be, and a complete
implementation without the C fast path: pings in flight are completed by
one handler whose matcher asks the in-flight table (O(1) per stanza)
instead of one handler per ping.  The C ``Tap`` sits in front of slixmpp's
``data_received`` and answers pings and completes pongs itself, but only
while nothing else would have seen those stanzas.

This module reads as slixmpp's plugin does, public API first; each concern
has a module of its own: ``_fast_path`` (the tap and what it may do, the
only code touching slixmpp's private attributes), ``_completion`` (the
answers and timeouts of our pings on slixmpp's path), ``_keepalive``, and
``_peers`` (the Peer of each JID pinged, PingStats, the limit on pings in
flight).

Without the extension (it cannot be imported, or the environment has
``SLIXMPP_PING_C_NO_EXTENSIONS`` set to a non-empty value when this module
is imported) the plugin runs on the pure-Python core, ``_pycore``: the same
in-flight table without the tap, every stanza going through slixmpp.
"""

from __future__ import annotations

import asyncio
import logging
import os
from asyncio import Future
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from slixmpp.jid import JID
from slixmpp.plugins import BasePlugin
from slixmpp.plugins.xep_0199 import Ping, stanza
from slixmpp.stanza import Iq
from slixmpp.xmlstream import StanzaBase, register_stanza_plugin
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

from slixmpp_ping_c import _pycore
from slixmpp_ping_c._completion import PingCompletion, ResponseHandler
from slixmpp_ping_c._fast_path import (FastPathPermissions, new_tap,
                                       overrides_new_id)
from slixmpp_ping_c._keepalive import Keepalive
from slixmpp_ping_c._peers import Peers, PingStats, PingTimeout, TooManyPings
from slixmpp_ping_c._pycore import PingsInFlight
from slixmpp_ping_c._slixmpp_typed import (disco_info, reply, send_answer,
                                           set_plugin_attribute)

if TYPE_CHECKING:
    from slixmpp_ping_c._core import Tap

__all__ = ['NO_EXTENSIONS', 'XEP_0199', 'PingStats', 'PingTimeout',
           'TooManyPings', 'c_core']

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

        self._start_core(c_core)
        xmpp = self.xmpp

        # Both matchers pass Iq stanzas only, which the handlers take.
        self._ping_handler = Callback(
            'Ping', StanzaPath('iq@type=get/ping'),
            cast('Callable[[StanzaBase], None]', self._handle_ping))
        # Registered while pings of ours are in flight.
        self._responses = ResponseHandler(xmpp, self._pings,
                                          self._handle_response)
        xmpp.register_handler(self._ping_handler)

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

        self._fast_path: FastPathPermissions | None = None
        if self._tap is not None:
            self._fast_path = FastPathPermissions(
                xmpp, self._tap, self._ping_handler, self._responses.callback)
            self._fast_path.install()

    def plugin_end(self) -> None:
        self.xmpp.plugin['xep_0030'].del_feature(feature=Ping.namespace)
        self.xmpp.remove_handler('Ping')
        self._responses.remove()
        for name, handler in self._keepalive_events.items():
            self.xmpp.del_event_handler(name, handler)
        for name, handler in self._session_events.items():
            self.xmpp.del_event_handler(name, handler)
        for name in ('session_start', 'session_end'):
            self.xmpp.del_event_handler(name, self._forget_ping_support)
        self.disable_keepalive()
        if self._fast_path is not None:
            self._fast_path.remove()
        # No ping of an ended plugin completes or times out.
        self._pings.cancel_all()

    def session_bind(self, jid: JID) -> None:
        self.xmpp.plugin['xep_0030'].add_feature(Ping.namespace)
        # BasePlugin calls this before plugin_init when already bound.
        if '_pings' in self.__dict__:
            self._new_identity()

    def _clear_pending_futures(self) -> None:
        """Cancel all pending ping futures"""
        self._keepalive_pinger.clear_pending_futures()

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
        self._keepalive_pinger.start()

    def disable_keepalive(self, event: Any = None) -> None:
        self._keepalive_pinger.stop()

    session_end = disable_keepalive

    async def _keepalive(self, event: Any = None) -> None:
        await self._keepalive_pinger.run(event)

    def _handle_ping(self, iq: Iq) -> None:
        """Automatically reply to ping requests."""
        log.debug("Pinged by %s", iq['from'])
        send_answer(reply(iq))
        if self._fast_path is not None:
            self._fast_path.forget_gone()

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
        # Checked now, as the 'to' is by Peers.peer(): slixmpp's send queue
        # would fail to write it, with the ping already in flight.
        JID(iq.xml.get('from', ''))
        iq.enable('ping')

        peer = self._peers.ping_target(iq['to'])
        future = self.xmpp.loop.create_future()
        # xmpp.Iq() took its id from xmpp.new_id(): kept if overridden.
        given = iq['id'] if overrides_new_id(self.xmpp) else None
        self._responses.expect()
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
        peer = self._peers.ping_target(jid)
        if not timeout:
            timeout = self.config['timeout']
        sender = JID(ifrom).full if ifrom else None

        log.debug('Pinging %s', peer.jid)
        self._responses.expect()
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

    # ---- our additions ----------------------------------------------

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
        gets TooManyPings.  No JID costs a task of its own.
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
        if width == len(targets):
            await self._ping_all(targets, results, sender, timeout)
        else:
            await self._ping_window(targets, results, sender, timeout, width)
        return results

    def _send_for(self, jid: Any, sender: str | None, timeout: float
                  ) -> Future[float]:
        """ping()'s ping, without its coroutine."""
        self._responses.expect()
        return self._pings.send_ping(self._peers.ping_target(jid), sender,
                                     timeout, self._given_id())

    async def _ping_all(self, targets: list[Any], results: dict[Any, Any],
                        sender: str | None, timeout: float) -> None:
        """ping_many() with every ping out at once: no answer has a next
        ping to send, so none needs a callback.  The answers are taken in
        the order sent, most of them there already when the first is (a
        read brings many): one wake-up a read, not one a JID."""
        sent: list[tuple[Any, Future[float]]] = []
        for jid in targets:
            try:
                sent.append((jid, self._send_for(jid, sender, timeout)))
            except Exception as exc:
                results[jid] = exc
        task = asyncio.current_task()
        left = iter(sent)
        try:
            for jid, future in left:
                try:
                    results[jid] = await future
                except asyncio.CancelledError as exc:
                    # The caller's cancelling us (which cancelled the ping
                    # awaited), or the ping's (plugin_end cancels all).
                    if task is not None and task.cancelling():
                        self._cancelled_pings = True
                        raise
                    results[jid] = exc
                except Exception as exc:
                    results[jid] = exc
        finally:
            # Cancelled: the pings still out are the caller's no longer.
            for _, future in left:
                if future.cancel():
                    self._cancelled_pings = True

    async def _ping_window(self, targets: list[Any],
                           results: dict[Any, Any], sender: str | None,
                           timeout: float, width: int) -> None:
        """ping_many() with at most ``width`` pings out: each answer or
        timeout sends the next, from the future's done callback."""
        done = self.xmpp.loop.create_future()
        queue = iter(targets)
        in_flight: dict[Future[float], Any] = {}

        def send_next() -> None:
            for jid in queue:
                try:
                    future = self._send_for(jid, sender, timeout)
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

    def pending(self) -> int:
        """The number of pings in flight."""
        self._forget_cancelled()
        return self._pings.pending()

    def stats(self, jid: Any = None) -> Mapping[JID, PingStats] | PingStats:
        """Statistics of the pings sent: a mapping JID -> PingStats, or the
        PingStats of one JID (KeyError if it was never pinged)."""
        return self._peers.stats(jid)

    # ---- the plugin's own plumbing ----------------------------------

    def _start_core(self, core: ModuleType | None) -> None:
        """The table of pings in flight on the C core (its Tap) or the pure
        core, and what works with it: completion, peers, keepalive."""
        xmpp = self.xmpp
        log.debug('XEP-0199 on the %s core',
                  'C' if core is not None else 'pure-Python')
        self._core: ModuleType = core if core is not None else _pycore
        self._completion = PingCompletion(xmpp, self.config)
        # The C core's Tap holds the pings in flight; the pure core's table
        # (typed as the Tap, whose ping methods it has) has no tap.
        self._tap: Tap | None = None
        if core is None:
            self._pings: Tap = cast('Tap', PingsInFlight(
                xmpp.loop, send_slow=self._completion.send_slow,
                on_timeout=self._completion.on_timeout))
        else:
            self._pings = self._tap = new_tap(
                core, xmpp, self._completion.send_slow,
                self._completion.on_timeout, bool(self.deliver_without_delay))
        self._completion.pings = self._pings
        self._peers = Peers(xmpp, self._core, self.config, self.pending)
        self._keepalive_pinger = Keepalive(self, self._tap)
        # Set when a ping may have been cancelled since the table last
        # dropped the cancelled ones (see _forget_cancelled).
        self._cancelled_pings = False
        # is_ping_supported()'s answers, for this session.
        self._ping_support: dict[JID, bool] = {}

    def __setattr__(self, key: str, value: Any) -> None:
        set_plugin_attribute(self, key, value)
        # The tap reads its copy on every read, not the config.
        tap = self.__dict__.get('_tap')
        if key == 'deliver_without_delay' and tap is not None:
            tap.deliver_without_delay = bool(value)

    def _handle_response(self, iq: Iq) -> None:
        """An answer to one of our pings that slixmpp parsed (the fast path
        did not take it)."""
        if self._fast_path is not None:
            self._fast_path.forget_gone()
        self._completion.handle_response(iq)

    def _new_identity(self, event: Any = None) -> None:
        self._peers.new_identity()
        if self._fast_path is not None:
            self._fast_path.rescan()

    def _forget_ping_support(self, event: Any = None) -> None:
        self._ping_support.clear()

    def _forget_cancelled(self) -> None:
        """Free the slots of the pings whose callers gave up, once after
        any number of them (one pass over the table)."""
        if self._cancelled_pings:
            self._cancelled_pings = False
            self._pings.forget_cancelled()

    def _given_id(self) -> str | None:
        """A new ping's id: xmpp.new_id()'s when overridden, as slixmpp's
        plugin takes all its ids from there; else None, for the C side to
        draw an unpredictable one."""
        return self.xmpp.new_id() if overrides_new_id(self.xmpp) else None
