"""What slixmpp-ping prints: a line per answer, the flood's progress and
throughput, ping(8)'s summary, and the exit status."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from slixmpp_ping_c import _pycore, plugin
from slixmpp_ping_c.plugin import PingStats

if TYPE_CHECKING:
    from slixmpp_ping_c._core import Peer

EXIT_PONG = 0
EXIT_NO_PONG = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def _core_peer() -> Peer:
    """A Peer of the core the plugin runs on: C, or the pure-Python one
    without the extension."""
    core = plugin.c_core if plugin.c_core is not None else _pycore
    peer: Peer = core.Peer(None, '')
    return peer


@dataclass
class Stats:
    """The pings to one target, as ping(8) counts them.  The answers go to
    a Peer of the core, which computes the round trip times' figures as
    the plugin's stats() does (one method: Welford's running mean and
    deviation), whichever plugin pinged."""

    sent: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    answers: Peer = field(default_factory=_core_peer)

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


def flood_report(stats: Stats, n: int, elapsed: float) -> list[str]:
    rate = stats.received / elapsed if elapsed > 0 else 0.0
    lines = [(f'{stats.received} of {n} pings answered in {elapsed:.3f} s: '
              f'{rate:.0f} pings/s')]
    if stats.errors:
        lines.append('no pong: ' + ', '.join(
            f'{count} {condition}'
            for condition, count in stats.errors.most_common()))
    return lines
