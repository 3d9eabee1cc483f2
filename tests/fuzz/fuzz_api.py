"""Atheris harness for the public API of slixmpp_ping_c._core: Tap, Peer and
the functions on single stanzas, driven by arbitrary call sequences.

An input is a program, read a byte at a time (``Program``): each step
picks an operation and its arguments (odd ones included: objects built
with ``__new__`` and no ``__init__``, ``__init__`` run again, attributes
set to anything or deleted, strings XML cannot carry).  Every callable the
tap is given, and every attribute it reads from the objects it is given
(the stream's parser, transport, send queue, log, Stream Management, the
loop's futures and timer handles), is a hook: it reads the program's next
byte, and a non-zero byte makes it run another operation from inside the
call (send a ping, pop one, cancel all, re-initialise a Peer, feed the tap
again, drop objects, collect garbage), raise, or return something odd.
The fakes are tiny and deterministic; a Tap may also run on a real
asyncio loop, stepped once by an operation.  A program that runs out of
bytes reads zeros: 0 is the harmless choice everywhere.

What fails the run: a crash or sanitizer report (make fuzz loads the
module built with AddressSanitizer and UBSan), a SystemError (a C
function that returned NULL without an exception, or a value with one),
and the one oracle: a Tap whose ``__init__`` succeeded still answers a
ping in C once its stream restarts with everything set as the plugin sets
it (``probe()``, after every program).

FUZZ_API_EXCLUDE (say "1,2") leaves out what reaches the known defects of
issue 11, to time each alone or look past them:
  1  Tap.__new__ with no __init__, or a Tap whose __init__ failed, used;
  2  a Peer with no __init__ (Peer.__new__, a subclass skipping it);
  3  ``del tap.sm``;
  4  a Peer re-initialised from inside a call into the core;
  5  Tap.__init__ run again after it failed;
and what it found besides them (tests/fuzz/found/ reproduces each):
  N1 slixmpp's parser or transport replaced, gone, or failing to be read,
     and the stream changed, from inside a call (send_ping writes through
     the transport's write() that a re-entrant read or join_stream() made
     the tap drop);
  N2 operations from inside the timer's call_later() and cancel() (track
     undoes an entry that the timer's callback run there released).

Run by ``make fuzz`` with the module built with AddressSanitizer and
libFuzzer's coverage (FUZZ_CORE names it); without FUZZ_CORE it uses the
module built in place.  ``run(data)`` runs one program, for regression
tests (``python fuzz_api.py --replay FILE...``); ``python fuzz_api.py
--write-seeds DIR`` writes the seed corpus.
"""
from __future__ import annotations

import asyncio
import gc
import os
import re
import sys
import typing
import xml.etree.ElementTree as ET

from instrumented import load_core

load_core()

from slixmpp_ping_c import _core  # noqa: E402
from slixmpp_ping_c._core import Peer, Tap  # noqa: E402
from slixmpp_ping_c._fast_path import TAP_PRIVATE_NAMES  # noqa: E402

# typing is imported whole, as in fuzz_tap.py (a frame LeakSanitizer
# reports on Python 3.13.0 otherwise).
Any = typing.Any
Callable = typing.Callable

CLIENT_NS = 'jabber:client'
COMPONENT_NS = 'jabber:component:accept'
STREAM_NS = 'http://etherx.jabber.org/streams'
# How deep hooks may nest operations inside calls into the core.
MAX_DEPTH = 3
# Operations in one program, at the top level.
MAX_STEPS = 48
# Objects of each kind a program keeps.
MAX_OBJECTS = 8
ID_RE = re.compile(rb"id=['\"]([^'\"]*)['\"]")


def _excluded() -> frozenset[int | str]:
    spec = os.environ.get('FUZZ_API_EXCLUDE', '')
    return frozenset(int(part) if part.strip().isdigit() else part.strip()
                     for part in spec.split(',') if part.strip())


EXCLUDED = _excluded()
TRACE = bool(os.environ.get('FUZZ_API_TRACE'))


class Boom(Exception):
    """What a hook raises."""


class BaseBoom(BaseException):
    """What a hook raises that is no Exception (as KeyboardInterrupt)."""


class BadBool:
    """A value whose truth cannot be told."""

    def __bool__(self) -> bool:
        raise Boom('bool')


class Program:
    """The input, read a byte at a time; zeros once it runs out."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def exhausted(self) -> bool:
        return self.pos >= len(self.data)

    def pick(self, options: typing.Sequence[Any]) -> Any:
        return options[self.byte() % len(options)]

    def blob(self, limit: int = 64) -> bytes:
        n = min(self.byte() % (limit + 1), len(self.data) - self.pos)
        self.pos += n
        return self.data[self.pos - n:self.pos]


# ---- the program's state and its hooks --------------------------------

class Run:
    """One program's objects.  Hooks reach it through Active.run."""

    def __init__(self, data: bytes) -> None:
        self.program = Program(data)
        self.depth = 0
        self.quiet = False          # hooks do nothing (the probe)
        self.peers: list[Any] = []
        self.taps: list[TapSetup] = []
        self.broken_taps: list[TapSetup] = []   # __new__ only, or failed
        self.ids: list[str] = []
        self.futures: list[Any] = []
        self.handles: list[Any] = []
        self.real_handles: list[asyncio.Handle] = []
        self.system_errors: list[BaseException] = []
        self.events: set[str] = set()   # what the program got to (seeds)

    def remember(self, pool: list[Any], obj: Any) -> None:
        pool.append(obj)
        if len(pool) > MAX_OBJECTS:
            del pool[0]

    def learn_ids(self, data: bytes) -> None:
        for match in ID_RE.finditer(data):
            self.remember(self.ids, match.group(1).decode(errors='replace'))


class Active:
    """The program running now, for the hooks."""
    run = Run(b'')


def event(name: str) -> None:
    """The program got to something (not the oracle's doing)."""
    if not Active.run.quiet:
        Active.run.events.add(name)
ODD_VALUES: tuple[Any, ...] = (None, 42, 'text', b'bytes', BadBool())


def hook(normal: Any = None, stream: bool = False, timer: bool = False
         ) -> Any:
    """A call from the core into Python: nothing, a nested operation, an
    exception, or an odd value instead of the normal one (stream: the
    value is slixmpp's parser or transport; timer: the call arms or
    cancels the core's timer)."""
    run = Active.run
    if run.quiet or run.depth >= MAX_DEPTH:
        return normal
    choice = run.program.byte()
    if stream and 'N1' in EXCLUDED:
        return normal
    if choice < 0x80:
        return normal
    if TRACE:
        print('  ' * run.depth + f'hook {sys._getframe(1).f_code.co_name}: '
              f'{choice:#x}', file=sys.stderr, flush=True)
    if choice < 0xc0:
        if timer and 'N2' in EXCLUDED:
            return normal
        event('nested-call')
        run.depth += 1
        try:
            step(run)
        finally:
            run.depth -= 1
        return normal
    event('hook-raised')
    if choice < 0xe0:
        raise Boom('hook')
    if choice < 0xe8:
        raise BaseBoom('hook')
    return ODD_VALUES[choice % len(ODD_VALUES)]


class Future:
    """asyncio.Future's part the core uses."""

    def __init__(self) -> None:
        self.state = 'pending'

    def set_result(self, value: Any) -> None:
        event('pong-completed')
        hook()
        if self.state != 'pending':
            raise asyncio.InvalidStateError(self.state)
        self.state = 'done'

    def set_exception(self, exc: BaseException) -> None:
        hook()
        self.state = 'done'

    def cancel(self, msg: Any = None) -> Any:
        event('cancelled')
        if self.state != 'pending':
            return hook(False)
        self.state = 'cancelled'
        return hook(True)

    def cancelled(self) -> Any:
        return hook(self.state == 'cancelled')

    def done(self) -> Any:
        return hook(self.state != 'pending')


class Handle:
    """A timer handle; the callback runs when the program fires it."""

    def __init__(self, callback: Callable[..., Any], args: tuple[Any, ...]
                 ) -> None:
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> Any:
        self.cancelled = True
        return hook(timer=True)


class Loop:
    """The loop's part the core uses: futures and timers."""

    def create_future(self) -> Any:
        future = hook(Future())
        Active.run.remember(Active.run.futures, future)
        return future

    def call_later(self, delay: float, callback: Callable[..., Any],
                   *args: Any) -> Any:
        handle = hook(Handle(callback, args), timer=True)
        Active.run.remember(Active.run.handles, handle)
        return handle

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> Any:
        return self.call_later(0.0, callback, *args)


REAL_LOOP = asyncio.new_event_loop()
REAL_LOOP.set_exception_handler(lambda loop, context: None)


class RealLoop:
    """A real asyncio loop behind hooks; run a step by an operation."""

    def create_future(self) -> Any:
        future = hook(REAL_LOOP.create_future())
        Active.run.remember(Active.run.futures, future)
        return future

    def call_later(self, delay: float, callback: Callable[..., Any],
                   *args: Any) -> Any:
        handle = REAL_LOOP.call_later(delay, callback, *args)
        Active.run.remember(Active.run.handles, handle)
        Active.run.real_handles.append(handle)
        return hook(handle, timer=True)

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> Any:
        handle = REAL_LOOP.call_soon(callback, *args)
        Active.run.remember(Active.run.handles, handle)
        Active.run.real_handles.append(handle)
        return hook(handle, timer=True)


class Parser:
    """slixmpp's XMLPullParser, every method a hook."""

    def __init__(self) -> None:
        self.inner = ET.XMLPullParser(('start', 'end'))

    def feed(self, data: bytes) -> None:
        hook()
        self.inner.feed(data)

    def read_events(self) -> Any:
        hook()
        return self.inner.read_events()

    def flush(self) -> None:
        hook()
        flush = getattr(self.inner, 'flush', None)
        if flush is not None:
            flush()

    @property
    def _events_queue(self) -> Any:
        return hook(self.inner._events_queue)  # type: ignore[attr-defined]


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)
        Active.run.learn_ids(data)
        event('ping-answered' if b"'result'" in data
                       or b'"result"' in data else 'ping-written')
        hook()


class SendQueue:
    @property
    def _unfinished_tasks(self) -> Any:
        return hook(0)


class Log:
    def isEnabledFor(self, level: int) -> Any:
        return hook(False)


class StreamManagement:
    def incoming(self) -> None:
        hook()

    def outgoing(self, *args: Any) -> None:
        hook()


class Xmpp:
    """slixmpp's XMLStream as the tap sees it; data_received parses as
    slixmpp's does, without dispatching."""

    def __init__(self) -> None:
        self._parser: Any = Parser()
        self._transport: Any = Transport()
        self.session = True
        self.depth = 0
        self.root: Any = None

    parser = property(lambda self: hook(self._parser, stream=True))
    transport = property(lambda self: hook(self._transport, stream=True))
    _session_started = property(lambda self: hook(self.session))
    _always_send_everything = property(lambda self: hook(False))
    xml_depth = property(lambda self: hook(self.depth))
    xml_root = property(lambda self: hook(self.root))

    def restart(self, parser: bool = True) -> None:
        self._parser = Parser() if parser else None
        self.depth = 0
        self.root = None

    def data_received(self, data: Any) -> None:
        hook()
        parser = self._parser
        if parser is None:
            return
        parser.feed(data)
        try:
            for event, xml in parser.read_events():
                if event == 'start':
                    if self.depth == 0:
                        self.root = xml
                    self.depth += 1
                elif event == 'end':
                    self.depth -= 1
                    if self.depth == 1 and self.root is not None:
                        self.root.clear()
        except ET.ParseError:
            pass


def normalize_jid(jid: str) -> Any:
    return hook(jid)


def send_slow(id_: str, peer: Any, ifrom: Any) -> None:
    Active.run.remember(Active.run.ids, id_)
    event('ping-sent-slow')
    hook()


def on_timeout(*args: Any) -> None:
    event('timed-out')
    hook()


class TapSetup:
    """A Tap and what it was given; standard: as the plugin makes it, so
    that probe() may expect its fast path to work."""

    def __init__(self, tap: Any, xmpp: Xmpp, ns: str | None,
                 standard: bool, failed: bool = False) -> None:
        self.tap = tap
        self.xmpp = xmpp
        self.ns = ns
        self.standard = standard
        self.failed = failed        # its __init__ ran and failed


# ---- arguments ----------------------------------------------------------

def text(program: Program) -> Any:
    """A str built now (never a shared constant: freeing it must free it),
    or now and then something else."""
    kind = program.byte() % 8
    base = program.blob(24)
    if kind < 4:
        return ''.join(['peer', str(kind), '@example.com/',
                        base.decode('ascii', 'replace')])
    if kind == 4:
        return base.decode('utf-8', 'surrogateescape')
    if kind == 5:
        return base.decode('latin-1') + '\u00e9\U0001f600'
    if kind == 6:
        return ''.join(['x'] * (program.byte() * 8))
    return program.pick((None, 42, b'bytes', ('t',), 'a\x00b', 'a\ufffeb'))


def timeout(program: Program) -> Any:
    return program.pick((0.0, 0.0, 60.0, 1e-9, 0, 1e9, 2e9, -1.0,
                         float('nan'), float('inf'), '1', None))


def pick_peer(run: Run) -> Any:
    if not run.peers or run.program.byte() % 8 == 7:
        return run.program.pick((None, 42, 'peer', Peer))
    return run.program.pick(run.peers)


def pick_tap(run: Run) -> TapSetup | None:
    pool = run.taps
    if 1 not in EXCLUDED:
        pool = pool + run.broken_taps
    return run.program.pick(pool) if pool else None


def pick_id(run: Run) -> Any:
    if run.ids and run.program.byte() % 4 != 3:
        return run.program.pick(run.ids)
    return text(run.program)


def attempt(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Calls fn; what it raises is fine, save what only a bug raises."""
    try:
        return fn(*args, **kwargs)
    except SystemError:
        raise
    except (Exception, BaseBoom):
        return None


def call_method(obj: Any, name: str) -> Any:
    """obj.name(), obj being anything a hook may have returned."""
    return getattr(obj, name)()


# ---- operations ----------------------------------------------------------

def op_new_peer(run: Run) -> None:
    p = run.program
    jid, to = text(p), text(p)
    peer = attempt(Peer, jid, to) if p.byte() % 4 else attempt(Peer, to=to,
                                                               jid=jid)
    if peer is not None:
        attempt(peer.configure, (text(p),) if p.byte() & 1 else None,
                bool(p.byte() & 1))
        run.remember(run.peers, peer)


def skipping_subclass() -> type:
    """A subclass of Peer whose __init__ does not call Peer's (TypeError
    where Peer cannot be subclassed)."""
    class Skipping(Peer):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any) -> None:
            pass
    return Skipping


def op_peer_without_init(run: Run) -> None:
    if 2 in EXCLUDED:
        return
    p = run.program
    if p.byte() & 1:
        peer = attempt(Peer.__new__, Peer)
    else:
        cls = attempt(skipping_subclass)
        peer = attempt(cls) if cls is not None else None
    if peer is not None:
        run.remember(run.peers, peer)


def op_peer_reinit(run: Run) -> None:
    if (run.depth > 0 and 4 in EXCLUDED) or not run.peers:
        return
    p = run.program
    peer = p.pick(run.peers)
    attempt(peer.__init__, text(p), text(p))


def op_peer_calls(run: Run) -> None:
    if not run.peers:
        return
    p = run.program
    peer = p.pick(run.peers)
    what = p.byte() % 8
    if what == 0:
        senders = p.pick((None, (), ('example.com',), ('a', 'b'), (1,), [],
                          'example.com'))
        attempt(peer.configure, senders, p.pick((True, False, BadBool())))
    elif what == 1:
        attempt(peer.record, timeout(p))
    elif what == 2:
        attempt(peer.record_lost)
    elif what == 3:
        attempt(peer.stats)
    elif what == 4:
        for name in ('jid', 'to', 'senders', 'allowed', 'own_host', 'sent',
                     'identity', '__dict__'):
            attempt(getattr, peer, name)
    elif what == 5:
        attempt(setattr, peer, p.pick(('identity', 'self_jid', 'to', 'sent',
                                       'jid')), p.pick((text(p), 3, None)))
    elif what == 6:
        attempt(delattr, peer, p.pick(('identity', 'to', 'senders', 'allowed',
                                       'jid')))
    else:
        attempt(repr, peer)


def tap_kwargs(run: Run, xmpp: Xmpp, standard: bool) -> dict[str, Any]:
    p = run.program
    ns = p.pick((CLIENT_NS, COMPONENT_NS)) if standard else text(p)
    kwargs: dict[str, Any] = {
        'default_ns': ns, 'component': ns == COMPONENT_NS, 'log': Log(),
        'send_queue': SendQueue(), 'normalize_jid': normalize_jid,
        'send_slow': send_slow, 'on_timeout': on_timeout,
        **TAP_PRIVATE_NAMES}
    if not standard:
        # One argument odd: the rest as usual.
        name = p.pick(('log', 'send_queue', 'normalize_jid', 'send_slow',
                       'on_timeout', 'component', 'default_ns', 'extra',
                       *TAP_PRIVATE_NAMES))
        kwargs[name] = p.pick((None, object(), 42, 'x', ()))
    return kwargs


def tap_loop(run: Run) -> Any:
    kind = run.program.byte() % 8
    if kind < 5:
        return Loop()
    if kind < 7:
        return RealLoop()
    return run.program.pick((None, object(), asyncio))


def op_new_tap(run: Run) -> None:
    p = run.program
    xmpp = Xmpp()
    standard = p.byte() % 4 != 3
    loop = tap_loop(run)
    kwargs = tap_kwargs(run, xmpp, standard)
    try:
        tap = Tap(xmpp, xmpp.data_received, loop, **kwargs)
    except SystemError:
        raise
    except (Exception, BaseBoom):
        return
    setup_flags(run, tap)
    standard = standard and isinstance(loop, (Loop, RealLoop))
    run.remember(run.taps, TapSetup(tap, xmpp, kwargs['default_ns'],
                                    standard))


def setup_flags(run: Run, tap: Any) -> None:
    flags = run.program.byte()
    for bit, name in enumerate(('answer_pings', 'complete_pongs',
                                'direct_send', 'deliver_without_delay')):
        setattr(tap, name, bool(flags & (1 << bit)))
    if flags & 16:
        tap.sm = StreamManagement()


def op_tap_without_init(run: Run) -> None:
    """A Tap made by __new__ alone, or one whose __init__ failed."""
    if 1 in EXCLUDED and 5 in EXCLUDED:
        return
    p = run.program
    tap = attempt(Tap.__new__, Tap)
    if tap is None:
        return
    xmpp = Xmpp()
    failed = bool(p.byte() & 1)
    if failed:
        # Fails after it has begun: no create_future on the loop.
        attempt(tap.__init__, xmpp, xmpp.data_received,
                p.pick((object(), None, asyncio)),
                **tap_kwargs(run, xmpp, True))
    run.remember(run.broken_taps, TapSetup(tap, xmpp, None, False, failed))


def op_tap_reinit(run: Run) -> None:
    p = run.program
    if run.broken_taps and 5 not in EXCLUDED and p.byte() & 1:
        setup = p.pick(run.broken_taps)
    else:
        setup = pick_tap(run)
    if setup is None or (setup.failed and 5 in EXCLUDED):
        return
    xmpp = setup.xmpp
    loop = tap_loop(run)
    kwargs = tap_kwargs(run, xmpp, True)
    try:
        setup.tap.__init__(xmpp, xmpp.data_received, loop, **kwargs)
    except SystemError:
        raise
    except (Exception, BaseBoom):
        return
    if setup in run.broken_taps:
        run.broken_taps.remove(setup)
        setup.ns = kwargs['default_ns']
        setup.standard = isinstance(loop, (Loop, RealLoop))
        setup_flags(run, setup.tap)
        run.remember(run.taps, setup)


# sm three times: the one object among them.
TAP_ATTRS = ('answer_pings', 'complete_pongs', 'direct_send',
             'deliver_without_delay', 'reparse_deferral', 'sm', 'sm', 'sm',
             'received_at', 'other')


def op_tap_attr(run: Run) -> None:
    setup = pick_tap(run)
    if setup is None:
        return
    p = run.program
    name = p.pick(TAP_ATTRS)
    what = p.byte() % 4
    if what == 0:
        attempt(getattr, setup.tap, name)
    elif what == 1:
        value = p.pick((True, False, 0, 1, None, 2 ** 70, 'x', BadBool(),
                        StreamManagement(), object()))
        attempt(setattr, setup.tap, name, value)
    elif what == 2:
        attempt(setattr, setup.tap, name, StreamManagement())
    elif name != 'sm' or 3 not in EXCLUDED:
        attempt(delattr, setup.tap, name)


def op_send_ping(run: Run) -> None:
    setup = pick_tap(run)
    if setup is None:
        return
    p = run.program
    args = [pick_peer(run), p.pick((None, None, 'me@example.com/r', 42,
                                    'a\x01'))]
    args.append(timeout(p))
    if p.byte() & 1:
        args.append(pick_id(run))
    attempt(setup.tap.send_ping, *args)


def op_track(run: Run) -> None:
    setup = pick_tap(run)
    if setup is None:
        return
    p = run.program
    future = p.pick((None, 'future', 'real', object(), 42))
    if future == 'future':
        future = Future()
    elif future == 'real':
        future = REAL_LOOP.create_future()
    args = [pick_peer(run), timeout(p), future, p.pick((None, 'ctx', Boom()))]
    if p.byte() & 1:
        args.append(pick_id(run))
    id_ = attempt(setup.tap.track, *args)
    if isinstance(id_, str):
        event('tracked')
        run.remember(run.ids, id_)


def op_table(run: Run) -> None:
    setup = pick_tap(run)
    if setup is None:
        return
    p = run.program
    tap = setup.tap
    what = p.byte() % 7
    if what == 0:
        attempt(tap.find, pick_id(run))
    elif what == 1:
        if attempt(tap.pop, pick_id(run)) is not None:
            event('popped')
    elif what == 2:
        attempt(tap.pending)
        attempt(tap.counters)
    elif what == 3:
        attempt(tap.cancel_all)
    elif what == 4:
        forget = getattr(tap, 'forget_cancelled', None)
        if forget is not None:
            for future in run.futures:
                if p.byte() & 1:
                    attempt(call_method, future, 'cancel')
            attempt(forget)
    elif what == 5:
        attempt(tap._expire)
    else:
        attempt(tap.join_stream)


def op_timer(run: Run) -> None:
    """A timer or call_soon the core made fires (cancelled or not), or the real loop
    runs one step."""
    p = run.program
    if p.byte() & 1 or not run.handles:
        event('real-loop')
        REAL_LOOP.call_soon(REAL_LOOP.stop)
        attempt(REAL_LOOP.run_forever)
        return
    handle = p.pick(run.handles)
    if isinstance(handle, Handle):
        attempt(handle.callback, *handle.args)
    elif isinstance(handle, asyncio.Handle):
        attempt(handle._run)


def stanza_bytes(run: Run, setup: TapSetup) -> Any:
    p = run.program
    ns = (setup.ns if isinstance(setup.ns, str) else CLIENT_NS).encode(
        'utf-8', 'replace')
    id_ = pick_id(run)
    id_ = id_.encode('utf-8', 'replace') if isinstance(id_, str) else b'x'
    sender = p.pick((b'', b" from='example.com'", b" from='other@x/r'",
                     b" from='a@b'"))
    header = (b"<stream:stream xmlns='" + ns + b"' xmlns:stream='"
              + STREAM_NS.encode() + b"' to='example.com'>")
    kind = p.byte() % 10
    if kind == 0:
        return header
    if kind == 1:
        return (b"<iq type='get' id='" + id_ + b"'" + sender
                + b"><ping xmlns='urn:xmpp:ping'/></iq>")
    if kind in (2, 3):
        body = b"<iq type='" + (b'result' if kind == 2 else b'error')
        return body + b"' id='" + id_ + b"'" + sender + b'/>'
    if kind == 4:
        return b"<message id='m'><body>hi</body></message> "
    if kind == 5:
        return b'</stream:stream>'
    if kind == 6:
        return p.pick((str, bytearray, memoryview, lambda b: 42))(
            header + b"<iq type='result' id='" + id_ + b"'/>")
    if kind == 7:
        return p.blob()
    # A header then a pong: what a pong needs, in one step.
    return header + b"<iq type='result' id='" + id_ + b"'" + sender + b'/>'


def op_feed(run: Run) -> None:
    setup = pick_tap(run)
    if setup is None:
        return
    p = run.program
    data = stanza_bytes(run, setup)
    if isinstance(data, bytes) and p.byte() & 1:
        # Cut in two reads.
        cut = p.byte() % (len(data) + 1)
        attempt(setup.tap, data[:cut])
        data = data[cut:]
    attempt(setup.tap, data)


def op_stream(run: Run) -> None:
    """slixmpp starts a new stream (a new parser), or has none, or loses its
    transport."""
    setup = pick_tap(run)
    if setup is None:
        return
    what = run.program.byte() % 4
    if 'N1' in EXCLUDED and (run.depth > 0 or what == 3):
        return
    if what == 3:
        setup.xmpp._transport = None
    elif what == 2:
        setup.xmpp.session = not setup.xmpp.session
    else:
        setup.xmpp.restart(parser=what == 0)


def op_functions(run: Run) -> None:
    p = run.program
    what = p.byte() % 4
    data = p.pick((b"<iq type='get' id='a'><ping xmlns='urn:xmpp:ping'/></iq>",
                   b"<iq type='result' id='b' from='x'/>", b'<a', b''))
    data = p.blob() if p.byte() & 1 else data
    if what == 0:
        attempt(_core.parse_stanza, data if p.byte() & 1 else text(p))
    elif what == 1:
        attempt(_core.build_ping, text(p), text(p),
                *((text(p),) if p.byte() & 1 else ()))
    elif what == 2:
        attempt(_core.build_result, text(p), text(p), text(p), text(p))
    else:
        attempt(_core.reply_to_ping, data)


def op_drop(run: Run) -> None:
    """Drops the program's references (the core may hold the last ones),
    and collects garbage now and then."""
    p = run.program
    pool = p.pick((run.peers, run.taps, run.broken_taps, run.futures,
                   run.handles))
    if pool:
        del pool[p.byte() % len(pool)]
    if p.byte() & 1:
        # The young generation holds what this program made; a full
        # collection would cost 100 times more.
        gc.collect(p.pick((0, 0, 0, 1)))


OPS: tuple[Callable[[Run], None], ...] = (
    op_new_peer, op_peer_without_init, op_peer_reinit, op_peer_calls,
    op_new_tap, op_tap_without_init, op_tap_reinit, op_tap_attr,
    op_send_ping, op_send_ping, op_track, op_table, op_table, op_timer,
    op_feed, op_feed, op_feed, op_stream, op_functions, op_drop,
)


def step(run: Run) -> None:
    op = run.program.pick(OPS)
    if TRACE:
        print('  ' * run.depth + op.__name__, file=sys.stderr, flush=True)
    op(run)


# ---- the oracle ---------------------------------------------------------

PROBE_ID = 'probe-ping'


def probe(setup: TapSetup) -> None:
    """A Tap made as the plugin makes it answers a ping in C on a fresh
    stream once everything is set as the plugin sets it, whatever came
    before."""
    tap, xmpp = setup.tap, setup.xmpp
    tap.sm = None
    tap.answer_pings = True
    tap.direct_send = True
    tap.deliver_without_delay = False
    xmpp.restart()
    xmpp.session = True
    transport = xmpp._transport = Transport()
    answered = tap.counters()[0]
    ns = typing.cast(str, setup.ns)
    tap((f"<stream:stream xmlns='{ns}' xmlns:stream='{STREAM_NS}'>"
         f"<iq type='get' id='{PROBE_ID}'><ping xmlns='urn:xmpp:ping'/></iq>"
         ).encode())
    assert tap.counters()[0] == answered + 1, (
        'a ping not answered in C on a fresh stream', transport.written)
    tap.flush()     # the end of the turn, whether or not its flush ran
    assert any(PROBE_ID.encode() in data for data in transport.written), (
        transport.written)


def run(data: bytes) -> set[str]:
    """Runs one program, then the oracle on each Tap it made; what it got
    to (SEED_EVENTS)."""
    Active.run = current = Run(data)
    unraisablehook, sys.unraisablehook = sys.unraisablehook, unraisable
    try:
        for _ in range(MAX_STEPS):
            if current.program.exhausted():
                break
            step(current)
        current.quiet = True
        for setup in current.taps:
            if setup.standard:
                probe(setup)
    finally:
        current.quiet = True
        for setup in current.taps:
            attempt(setup.tap.cancel_all)
        for handle in current.handles + current.real_handles:
            attempt(call_method, handle, 'cancel')
        if current.real_handles:
            REAL_LOOP.call_soon(REAL_LOOP.stop)
            attempt(REAL_LOOP.run_forever)
        Active.run = Run(b'')
        sys.unraisablehook = unraisablehook
    # The timer's callback reports what on_timeout raises as unraisable.
    assert not current.system_errors, current.system_errors
    return current.events


# ---- seeds ----------------------------------------------------------------

SEED_EVENTS = ('ping-written', 'ping-sent-slow', 'ping-answered',
               'pong-completed', 'timed-out', 'tracked', 'popped',
               'cancelled', 'nested-call', 'hook-raised', 'real-loop')


def seeds(tries: int = 40000) -> dict[str, bytes]:
    """For each of SEED_EVENTS, the shortest of some random programs that
    gets there (with every known defect left out, so that the corpus runs
    on any build): a deterministic search, not hand-written bytes that a
    change of the harness would silently make mean something else."""
    import random
    rng = random.Random(11)
    found: dict[str, bytes] = {}

    def random_byte() -> int:
        return (rng.randrange(0x80, 0x100) if rng.random() < 0.04
                else rng.randrange(0, 24))

    for _ in range(tries):
        if found and rng.random() < 0.7:
            # A program that got somewhere, changed in a few places.
            data = bytearray(rng.choice(list(found.values())))
            for _ in range(rng.randrange(1, 4)):
                at = rng.randrange(len(data) + 1)
                if rng.random() < 0.5:
                    data[at:at] = bytes(random_byte() for _ in range(
                        rng.randrange(1, 12)))
                elif at < len(data):
                    data[at] = random_byte()
        else:
            data = bytearray(random_byte()
                             for _ in range(rng.randrange(8, 160)))
        for name in run(bytes(data)):
            if name not in found or len(data) < len(found[name]):
                found[name] = bytes(data)
    return found


def unraisable(info: Any) -> None:
    """Unraisable exceptions are expected (a hook raised in the timer's
    callback), save a SystemError."""
    if isinstance(info.exc_value, SystemError):
        Active.run.system_errors.append(info.exc_value)


LIVE_FRAMES: list[Any] = []


def main() -> None:
    if sys.argv[1:2] == ['--replay']:
        for path in sys.argv[2:]:
            with open(path, 'rb') as f:
                run(f.read())
        return
    if sys.argv[1:2] == ['--write-seeds']:
        os.makedirs(sys.argv[2], exist_ok=True)
        for name, data in seeds().items():
            with open(os.path.join(sys.argv[2], name), 'wb') as f:
                f.write(data)
        return
    import atheris
    # libFuzzer exits from inside atheris.Fuzz() without finalizing: the
    # frame objects of the code running then (made when a warning or a
    # traceback looked up the stack) are held only by CPython's frame
    # stack, mmap'ed memory that LeakSanitizer does not read, and would be
    # reported leaked.  A list in the heap holds them too.
    frame: Any = sys._getframe()
    while frame is not None:
        LIVE_FRAMES.append(frame)
        frame = frame.f_back
    atheris.Setup(sys.argv, run)
    atheris.Fuzz()


if __name__ == '__main__':
    main()
