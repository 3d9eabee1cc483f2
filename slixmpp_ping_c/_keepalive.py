"""The keepalive: a ping to one's own server every interval (or, with
keepalive_idle_only, after an interval with nothing received), retried
keepalive_retries times before the connection is reset."""

from __future__ import annotations

import asyncio
import logging
import time
from asyncio import Future
from typing import TYPE_CHECKING, Any

from slixmpp.exceptions import IqTimeout
from slixmpp.jid import JID

from slixmpp_ping_c._peers import PingTimeout, TooManyPings
from slixmpp_ping_c._slixmpp_typed import (report_exception,
                                           schedule_repeating)

if TYPE_CHECKING:
    from slixmpp_ping_c._core import Tap
    from slixmpp_ping_c.plugin import XEP_0199

log = logging.getLogger(__name__)

_KEEPALIVE = 'Ping keepalive'
# asyncio may run a timer a little early; an idle time this close counts.
_TIMER_SLACK = 1e-3


class Keepalive:
    """The keepalive of one plugin, which it reads its settings from
    (interval, timeout, keepalive_idle_only, keepalive_retries) and pings
    with.  ``tap``: the C core's, which notes when a stanza was last
    received; without it an incoming filter does."""

    def __init__(self, plugin: XEP_0199, tap: Tap | None) -> None:
        self._plugin = plugin
        self._xmpp = plugin.xmpp
        self._tap = tap
        self._pending_futures: list[Future[None]] = []
        # Keepalive pings unanswered in a row.
        self.misses = 0
        # The pure core, for keepalive_idle_only: when a stanza was last
        # received, noted by an incoming filter while the keepalive runs.
        self._received_at = 0.0
        self._noting_received = False

    def start(self) -> None:
        """Schedule the keepalive with the plugin's settings."""
        plugin = self._plugin
        self.misses = 0
        if plugin.keepalive_idle_only:
            if _KEEPALIVE in self._xmpp.scheduled_events:
                raise ValueError('There is already a scheduled event of '
                                 'name: %s' % _KEEPALIVE)
            if self._tap is None and not self._noting_received:
                self._xmpp.add_filter('in', self._note_received)
                self._noting_received = True
            self._schedule_idle_check(plugin.interval)
        else:
            schedule_repeating(self._xmpp, _KEEPALIVE, plugin.interval,
                               self.tick)

    def stop(self) -> None:
        self.clear_pending_futures()
        self._xmpp.cancel_schedule(_KEEPALIVE)
        if self._noting_received:
            self._noting_received = False
            self._xmpp.del_filter('in', self._note_received)

    def clear_pending_futures(self) -> None:
        """Cancel all pending ping futures"""
        if self._pending_futures:
            log.debug('Clearing %s pending pings', len(self._pending_futures))
            for future in self._pending_futures:
                future.cancel()
            self._pending_futures.clear()

    def tick(self, event: Any = None) -> None:
        """Time for a keepalive ping (the plugin's _keepalive())."""
        # Cleanup futures
        self._pending_futures = [
            future for future in self._pending_futures
            if not future.done()
        ]
        if self.misses and self._pending_futures:
            # Retrying: one series of keepalive pings at a time.
            return
        future = asyncio.ensure_future(
            self._plugin._keepalive(event),
            loop=self._xmpp.loop,
        )
        self._pending_futures.append(future)

    def _schedule_idle_check(self, delay: float) -> None:
        """Check for idleness after delay seconds.  The handle goes where
        slixmpp's schedule() keeps it, so that cancel_schedule() cancels
        it; schedule() itself would forget a handle rescheduled from its
        own callback."""
        xmpp = self._xmpp
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
        interval = self._plugin.interval
        delay = interval - idle
        if delay <= _TIMER_SLACK:
            try:
                self.tick()
            except Exception as exc:
                report_exception(self._xmpp, exc)
            delay = interval
        self._schedule_idle_check(delay)

    def _note_received(self, stanza: Any) -> Any:
        """An incoming filter (the pure core, keepalive_idle_only): a
        stanza was received; it goes on untouched."""
        self._received_at = time.monotonic()
        return stanza

    async def run(self, event: Any = None) -> None:
        """One keepalive ping, retried while keepalive_retries allows; the
        last unanswered one resets the connection."""
        plugin = self._plugin
        xmpp = self._xmpp
        log.debug("Keepalive ping...")
        ifrom = None
        if xmpp.is_component:
            ifrom = xmpp.boundjid
        while True:
            try:
                rtt = await plugin.ping(
                    xmpp.boundjid.host,
                    timeout=plugin.timeout,
                    ifrom=ifrom
                )
            except IqTimeout as timeout:
                self.misses += 1
                if self.misses < plugin.keepalive_retries:
                    log.debug("Keepalive ping %d of %d unanswered, "
                              "retrying.", self.misses,
                              plugin.keepalive_retries)
                    continue
                self.misses = 0
                log.debug("Did not receive ping back in time. "
                          "Requesting Reconnect.")
                xmpp.event('keepalive_failed', PingTimeout(
                    JID(xmpp.boundjid.host), timeout.iq))
                xmpp.reconnect(0.0, "Ping timeout after %ds" % plugin.timeout)
            except TooManyPings as full:
                # No room for it: no sign of a dead link either.
                log.warning('Keepalive ping not sent: %s', full)
            else:
                self.misses = 0
                log.debug('Keepalive RTT: %s', rtt)
            return
