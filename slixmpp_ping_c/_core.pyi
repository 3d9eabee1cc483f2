"""The C core: XEP-0199 stanzas parsed with libxml2, and the stream tap."""

import asyncio
import logging
from asyncio import AbstractEventLoop, Future
from collections.abc import Callable
from typing import Any

def parse_stanza(data: bytes) -> dict[str, Any]:
    """name, type, id, from, to, lang (str or None) and is_ping (bool)."""
def build_ping(id: str, to: str, ifrom: str | None = None) -> bytes: ...
def build_result(id: str, to: str | None, ifrom: str | None = None,
                 lang: str | None = None) -> bytes: ...
def reply_to_ping(data: bytes) -> bytes | None: ...

class Peer:
    jid: Any
    to: str
    allowed: tuple[str, ...] | None
    own_host: bool
    sent: int
    # set by the plugin (identity None: dropped from stats())
    identity: int | None
    self_jid: Any
    def __init__(self, jid: Any, to: str) -> None: ...
    def configure(self, allowed: tuple[str, ...] | None,
                  own_host: bool) -> None: ...
    def record(self, rtt: float) -> None: ...  # ValueError unless finite, >= 0
    def record_lost(self) -> None: ...
    def stats(self) -> tuple[int, int, int, float | None, float | None,
                             float | None, float | None, float | None]: ...

class Tap:
    answer_pings: bool
    complete_pongs: bool
    direct_send: bool
    # flush slixmpp's parser after each read that ends a stanza (expat >= 2.6)
    deliver_without_delay: bool
    # expat >= 2.6: parsing may wait for more input
    reparse_deferral: bool
    sm: Any
    # time.monotonic() of the last stanza received; 0.0 before the first
    @property
    def received_at(self) -> float: ...
    def __init__(self, xmpp: Any, feed: Callable[[bytes], None],
                 loop: AbstractEventLoop, *, default_ns: str,
                 component: bool, log: logging.Logger,
                 send_queue: asyncio.Queue[Any],
                 normalize_jid: Callable[[str], str | None],
                 send_slow: Callable[[str, Peer, str | None], None],
                 on_timeout: Callable[[str, Future[Any], Peer, Any, bool],
                                      None]) -> None: ...
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
    def cancel_all(self) -> None: ...
    # drops the pings whose future is cancelled, calling nothing, each
    # counted lost (Peer.record_lost); how many
    def forget_cancelled(self) -> int: ...
