"""Ctrl-C and SIGTERM, as ping(8) takes them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, NoReturn

from slixmpp_ping_c.cli.args import PROG
from slixmpp_ping_c.cli.report import EXIT_INTERRUPTED, Report

log = logging.getLogger(__name__)


class Interrupted(Exception):
    """Ctrl-C (or SIGTERM) before the first ping."""


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
