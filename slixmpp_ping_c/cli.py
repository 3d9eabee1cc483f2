"""slixmpp-ping: ping(8) for XMPP.

    slixmpp-ping [-c COUNT] [-i INTERVAL] [-W TIMEOUT] [--flood N]
                 [--impl c|pure] [--host HOST] [--port PORT] [--no-tls]
                 [-v] --jid JID TARGET

Logs in as JID (the password comes from $XMPP_PASSWORD, or a prompt on a
terminal), pings TARGET (XEP-0199) and prints one line per answer and a
ping(8)-style summary, also when stopped with Ctrl-C.  ``--flood N`` sends N
pings at once and prints the throughput; ``--impl pure`` runs slixmpp's own
plugin instead of slixmpp_ping_c's, to compare.

Exit status: 0 when at least one pong came back, 1 when none did, 2 on bad
arguments, connection or authentication errors (one line on stderr says
which), 130 when interrupted before the first ping.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import math
import os
import signal
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TextIO

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.jid import JID, InvalidJID
from slixmpp.plugins.base import BasePlugin, register_plugin

from slixmpp_ping_c._core import Peer
from slixmpp_ping_c.plugin import PingStats

log = logging.getLogger(__name__)

PROG = 'slixmpp-ping'
PASSWORD_ENV = 'XMPP_PASSWORD'
DEFAULT_PORT = 5222
DEFAULT_INTERVAL = 1.0
# ping(8)'s -W default; a flood waits longer, since its N pings queue up
# behind each other (slixmpp 1.8.3's own plugin needs a minute for 5,000
# through a local Prosody).
DEFAULT_TIMEOUT = 10.0
DEFAULT_FLOOD_TIMEOUT = 120.0
# Connecting, TLS and logging in must be done within this.
LOGIN_TIMEOUT = 30.0
# How long a clean disconnect may take before the connection is dropped.
DISCONNECT_WAIT = 2.0

EXIT_PONG = 0
EXIT_NO_PONG = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

EPILOG = f'''\
The password is read from ${PASSWORD_ENV}, or asked for when it is unset and
stdin is a terminal; never from an argument.  Without --no-tls, TLS is
required (STARTTLS, as slixmpp negotiates it); --no-tls logs in over plain
TCP with SCRAM.  -W defaults to {DEFAULT_TIMEOUT:g} s \
({DEFAULT_FLOOD_TIMEOUT:g} s with --flood); logging in
must succeed within {LOGIN_TIMEOUT:g} s.

Exit status: 0 when at least one pong came back, 1 when none did, 2 on bad
arguments, connection or authentication errors, 130 when interrupted before
the first ping.'''


class Failure(Exception):
    """An error that ends the run with status 2 and one line on stderr."""


class Interrupted(Exception):
    """Ctrl-C (or SIGTERM) before the first ping."""


# ---- arguments --------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with one line on stderr for bad arguments."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f'{PROG}: bad arguments: {message} '
                              f'(see {PROG} --help)\n')


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value > 0 or not math.isfinite(value):
            raise argparse.ArgumentTypeError(
                f'not a positive number: {text!r}')
        return value
    convert.__name__ = f'positive {kind.__name__}'
    return convert


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f'not a TCP port: {text!r}')
    return int(text)


def _jid(text: str) -> JID:
    try:
        jid = JID(text)
    except InvalidJID:
        jid = None
    if jid is None or not jid.domain:
        raise argparse.ArgumentTypeError(f'not a JID: {text!r}')
    return jid


def _account(text: str) -> JID:
    jid = _jid(text)
    if not jid.user:
        raise argparse.ArgumentTypeError(
            f'not an account (user@domain): {text!r}')
    return jid


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description='Ping an XMPP entity (XEP-0199), as ping(8) does.',
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('target', metavar='TARGET', type=_jid,
                        help='the JID to ping: a server, an account, '
                             'a full JID, a component')
    parser.add_argument('--jid', required=True, type=_account,
                        help='the account to log in as (user@domain'
                             '[/resource])')
    parser.add_argument('-c', '--count', type=_positive(int),
                        help='stop after COUNT pings (default: until Ctrl-C)')
    parser.add_argument('-i', '--interval', type=_positive(float),
                        help='seconds between pings (default: '
                             f'{DEFAULT_INTERVAL:g})')
    parser.add_argument('-W', '--timeout', type=_positive(float),
                        help='seconds to wait for each pong (default: '
                             f'{DEFAULT_TIMEOUT:g}, {DEFAULT_FLOOD_TIMEOUT:g}'
                             ' with --flood)')
    parser.add_argument('--flood', metavar='N', type=_positive(int),
                        help='send N pings at once, then print the '
                             'throughput and the summary')
    parser.add_argument('--impl', choices=('c', 'pure'), default='c',
                        help="the XEP-0199 plugin: slixmpp_ping_c's (c, "
                             "the default) or slixmpp's own (pure)")
    parser.add_argument('--host',
                        help="connect to HOST instead of the JID's domain")
    parser.add_argument('--port', type=_port,
                        help=f'connect to PORT (default: {DEFAULT_PORT})')
    parser.add_argument('--no-tls', action='store_true',
                        help='plain TCP, SCRAM without TLS (a test server '
                             'on loopback, say)')
    parser.add_argument('-v', '--verbose', action='count', default=0,
                        help="slixmpp's log on stderr (-v: info, -vv: debug)")
    return parser


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.flood is not None and (args.count is not None
                                   or args.interval is not None):
        parser.error('--flood cannot be combined with -c or -i')
    if args.interval is None:
        args.interval = DEFAULT_INTERVAL
    if args.timeout is None:
        args.timeout = (DEFAULT_TIMEOUT if args.flood is None
                        else DEFAULT_FLOOD_TIMEOUT)
    return args


def read_password(jid: JID, stdin: TextIO | None = None) -> str:
    """The password from $XMPP_PASSWORD, else from a prompt on a
    terminal."""
    password = os.environ.get(PASSWORD_ENV)
    if password:
        return password
    stdin = stdin or sys.stdin
    if stdin is None or not stdin.isatty():
        raise Failure(f'no password: set {PASSWORD_ENV} '
                      '(or run on a terminal to be asked)')
    return getpass.getpass(f'password for {jid.bare}: ')


def setup_logging(verbose: int) -> None:
    """slixmpp logs on stderr only when asked: the output is ping's."""
    if verbose:
        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    else:
        logging.basicConfig(level=logging.CRITICAL + 1,
                            handlers=[logging.NullHandler()])


# ---- statistics -------------------------------------------------------


@dataclass
class Stats:
    """The pings to one target, as ping(8) counts them.  The answers go to
    a Peer of the core, which computes the round trip times' figures as
    the plugin's stats() does (one method: Welford's running mean and
    deviation), whichever plugin pinged."""

    sent: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    answers: Peer = field(default_factory=lambda: Peer(None, ''))

    def pong(self, rtt: float) -> None:
        self.answers.record(rtt)

    def no_pong(self, condition: str) -> None:
        self.errors[condition] += 1
        self.answers.record_lost()

    def ping_stats(self) -> PingStats:
        """The plugin's PingStats, sent counted here (pings in flight
        when stopped included, as ping(8) counts them)."""
        return PingStats(*self.answers.stats())._replace(sent=self.sent)

    @property
    def received(self) -> int:
        return self.ping_stats().received

    @property
    def loss(self) -> float:
        """Lost pings (unanswered, errors, or in flight when stopped), %."""
        if not self.sent:
            return 0.0
        return 100.0 * (self.sent - self.received) / self.sent

    def rtt_line(self) -> str | None:
        """ping(8)'s min/avg/max/mdev line, in ms; None without pongs."""
        stats = self.ping_stats()
        figures = [x for x in (stats.min, stats.avg, stats.max, stats.mdev)
                   if x is not None]
        if len(figures) < 4:  # None throughout before the first pong
            return None
        return 'rtt min/avg/max/mdev = ' + '/'.join(
            f'{x * 1000.0:.3f}' for x in figures) + ' ms'

    def summary(self, target: str, elapsed: float) -> list[str]:
        errors = sum(self.errors.values()) - self.errors['timeout']
        counts = [f'{self.sent} sent', f'{self.received} received']
        if errors:
            counts.append(f'+{errors} errors')
        counts += [f'{self.loss:g}% loss', f'time {elapsed * 1000:.0f}ms']
        lines = [f'--- {target} xmpp ping statistics ---', ', '.join(counts)]
        rtt = self.rtt_line()
        if rtt is not None:
            lines.append(rtt)
        return lines


def out(line: str) -> None:
    try:
        print(line, flush=True)
    except BrokenPipeError:
        # Whatever read stdout is gone (`| head`, say): end as ping(8) does,
        # as if killed by SIGPIPE (which Python ignores, sockets need it so).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        os._exit(128 + signal.SIGPIPE)


# ---- the plugin -------------------------------------------------------


def plugin_class(impl: str) -> type[BasePlugin]:
    """slixmpp_ping_c's XEP_0199, or slixmpp's own."""
    if impl == 'pure':
        from slixmpp.plugins.xep_0199.ping import XEP_0199 as SlixmppXEP_0199
        return SlixmppXEP_0199
    from slixmpp_ping_c import XEP_0199
    return XEP_0199


def make_client(jid: JID, password: str, impl: str) -> slixmpp.ClientXMPP:
    cls = plugin_class(impl)
    # Importing slixmpp_ping_c registered ours for every client: say which
    # class 'xep_0199' means for this one.
    register_plugin(cls)
    xmpp = slixmpp.ClientXMPP(jid, password)
    xmpp.register_plugin('xep_0199')
    if type(xmpp.plugin['xep_0199']) is not cls:
        raise RuntimeError(f'xep_0199 is {type(xmpp.plugin["xep_0199"])}, '
                           f'not {cls}')
    return xmpp


def impl_name(xmpp: slixmpp.ClientXMPP) -> str:
    plugin = type(xmpp.plugin['xep_0199'])
    return f'{plugin.__module__}, slixmpp {slixmpp.__version__}'


# ---- logging in -------------------------------------------------------


def _encrypted(xmpp: slixmpp.ClientXMPP) -> bool:
    transport = xmpp.transport
    return 'starttls' in xmpp.features or (
        transport is not None
        and transport.get_extra_info('ssl_object') is not None)


def start_connecting(xmpp: slixmpp.ClientXMPP, host: str | None,
                     port: int | None, no_tls: bool) -> None:
    """Connect (host, port), or the JID's domain through DNS when neither
    is given; plain TCP with SCRAM if no_tls, on slixmpp 1.8.3 and newer."""
    address = None
    if host or port:
        address = (host or xmpp.boundjid.domain, port or DEFAULT_PORT)
    # slixmpp 1.8.3 would send SCRAM in clear by default, 1.10+ would not.
    xmpp.plugin['feature_mechanisms'].unencrypted_scram = no_tls
    if hasattr(xmpp, 'enable_plaintext'):  # slixmpp >= 1.10
        if no_tls:
            xmpp.enable_plaintext = True
            xmpp.enable_starttls = False
            xmpp.enable_direct_tls = False
        if address:
            xmpp.connect(*address)
        else:
            xmpp.connect()
    else:
        # slixmpp < 1.10's connect(address, use_ssl, force_starttls,
        # disable_starttls): the types checked are those of a newer one.
        connect: Callable[..., object] = xmpp.connect
        connect(address, force_starttls=not no_tls, disable_starttls=no_tls)


class Session:
    """Follows slixmpp's events to one outcome of logging in (session
    started, or a Failure), then notices a connection lost."""

    def __init__(self, xmpp: slixmpp.ClientXMPP, where: str,
                 no_tls: bool) -> None:
        self.xmpp = xmpp
        self.where = where
        self.no_tls = no_tls
        self.started: asyncio.Future[None] = asyncio.get_running_loop(
            ).create_future()
        self.lost = asyncio.Event()
        self.lost_reason = ''
        self.closing = False
        self._auth_failure: str | None = None
        self._connect_error = 'no answer'
        self._stream_error: str | None = None
        for name in ('session_start', 'failed_auth', 'failed_all_auth',
                     'connection_failed', 'reconnect_delay', 'stream_error',
                     'ssl_invalid_chain', 'stream_negotiated',
                     'disconnected'):
            xmpp.add_event_handler(name, getattr(self, '_on_' + name))

    def _fail(self, message: str) -> None:
        log.debug('login failed: %s', message)
        if not self.started.done():
            self.started.set_exception(Failure(message))

    def _on_session_start(self, event: Any) -> None:
        if not self.started.done():
            self.started.set_result(None)

    def _on_failed_auth(self, stanza: Any) -> None:
        self._auth_failure = stanza['condition'] or 'failure'

    def _on_failed_all_auth(self, event: Any) -> None:
        jid = self.xmpp.boundjid.bare
        if self._auth_failure is not None:
            self._fail(f'authentication failed for {jid} '
                       f'({self._auth_failure})')
        elif not _encrypted(self.xmpp):
            self._fail(f'cannot log in as {jid} without TLS: {self.where} '
                       'offers no STARTTLS (--no-tls logs in over plain TCP)')
        else:
            self._fail(f'cannot log in as {jid}: no authentication '
                       f'mechanism in common with {self.where}')

    def _on_connection_failed(self, error: Any) -> None:
        self._connect_error = str(error) or type(error).__name__

    def _on_reconnect_delay(self, delay: Any) -> None:
        # Every address of this round failed: slixmpp would retry forever.
        self.xmpp.cancel_connection_attempt()
        self._fail(f'cannot connect to {self.where}: {self._connect_error}')

    def _on_stream_negotiated(self, event: Any) -> None:
        # The features are done with, and no login among them.
        if not self.xmpp.authenticated:
            hint = (' without TLS (run it without --no-tls)' if self.no_tls
                    else '')
            self._fail(f'cannot log in as {self.xmpp.boundjid.bare}: '
                       f'{self.where} offers no way to log in{hint}')

    def _on_ssl_invalid_chain(self, error: Any) -> None:
        # (Handled here, slixmpp leaves the connection open: close() ends it.)
        self._fail(f'TLS with {self.where} failed: {error}')

    def _on_stream_error(self, error: Any) -> None:
        condition, text = error['condition'], error['text']
        self._stream_error = (f'{condition} ({text})' if text
                              else condition or 'stream error')

    def _on_disconnected(self, reason: Any) -> None:
        why = self._stream_error or (str(reason) if reason else '')
        if not self.started.done():
            if isinstance(reason, ssl.SSLError):
                self._fail(f'TLS with {self.where} failed: {reason}')
            elif self._stream_error:
                self._fail(f'{self.where} refused the stream: {why}')
            else:
                self._fail(f'{self.where} closed the connection before '
                           'login' + (f': {why}' if why else ''))
        elif not self.closing:
            self.lost_reason = why
            self.lost.set()

    async def close(self) -> None:
        """End the stream cleanly if it is open, and stop reconnecting."""
        self.closing = True
        xmpp = self.xmpp
        xmpp.cancel_connection_attempt()
        if xmpp.transport is None:
            return
        closed = asyncio.get_running_loop().create_future()

        def on_disconnected(event: Any) -> None:
            if not closed.done():
                closed.set_result(None)
        xmpp.add_event_handler('disconnected', on_disconnected)
        xmpp.disconnect(DISCONNECT_WAIT)
        try:
            await asyncio.wait_for(closed, DISCONNECT_WAIT + 1)
        except TimeoutError:
            xmpp.abort()


# ---- stopping ---------------------------------------------------------


class Stop:
    """Ctrl-C (SIGINT) or SIGTERM, as ping(8) takes them: the first one
    asks the run to stop and print its summary.  slixmpp's own plugin can
    hold the event loop for seconds in one read (it matches each stanza
    against every ping in flight), so if the loop has not acted on it within
    GRACE seconds, or on a second signal, ``stuck()`` is called from the
    signal handler (it prints what it must and ends the process).

    Also set by a lost connection (reason 'connection lost').
    """

    GRACE = 1.0
    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, stuck: Callable[[], None]) -> None:
        self.event = asyncio.Event()
        self.reason = ''
        self.stuck = stuck
        self._loop = asyncio.get_running_loop()
        self._signalled = False
        self._previous: dict[int, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            return  # signals are the main thread's
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        self._previous[signal.SIGALRM] = signal.signal(signal.SIGALRM,
                                                       self._on_alarm)

    def _on_signal(self, signum: int, frame: Any) -> None:
        log.debug('signal %s', signal.Signals(signum).name)
        if self._signalled:
            self.stuck()
            return
        self._signalled = True
        self._loop.call_soon_threadsafe(self.set, 'interrupted')
        signal.setitimer(signal.ITIMER_REAL, self.GRACE)

    def _on_alarm(self, signum: int, frame: Any) -> None:
        self.stuck()

    def set(self, reason: str) -> None:
        if not self.event.is_set():
            log.debug('stopping: %s', reason)
            self.reason = reason
            self.event.set()

    def acted(self) -> None:
        """The loop has acted on the stop (or ended without one)."""
        if self._previous:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def restore(self) -> None:
        self.acted()
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def __bool__(self) -> bool:
        return self.event.is_set()

    async def wait(self, timeout: float | None = None) -> bool:
        """Whether stopped, waiting at most timeout seconds for it."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), timeout)
        return self.event.is_set()


# ---- pinging ----------------------------------------------------------


def error_condition(exc: BaseException) -> str:
    """What ping(8) would say of a ping that got no pong."""
    if isinstance(exc, IqTimeout):
        return 'timeout'
    if isinstance(exc, IqError):
        return exc.iq['error']['condition'] or 'error'
    return type(exc).__name__


class Report:
    """What the run prints at its end (the flood's throughput, then the
    summary): once, by the run, or by the signal handler when stuck."""

    def __init__(self, target: str, flood: int | None) -> None:
        self.target = target
        self.flood = flood
        self.stats = Stats()
        self.start: float | None = None
        self.elapsed: float | None = None
        self.lost = False
        self.printed = False

    def begin(self) -> None:
        self.start = time.perf_counter()

    def end(self) -> None:
        if self.start is not None and self.elapsed is None:
            self.elapsed = time.perf_counter() - self.start

    def lines(self) -> list[str]:
        assert self.start is not None
        elapsed = self.elapsed
        if elapsed is None:
            elapsed = time.perf_counter() - self.start
        throughput = []
        if self.flood is not None:
            throughput = flood_report(self.stats, self.flood, elapsed)
        return [*throughput, '', *self.stats.summary(self.target, elapsed)]

    def print(self) -> None:
        self.printed = True
        for line in self.lines():
            out(line)

    def exit_status(self) -> int:
        if self.lost:
            return EXIT_ERROR
        return EXIT_PONG if self.stats.received else EXIT_NO_PONG


def _write(fd: int, text: str) -> None:
    data = text.encode()
    while data:
        data = data[os.write(fd, data):]


def exit_now(report: Report) -> NoReturn:
    """End the process from a signal handler: the summary if the pings
    began and it is not printed yet, then the exit status."""
    if report.start is None:
        _write(2, f'{PROG}: interrupted\n')
        os._exit(EXIT_INTERRUPTED)
    if not report.printed:
        report.printed = True
        if report.flood is not None and sys.stderr.isatty():
            _write(2, '\n')  # past the progress bar
        _write(1, '\n'.join(report.lines()) + '\n')
    os._exit(report.exit_status())


class Pinger:
    """ping(8)'s loop: one ping every interval, each answered on its own."""

    def __init__(self, plugin: Any, target: JID, timeout: float,
                 report: Report) -> None:
        self.plugin = plugin
        self.target = target
        self.timeout = timeout
        self.report = report

    async def one(self, seq: int) -> None:
        stats, label = self.report.stats, self.report.target
        stats.sent += 1
        try:
            rtt = await self.plugin.ping(self.target, timeout=self.timeout)
        except (IqError, IqTimeout) as exc:
            condition = error_condition(exc)
            stats.no_pong(condition)
            what = condition if condition == 'timeout' else (
                f'error={condition}')
            out(f'no pong from {label}: seq={seq} {what}')
        else:
            stats.pong(rtt)
            out(f'pong from {label}: seq={seq} time={rtt * 1000:.3f} ms')

    async def run(self, count: int | None, interval: float,
                  stop: Stop) -> None:
        tasks: set[asyncio.Task[None]] = set()
        seq = 0
        try:
            while count is None or seq < count:
                seq += 1
                task = asyncio.create_task(self.one(seq))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                if seq == count or await stop.wait(interval):
                    break
            # ping(8) -c waits for the last answers (or their timeouts).
            stopped = asyncio.ensure_future(stop.event.wait())
            while tasks and not stop:
                await asyncio.wait([*tasks, stopped],
                                   return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
        finally:
            self.report.end()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


class Progress:
    """A plain-text progress bar on a terminal (nothing elsewhere)."""

    WIDTH = 40

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.enabled = stream.isatty()
        self._shown = -1
        self._draw()

    def advance(self) -> None:
        self.done += 1
        if self.enabled and (self.done * self.WIDTH * 2 // self.total
                             != self._shown or self.done == self.total):
            self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        self._shown = self.done * self.WIDTH * 2 // self.total
        filled = self.done * self.WIDTH // self.total
        bar = '#' * filled + '.' * (self.WIDTH - filled)
        self.stream.write(f'\r[{bar}] {self.done}/{self.total} '
                          f'{100 * self.done // self.total:3d}%')
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write('\n')
            self.stream.flush()


async def flood(plugin: Any, target: JID, n: int, timeout: float,
                report: Report, stop: Stop) -> None:
    """N pings at once; the report's time runs from the first sent to the
    last answer (or to the stop)."""
    stats = report.stats
    progress = Progress(n, sys.stderr)

    async def one() -> None:
        stats.sent += 1
        try:
            stats.pong(await plugin.ping(target, timeout=timeout))
        except (IqError, IqTimeout) as exc:
            stats.no_pong(error_condition(exc))
        finally:
            progress.advance()

    pings = asyncio.gather(*(one() for _ in range(n)))
    stopped = asyncio.ensure_future(stop.event.wait())
    waited: list[asyncio.Future[Any]] = [pings, stopped]
    try:
        await asyncio.wait(waited,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        report.end()
        pings.cancel()
        stopped.cancel()
        await asyncio.gather(pings, stopped, return_exceptions=True)
        progress.close()


def flood_report(stats: Stats, n: int, elapsed: float) -> list[str]:
    rate = stats.received / elapsed if elapsed > 0 else 0.0
    lines = [(f'{stats.received} of {n} pings answered in {elapsed:.3f} s: '
              f'{rate:.0f} pings/s')]
    if stats.errors:
        lines.append('no pong: ' + ', '.join(
            f'{count} {condition}'
            for condition, count in stats.errors.most_common()))
    return lines


# ---- the command ------------------------------------------------------


def where(args: argparse.Namespace) -> str:
    return f'{args.host or args.jid.domain}:{args.port or DEFAULT_PORT}'


async def login(xmpp: slixmpp.ClientXMPP, session: Session,
                args: argparse.Namespace, stop: Stop) -> None:
    start_connecting(xmpp, args.host, args.port, args.no_tls)
    stopped = asyncio.ensure_future(stop.event.wait())
    waited: list[asyncio.Future[Any]] = [session.started, stopped]
    try:
        done, _ = await asyncio.wait(waited,
                                     timeout=LOGIN_TIMEOUT,
                                     return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if session.started in done:
        session.started.result()  # raises the Failure
    elif stop:
        raise Interrupted
    else:
        raise Failure(f'cannot log in at {session.where} within '
                      f'{LOGIN_TIMEOUT:g} s')


async def watch_connection(session: Session, stop: Stop) -> None:
    await session.lost.wait()
    stop.set('connection lost')


async def ping(xmpp: slixmpp.ClientXMPP, args: argparse.Namespace,
               report: Report, stop: Stop) -> None:
    """Ping as asked, until done or stopped."""
    plugin = xmpp.plugin['xep_0199']
    report.begin()
    if args.flood is not None:
        await flood(plugin, args.target, args.flood, args.timeout, report,
                    stop)
    else:
        await Pinger(plugin, args.target, args.timeout, report).run(
            args.count, args.interval, stop)


async def run(args: argparse.Namespace, password: str) -> int:
    report = Report(str(args.target), args.flood)
    stop = Stop(lambda: exit_now(report))
    xmpp = make_client(args.jid, password, args.impl)
    session = Session(xmpp, where(args), args.no_tls)
    try:
        try:
            await login(xmpp, session, args, stop)
        finally:
            stop.acted()
        what = (f': {args.flood} pings at once' if args.flood is not None
                else '')
        out(f'PING {report.target} from {xmpp.boundjid.full}{what} '
            f'({impl_name(xmpp)})')
        watcher = asyncio.create_task(watch_connection(session, stop))
        try:
            await ping(xmpp, args, report, stop)
        finally:
            watcher.cancel()
        stop.acted()
        if stop.reason == 'connection lost':
            report.lost = True
            print(f'{PROG}: connection to {session.where} lost'
                  + (f': {session.lost_reason}' if session.lost_reason
                     else ''), file=sys.stderr, flush=True)
        report.print()
        return report.exit_status()
    finally:
        await session.close()
        stop.restore()


def main(argv: Sequence[str] | None = None) -> int:
    """The slixmpp-ping command; returns its exit status."""
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # --help, or bad arguments
        return EXIT_PONG if exc.code is None else int(exc.code)
    setup_logging(args.verbose)
    try:
        password = read_password(args.jid)
        return asyncio.run(run(args, password))
    except Failure as exc:
        print(f'{PROG}: {exc}', file=sys.stderr, flush=True)
        return EXIT_ERROR
    except (Interrupted, KeyboardInterrupt):
        print(f'{PROG}: interrupted', file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
