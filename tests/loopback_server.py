"""What the throwaway servers of the tests share (tests/prosody.py,
tests/ejabberd.py): a child process in a session of its own, bound to
127.0.0.1 on free ports, its files in a temporary directory; started,
waited for until it listens, and stopped with its files removed, also
after a failure.  A server that cannot start raises its ``error`` class
with the server's own words (its output and log).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

DOMAIN = 'localhost'


class ServerError(RuntimeError):
    """A test server did not start (or one of its commands failed)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class LoopbackServer:
    """One server process; subclasses say how to configure and run it."""

    #: the program's name, in messages
    name = 'server'
    #: what start() raises when the server cannot start
    error: type[ServerError] = ServerError
    #: the SASL mechanism the test clients log in with (None: slixmpp's
    #: choice, SCRAM without TLS)
    sasl_mechanism: str | None = None

    def __init__(self, accounts: dict[str, str] | None = None) -> None:
        self.accounts = dict(accounts or {})
        self.domain = DOMAIN
        self.host = '127.0.0.1'
        self.c2s_port = 0
        self.dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    # ---- what a subclass provides ----------------------------------------

    def _prepare(self) -> None:
        """Choose the ports and write the files into self.dir."""
        raise NotImplementedError

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _environment(self) -> dict[str, str] | None:
        return None

    def _ports(self) -> tuple[int, ...]:
        """The ports that must accept connections before start() returns."""
        return (self.c2s_port,)

    def _started(self) -> None:
        """Called once the server listens."""

    @property
    def log_path(self) -> Path:
        raise NotImplementedError

    def version(self) -> str:
        """The running server's version."""
        raise NotImplementedError

    def complaints(self) -> list[str]:
        """The server's warnings and errors so far."""
        raise NotImplementedError

    # ---- files -------------------------------------------------------------

    @property
    def output_path(self) -> Path:
        """The process's standard output and error."""
        assert self.dir is not None
        return self.dir / 'output.log'

    def jid(self, user: str) -> str:
        return f'{user}@{self.domain}'

    # ---- life -----------------------------------------------------------

    def start(self, timeout: float = 15.0) -> Self:
        self.dir = Path(tempfile.mkdtemp(prefix=f'{self.name}-'))
        try:
            self._prepare()
            with open(self.output_path, 'wb') as output:
                self.process = subprocess.Popen(
                    self._command(), stdout=output, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, cwd=self.dir,
                    env=self._environment(), start_new_session=True)
            self._wait_listening(timeout)
            self._started()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise self.error(f'{self.name} exited with status '
                                 f'{self.process.returncode}: '
                                 + self.own_words())
            if all(self._accepts(port) for port in self._ports()):
                return
            time.sleep(0.05)
        raise self.error(f'{self.name} did not listen within '
                         f'{timeout} s: ' + self.own_words())

    def _accepts(self, port: int) -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((self.host, port)) == 0

    def own_words(self) -> str:
        """The server's output and log so far."""
        text = ''
        if self.dir is not None:
            for path in (self.output_path, self.log_path):
                if path.exists():
                    text += path.read_text(errors='replace')
        return text.strip()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def freeze(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def kill(self) -> None:
        """Kill the server abruptly (the directory stays until stop())."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        """Stop the server this object started (and whatever it started in
        its session), and remove its files."""
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGCONT)
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
            # Helpers it started in its own session (its process group)
            # go with it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def use_sasl_mechanism(xmpp: Any, server: LoopbackServer) -> None:
    """Make the ClientXMPP log in with the server's sasl_mechanism, if it
    names one."""
    if server.sasl_mechanism is not None:
        mechanisms = xmpp.plugin['feature_mechanisms']
        mechanisms.use_mech = server.sasl_mechanism
        mechanisms.unencrypted_plain = server.sasl_mechanism == 'PLAIN'


def connect_client(xmpp: Any, server: LoopbackServer) -> None:
    """Connect a slixmpp ClientXMPP to the server: plain TCP, SCRAM without
    TLS, on slixmpp 1.8.3 and the newest alike (as `slixmpp-ping --no-tls`
    does), or the server's sasl_mechanism."""
    from slixmpp_ping_c.session import connect_client as connect
    use_sasl_mechanism(xmpp, server)
    connect(xmpp, server.host, server.c2s_port, no_tls=True)
