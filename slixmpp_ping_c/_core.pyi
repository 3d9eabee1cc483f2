"""The C core: XEP-0199 stanzas parsed with libxml2, and the stream tap."""

import asyncio
import logging
from asyncio import AbstractEventLoop, Future
from collections.abc import Callable
from typing import Any, final

def parse_stanza(data: bytes) -> dict[str, Any]:
    """name, type, id, from, to, lang (str or None) and is_ping (bool)."""
def build_ping(id: str, to: str, ifrom: str | None = None) -> bytes: ...
def build_result(id: str, to: str | None, ifrom: str | None = None,
                 lang: str | None = None) -> bytes: ...
def reply_to_ping(data: bytes) -> bytes | None: ...

@final
class Peer:
    # Made whole by Peer(jid, to): no __init__ to run again, no subclass.
    @property
    def jid(self) -> Any: ...
    @property
    def to(self) -> str: ...
    # the session's senders (one tuple for all its peers), None: anyone
    @property
    def senders(self) -> tuple[str, ...] | None: ...
    # senders, then to, its bare JID and its domain (MatchIDSender's)
    @property
    def allowed(self) -> tuple[str, ...] | None: ...
    @property
    def own_host(self) -> bool: ...
    @property
    def sent(self) -> int: ...
    # set by the plugin (None: dropped from stats()); no other attribute
    identity: int | None
    def __new__(cls, jid: Any, to: str) -> Peer: ...
    def configure(self, senders: tuple[str, ...] | None,
                  own_host: bool) -> None: ...
    def record(self, rtt: float) -> None: ...  # ValueError unless finite, >= 0
    def record_lost(self) -> None: ...
    # (sent, received, lost, last, min, avg, max, mdev): avg and mdev by
    # Welford's method, mdev as statistics.pstdev() of every round trip
    def stats(self) -> tuple[int, int, int, float | None, float | None,
                             float | None, float | None, float | None]: ...

@final
class Tap:
    # Made whole by Tap(...): no __init__ to run again, no subclass.  The
    # settable attributes refuse deletion and other types (TypeError).
    answer_pings: bool
    complete_pongs: bool
    direct_send: bool
    # flush slixmpp's parser after each read that ends a stanza (expat >= 2.6)
    deliver_without_delay: bool
    # expat >= 2.6: parsing may wait for more input
    reparse_deferral: bool
    # None, or an object with incoming() and outgoing(type, id, to, ifrom,
    # lang)
    sm: Any
    # time.monotonic() of the last stanza received; 0.0 before the first
    @property
    def received_at(self) -> float: ...
    def __new__(cls, xmpp: Any, feed: Callable[[bytes], None],
                 loop: AbstractEventLoop, *, default_ns: str,
                 component: bool, log: logging.Logger,
                 send_queue: asyncio.Queue[Any],
                 normalize_jid: Callable[[str], str | None],
                 send_slow: Callable[[str, Peer, str | None], None],
                 on_timeout: Callable[[str, Future[Any], Peer, Any, bool],
                                      None],
                 # names of slixmpp's private attributes (see _fast_path)
                 session_flags: tuple[str, ...], queue_unfinished: str,
                 parser_events: str) -> Tap: ...
    def __call__(self, data: bytes | str) -> None: ...
    # id: the ping's id (xmpp.new_id() when overridden); None: one of ours
    def send_ping(self, peer: Peer, ifrom: str | None, timeout: float,
                  id: str | None = None) -> Future[float]: ...
    def track(self, peer: Peer, timeout: float, future: Future[Any] | None,
              context: Any, id: str | None = None) -> str: ...
    def find(self, id: str) -> Peer | None: ...
    def pop(self, id: str) -> tuple[Future[Any], Peer, Any, float,
                                    bool] | None: ...
    def pending(self) -> int: ...
    def counters(self) -> tuple[int, int]: ...
    # registered mid-stream: start where the stream can be followed
    def join_stream(self) -> None: ...
    # writes now what the fast path wrote this turn of the event loop
    def flush(self) -> None: ...
    def cancel_all(self) -> None: ...
    # drops the pings whose future is cancelled, calling nothing, each
    # counted lost (Peer.record_lost); how many
    def forget_cancelled(self) -> int: ...
