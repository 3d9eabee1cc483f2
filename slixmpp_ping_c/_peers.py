"""The peers pinged: one Peer per JID, set up for the current session, with
its statistics (PingStats), and the limit on pings in flight."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

from slixmpp.basexmpp import BaseXMPP
from slixmpp.jid import JID
from slixmpp.stanza import Iq

if TYPE_CHECKING:
    from slixmpp_ping_c._core import Peer


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


class Peers:
    """The Peer of each ping target: by the name the caller gave (a cache),
    and by the full JID pinged, least recently pinged first (the
    statistics, at most ``stats_max_peers`` of them)."""

    def __init__(self, xmpp: BaseXMPP, core: ModuleType,
                 config: Mapping[str, Any], pending: Callable[[], int]
                 ) -> None:
        self._xmpp = xmpp
        self._core = core
        # The plugin's, read at each ping: the application may change it.
        self._config = config
        self._pending = pending
        self.by_name: dict[Any, Peer] = {}
        self.by_jid: OrderedDict[str, Peer] = OrderedDict()
        # Bumped whenever what a Peer derives from the session may change.
        self.identity = 0

    def new_identity(self) -> None:
        self.identity += 1

    def peer(self, jid: Any) -> Peer:
        """The Peer for a ping target as the caller named it (None: the
        server), set up for the current session."""
        peer = self.by_name.get(jid)
        if peer is not None and peer.identity == self.identity:
            return peer
        xmpp = self._xmpp
        # slixmpp's plugin pings xmpp.server for a component: the same
        # value (boundjid.server), without its deprecation warning.
        target = JID(jid or xmpp.boundjid.host)
        peer = self.by_jid.get(target.full)
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
        peer.identity = self.identity
        if len(self.by_name) >= self._config['stats_max_peers']:
            # Names for peers dropped since, perhaps: start afresh.
            self.by_name.clear()
        self.by_name[jid] = peer
        return peer

    def _remember(self, peer: Peer) -> None:
        """Keep a new peer's statistics, dropping those of the least
        recently pinged peers beyond stats_max_peers."""
        peers = self.by_jid
        peers[peer.to] = peer
        while len(peers) > max(self._config['stats_max_peers'], 1):
            _, dropped = peers.popitem(last=False)
            # Never current again: the names cached for it miss.
            dropped.identity = None

    def ping_target(self, jid: Any) -> Peer:
        """The Peer to ping for ``jid`` as ping() names it, once there is
        room for one more ping in flight."""
        limit = self._config['max_pending']
        if limit is not None and self._pending() >= limit:
            raise TooManyPings(limit)
        peer = self.by_name.get(jid)
        if peer is None or peer.identity != self.identity:
            peer = self.peer(jid)
        self.by_jid.move_to_end(peer.to)
        return peer

    def stats(self, jid: Any = None) -> Mapping[JID, PingStats] | PingStats:
        """A mapping JID -> PingStats, or the PingStats of one JID
        (KeyError if it was never pinged)."""
        if jid is None:
            return {peer.jid: PingStats(*peer.stats())
                    for peer in self.by_jid.values()}
        return PingStats(*self.by_jid[JID(jid).full].stats())
