"""The pure-Python core: the specification of the C one, without the tap.

:class:`Peer` is the C ``Peer``: one pinged entity, the senders whose
answers complete its pings, and its statistics (Welford's running mean and
sum of squares).  :class:`PingsInFlight` is the ping half of the C ``Tap``:
the pings in flight in a dict keyed by id, their deadlines in a heap, and
one event-loop timer for all of them.  There is no stream tap: every stanza
goes through slixmpp's own handlers, so the plugin answers pings and
completes pongs as slixmpp's plugin does, and requests go out through the
``send_slow`` path (slixmpp's send queue and filters).

The plugin runs on this core when the extension cannot be imported or
``SLIXMPP_PING_C_NO_EXTENSIONS`` is set (see slixmpp_ping_c.plugin).
"""

from __future__ import annotations

import heapq
import math
import operator
import os
import re
import time
from asyncio import AbstractEventLoop, Future, TimerHandle
from collections.abc import Callable
from typing import Any, SupportsFloat, SupportsIndex

# asyncio may run a timer a little early; deadlines this close count.
_DEADLINE_SLACK = 1e-3
# Our ids: 16 hex digits of a random 64-bit key, never 0 (as in C).
_ID_BYTES = 8
_NO_KEY = '0' * (2 * _ID_BYTES)
# Random bytes drawn at once, for many ids (one system call, not one each).
_RANDOM_BATCH = 1024
# Beyond this many stale heap items, and more of them than live ones, the
# heap is rebuilt: removal stays O(1) amortized and memory O(pending).
_COMPACT_MIN = 64
# Largest timeout accepted, in seconds (as in C).
_MAX_TIMEOUT = 1e9
# What an XML 1.0 document cannot carry (a lone surrogate included).
_NOT_XML_CHAR = re.compile(
    '[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]')
_SURROGATE = re.compile('[\ud800-\udfff]')

#: A timed-out ping's handler, called as the C core calls it:
#: on_timeout(id, future or None, peer, context or None, tracked).
OnTimeout = Callable[..., object]
#: Sends a ping request: send_slow(id, peer, ifrom).
SendSlow = Callable[..., object]

Stats = tuple[int, int, int, float | None, float | None, float | None,
              float | None, float | None]


def _xml_str(value: object, what: str) -> str | None:
    """A str argument that XML can carry (None passes), or the C core's
    TypeError or ValueError."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f'{what} must be str, not {type(value).__name__}')
    if _NOT_XML_CHAR.search(value) is not None:
        if _SURROGATE.search(value) is not None:
            raise ValueError(f'{what} holds a lone surrogate, which XML '
                             'cannot carry')
        raise ValueError(f'{what} holds a character XML cannot carry')
    return value


def _as_double(value: object) -> float:
    """A number as PyFloat_AsDouble() takes it: a float, or anything with
    __float__ or __index__ (not a str)."""
    if isinstance(value, float):
        return value
    if isinstance(value, SupportsFloat):
        return float(value)
    if isinstance(value, SupportsIndex):
        return float(operator.index(value))
    raise TypeError(f'must be real number, not {type(value).__name__}')


def _timeout_arg(value: object) -> float:
    timeout = _as_double(value)
    if not 0.0 <= timeout <= _MAX_TIMEOUT:
        raise ValueError('timeout out of range')
    return timeout


def _jid_parts(full: str) -> tuple[str, str, str]:
    """A JID's full, bare and domain parts, as slixmpp's JID gives them:
    the bare JID ends at the first '/' (neither node nor domain holds one),
    the domain follows its '@' (which a node cannot hold)."""
    bare = full.partition('/')[0]
    _, at, domain = bare.partition('@')
    return (full, bare, domain if at else bare)


class Peer:
    """Peer(jid, to): an entity we ping.

    ``to`` is the JID written in the requests.  ``senders``, the session's
    senders whose answers complete a ping besides the peer itself (one
    tuple shared by the session's peers: nothing is kept per peer), or None
    for anyone; ``allowed`` all of them: those, then ``to``, its bare JID
    and its domain.  ``own_host``: an error answer counts as a pong.
    ``identity`` is the plugin's (an int, or None).  No other attributes.
    """

    __slots__ = ('_identity', '_jid', '_last', '_lost', '_m2', '_max',
                 '_mean', '_min', '_own_host', '_received', '_senders',
                 '_sent', '_to')

    def __init__(self, jid: Any, to: str) -> None:
        if not isinstance(to, str):
            raise TypeError('Peer() argument 2 must be str, not '
                            f'{type(to).__name__}')
        _xml_str(to, 'to')
        self._jid = jid
        # An exact str, as C keeps it (the caller's own when it is one).
        self._to = str.__str__(to)
        self._senders: tuple[str, ...] | None = None
        self._identity: int | None = None
        self._own_host = False
        self._sent = 0
        self._received = 0
        self._lost = 0
        self._last = 0.0
        self._min = math.inf
        self._max = 0.0
        # Welford: the running mean and sum of squared deviations.
        self._mean = 0.0
        self._m2 = 0.0

    @property
    def jid(self) -> Any:
        return self._jid

    @property
    def to(self) -> str:
        return self._to

    @property
    def senders(self) -> tuple[str, ...] | None:
        return self._senders

    @property
    def allowed(self) -> tuple[str, ...] | None:
        if self._senders is None:
            return None
        return self._senders + _jid_parts(self._to)

    @property
    def own_host(self) -> bool:
        return self._own_host

    @property
    def sent(self) -> int:
        return self._sent

    @property
    def identity(self) -> int | None:
        return self._identity

    @identity.setter
    def identity(self, value: int | None) -> None:
        if value is not None and not isinstance(value, int):
            raise TypeError('identity must be int or None, not '
                            f'{type(value).__name__}')
        self._identity = value

    @identity.deleter
    def identity(self) -> None:
        raise TypeError('cannot delete identity')

    def configure(self, senders: tuple[str, ...] | None,
                  own_host: bool) -> None:
        """Set the session's senders whose answers complete a ping besides
        the peer itself (None: anyone) and whether an error answer counts
        as a pong."""
        if senders is not None and not (
                isinstance(senders, tuple)
                and all(isinstance(sender, str) for sender in senders)):
            raise TypeError('senders must be a tuple of str or None')
        self._senders = tuple(senders) if senders is not None else None
        self._own_host = bool(own_host)

    def record(self, rtt: float) -> None:
        """Count a pong that took rtt seconds."""
        value = _as_double(rtt)
        if not (math.isfinite(value) and value >= 0.0):
            raise ValueError('rtt must be a finite number of seconds, 0 or '
                             'more')
        self._received += 1
        self._last = value
        self._min = min(self._min, value)
        self._max = max(self._max, value)
        delta = value - self._mean
        self._mean += delta / self._received
        self._m2 += delta * (value - self._mean)

    def record_lost(self) -> None:
        """Count a ping that got no pong."""
        self._lost += 1

    def stats(self) -> Stats:
        """(sent, received, lost, last, min, avg, max, mdev); the times
        None before the first pong, mdev the population standard deviation
        of the round trip times (statistics.pstdev's)."""
        if self._received == 0:
            return (self._sent, 0, self._lost, None, None, None, None, None)
        mdev = math.sqrt(max(self._m2, 0.0) / self._received)
        return (self._sent, self._received, self._lost, self._last,
                self._min, self._mean, self._max, mdev)


class _Entry:
    """One ping in flight."""

    __slots__ = ('context', 'deadline', 'future', 'id', 'live', 'peer',
                 'sent_at', 'seq', 'tracked')

    def __init__(self, id_: str, peer: Peer, future: Future[Any] | None,
                 context: Any, tracked: bool, sent_at: float,
                 deadline: float, seq: int) -> None:
        self.id = id_
        self.peer = peer
        self.future = future
        self.context = context
        self.tracked = tracked
        # time.monotonic(), for the round trip time.
        self.sent_at = sent_at
        # loop.time(), for the timer.
        self.deadline = deadline
        # Orders equal deadlines by age, as in C.
        self.seq = seq
        # False once removed: its heap item is stale.
        self.live = True


class PingsInFlight:
    """The pings in flight: the ping half of the C ``Tap``, without the
    stream tap.

    ``send_slow(id, peer, ifrom)`` sends a request; ``on_timeout(id,
    future, peer, context, tracked)`` is called for each ping whose
    deadline passed, as the C core calls it.  Deadlines are kept in the
    loop's clock (``loop.call_at``), round trip times in
    ``time.monotonic()``'s.
    """

    def __init__(self, loop: AbstractEventLoop, *, send_slow: SendSlow,
                 on_timeout: OnTimeout) -> None:
        self._loop = loop
        self._send_slow = send_slow
        self._on_timeout = on_timeout
        self._entries: dict[str, _Entry] = {}
        # (deadline, seq, entry): the earliest first; removed entries stay
        # until they reach the top or the heap is compacted.
        self._heap: list[tuple[float, int, _Entry]] = []
        self._next_seq = 0
        self._timer: TimerHandle | None = None
        self._timer_deadline = 0.0
        self._random = b''
        self._random_pos = 0

    # ---- ids ----------------------------------------------------------

    def _new_id(self) -> str:
        """An unpredictable id, not 0 and not in flight."""
        while True:
            if self._random_pos + _ID_BYTES > len(self._random):
                self._random = os.urandom(_RANDOM_BATCH)
                self._random_pos = 0
            start = self._random_pos
            self._random_pos += _ID_BYTES
            id_ = self._random[start:self._random_pos].hex()
            if id_ != _NO_KEY and id_ not in self._entries:
                return id_

    @staticmethod
    def _given_id(id_: object) -> str | None:
        given = _xml_str(id_, 'id')
        if given == '':
            raise ValueError('id must not be empty')
        return given

    # ---- the table ----------------------------------------------------

    def _add(self, peer: Peer, timeout: float, future: Future[Any] | None,
             context: Any, tracked: bool, given: str | None) -> _Entry:
        if given is not None and given in self._entries:
            raise ValueError('a ping with this id is in flight already')
        id_ = given if given is not None else self._new_id()
        self._next_seq += 1
        entry = _Entry(id_, peer, future, context, tracked, time.monotonic(),
                       self._loop.time() + timeout, self._next_seq)
        self._entries[id_] = entry
        heapq.heappush(self._heap, (entry.deadline, entry.seq, entry))
        peer._sent += 1
        return entry

    def _remove(self, entry: _Entry) -> None:
        del self._entries[entry.id]
        entry.live = False
        stale = len(self._heap) - len(self._entries)
        if stale > _COMPACT_MIN and stale > len(self._entries):
            self._heap = [item for item in self._heap if item[2].live]
            heapq.heapify(self._heap)

    def _release(self, entry: _Entry) -> None:
        """Drop what a removed entry holds."""
        entry.future = None
        entry.context = None

    def _earliest(self) -> _Entry | None:
        heap = self._heap
        while heap and not heap[0][2].live:
            heapq.heappop(heap)
        return heap[0][2] if heap else None

    def _entry(self, id_: object) -> _Entry | None:
        return self._entries.get(id_) if isinstance(id_, str) else None

    # ---- the timer ----------------------------------------------------

    def _arm_timer(self) -> None:
        """Keep one timer armed for the earliest deadline.  Pings mostly
        share a timeout, so a new one rarely comes first and the timer
        rarely moves."""
        first = self._earliest()
        if first is None or (self._timer is not None
                             and self._timer_deadline <= first.deadline):
            return
        self._cancel_timer()
        self._timer = self._loop.call_at(first.deadline, self._expire)
        self._timer_deadline = first.deadline

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            timer, self._timer = self._timer, None
            timer.cancel()

    def _expire(self) -> None:
        """The timer's callback: every ping past its deadline times out."""
        self._timer = None
        limit = self._loop.time() + _DEADLINE_SLACK
        # Timeout handlers may send new pings: those wait for the next round.
        budget = len(self._entries)
        while budget > 0:
            budget -= 1
            entry = self._earliest()
            if entry is None or entry.deadline > limit:
                break
            self._remove(entry)
            entry.peer.record_lost()
            try:
                self._on_timeout(entry.id, entry.future, entry.peer,
                                 entry.context, entry.tracked)
            except Exception as exc:
                self._loop.call_exception_handler({
                    'message': f'Exception in on_timeout of ping {entry.id}',
                    'exception': exc,
                })
            self._release(entry)
        self._arm_timer()

    # ---- the Tap's ping methods -----------------------------------------

    def send_ping(self, peer: Peer, ifrom: str | None, timeout: float,
                  id: str | None = None) -> Future[float]:
        """Send a ping, under id or one of ours; the future gets the round
        trip time in seconds."""
        if not isinstance(peer, Peer):
            raise TypeError('peer must be a Peer')
        seconds = _timeout_arg(timeout)
        sender = _xml_str(ifrom, 'ifrom')
        given = self._given_id(id)
        future: Future[float] = self._loop.create_future()
        entry = self._add(peer, seconds, future, sender, False, given)
        try:
            self._send_slow(entry.id, peer, sender)
            self._arm_timer()
        except BaseException:
            # Python code ran: the entry may be gone already.
            if self._entries.get(entry.id) is entry:
                peer._sent -= 1
                self._remove(entry)
                self._release(entry)
            raise
        return future

    def track(self, peer: Peer, timeout: float, future: Future[Any] | None,
              context: Any, id: str | None = None) -> str:
        """The id (id, or a new one of ours) of a ping the caller sends;
        slixmpp completes it."""
        if not isinstance(peer, Peer):
            raise TypeError('peer must be a Peer')
        seconds = _timeout_arg(timeout)
        # cancel_all() cancels it.
        if future is not None and not hasattr(future, 'cancel'):
            raise TypeError('future must be a Future or None, not '
                            f'{type(future).__name__}')
        entry = self._add(peer, seconds, future, context, True,
                          self._given_id(id))
        self._arm_timer()
        return entry.id

    def find(self, id: str) -> Peer | None:
        """The Peer of the ping in flight with this id, or None."""
        entry = self._entry(id)
        return entry.peer if entry is not None else None

    def pop(self, id: str) -> tuple[Future[Any] | None, Peer, Any, float,
                                    bool] | None:
        """Remove the ping with this id: (future, peer, context, rtt,
        tracked), or None."""
        entry = self._entry(id)
        if entry is None:
            return None
        rtt = time.monotonic() - entry.sent_at
        self._remove(entry)
        popped = (entry.future, entry.peer, entry.context, rtt,
                  entry.tracked)
        self._release(entry)
        return popped

    def pending(self) -> int:
        """The number of pings in flight."""
        return len(self._entries)

    def counters(self) -> tuple[int, int]:
        """(pings answered, pongs completed) by the fast path: there is
        none here."""
        return (0, 0)

    def cancel_all(self) -> None:
        """Cancel every ping in flight.  Every ping ends even if a future's
        cancel() raises; the first such error is raised once all are
        gone."""
        first: BaseException | None = None
        for entry in list(self._entries.values()):
            if not entry.live:
                continue
            self._remove(entry)
            future = entry.future
            self._release(entry)
            if future is None:
                continue
            try:
                future.cancel()
            except Exception as exc:
                first = first or exc
        try:
            self._cancel_timer()
        except Exception as exc:
            first = first or exc
        if first is not None:
            raise first

    def forget_cancelled(self) -> int:
        """Drop every ping whose future is cancelled, calling nothing: the
        caller gave up on it.  Each counts as lost, as it would have at its
        deadline (a Peer's sent stays received + lost + in flight).
        Returns how many."""
        cancelled = [entry for entry in self._entries.values()
                     if entry.future is not None and entry.future.cancelled()]
        for entry in cancelled:
            self._remove(entry)
            entry.peer.record_lost()
            self._release(entry)
        if not self._entries:
            self._cancel_timer()
            self._heap.clear()
        return len(cancelled)
