"""The peers pinged: one Peer per JID, set up for the current session, with
its statistics (PingStats), and the limit on pings in flight."""

from __future__ import annotations

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


def session_senders(own: JID) -> tuple[str, ...]:
    """The senders MatchIDSender accepts for the session whatever the
    peer: none (''), our bare JID and our domain."""
    return ('', own.bare, own.domain)


def session_jid(senders: tuple[str, ...]) -> JID:
    """A JID with the bare JID and domain of session_senders()' JID."""
    return JID(senders[1])


class Peers:
    """The Peer of each ping target: by the name the caller gave (a cache),
    and by the full JID pinged, least recently pinged first (the
    statistics, at most ``stats_max_peers`` of them).

    A gateway pings thousands of JIDs, so a Peer holds nothing of the
    session: what it derives from it (the senders that may answer, as
    slixmpp's MatchIDSender has them) is one tuple for all."""

    def __init__(self, xmpp: BaseXMPP, core: ModuleType,
                 config: Mapping[str, Any], pending: Callable[[], int]
                 ) -> None:
        self._xmpp = xmpp
        self._core = core
        # The plugin's, read at each ping: the application may change it.
        self._config = config
        self._pending = pending
        self.by_name: dict[Any, Peer] = {}
        # A plain dict, in insertion order: moving a peer to the end is
        # popping and adding it (an OrderedDict costs twice the memory).
        self.by_jid: dict[str, Peer] = {}
        # Its last key: the peer most recently pinged, moved no further.
        self._newest: str | None = None
        # Bumped whenever what a Peer derives from the session may change.
        self.identity = 0
        # The current identity's senders (Peer.configure), made once.
        self._senders: tuple[str, ...] | None = None
        self._senders_identity: int | None = None

    def new_identity(self) -> None:
        self.identity += 1

    def _session_senders(self) -> tuple[str, ...] | None:
        """Iq.send's matcher, once a session: MatchIDSender's own senders
        ('', our bare JID, our domain; the peer adds its own) once the
        session is bound, MatcherId's any sender (None) before."""
        if self._senders_identity != self.identity:
            self._senders = (session_senders(self._xmpp.boundjid)
                             if self._xmpp.session_bind_event.is_set()
                             else None)
            self._senders_identity = self.identity
        return self._senders

    def _named(self, jid: Any) -> Peer | None:
        """The Peer last set up for a name, current or not: a full JID as
        a str is found by itself, any other name through the cache."""
        if type(jid) is str:
            return self.by_jid.get(jid) or self.by_name.get(jid)
        return self.by_name.get(jid)

    def peer(self, jid: Any) -> Peer:
        """The Peer for a ping target as the caller named it (None: the
        server), set up for the current session."""
        named = self._named(jid)
        if named is not None and named.identity == self.identity:
            return named
        xmpp = self._xmpp
        # slixmpp's plugin pings xmpp.server for a component: the same
        # value (boundjid.server), without its deprecation warning.
        target = JID(jid or xmpp.boundjid.host)
        full = target.full
        peer = self.by_jid.get(full)
        if peer is None:
            # The caller's own str when it is the JID already; and no JID
            # object kept (a JID per peer is 56 B, and more on slixmpp's
            # Rust heap): one is made where a JID is wanted.
            to = jid if type(jid) is str and jid == full else full
            made: Peer = self._core.Peer(to, to)
            self._remember(made)
            peer = made
        peer.configure(self._session_senders(),
                       target == xmpp.boundjid.host)
        peer.identity = self.identity
        if type(jid) is not str or self.by_jid.get(jid) is not peer:
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
        self._newest = peer.to
        while len(peers) > max(self._config['stats_max_peers'], 1):
            dropped = peers.pop(next(iter(peers)))
            # Never current again: the names cached for it miss.
            dropped.identity = None

    def ping_target(self, jid: Any) -> Peer:
        """The Peer to ping for ``jid`` as ping() names it, once there is
        room for one more ping in flight."""
        limit = self._config['max_pending']
        if limit is not None and self._pending() >= limit:
            raise TooManyPings(limit)
        # self._named(jid), inlined: once a ping.
        if type(jid) is str:
            peer = self.by_jid.get(jid) or self.by_name.get(jid)
        else:
            peer = self.by_name.get(jid)
        if peer is None or peer.identity != self.identity:
            peer = self.peer(jid)
        to = peer.to
        if to is not self._newest:
            # The most recently pinged last.
            peers = self.by_jid
            peers[to] = peers.pop(to)
            self._newest = to
        return peer

    def stats(self, jid: Any = None) -> Mapping[JID, PingStats] | PingStats:
        """A mapping JID -> PingStats, or the PingStats of one JID
        (KeyError if it was never pinged)."""
        if jid is None:
            return {JID(to): PingStats(*peer.stats())
                    for to, peer in self.by_jid.items()}
        return PingStats(*self.by_jid[JID(jid).full].stats())
