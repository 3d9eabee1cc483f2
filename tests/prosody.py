"""A throwaway Prosody for tests, the demo and the end-to-end benchmark.

It runs in the foreground of a child process, bound to 127.0.0.1 on free
ports, with its configuration, data and log in a temporary directory: c2s
without TLS, the given accounts (created with prosodyctl), one component
(XEP-0114) with a secret, and Stream Management (mod_smacks, shipped with
Prosody 0.12).  ``stop()`` ends only the process it started and removes the
directory.  If Prosody cannot start, ProsodyError carries Prosody's own
words (its log and output).

    with Prosody(accounts={'alice': 'pw', 'bob': 'pw'}) as server:
        server.c2s_port, server.component_port, server.domain
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
from typing import Any

DOMAIN = 'localhost'
COMPONENT = 'comp.localhost'
COMPONENT_SECRET = 'component-secret'


class ProsodyError(RuntimeError):
    """Prosody did not start (or a prosodyctl command failed)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _lua(value: str) -> str:
    return '"' + value.replace('\\', '\\\\').replace('"', '\\"') + '"'


class Prosody:
    """One Prosody server; see the module's docstring."""

    def __init__(self, accounts: dict[str, str] | None = None,
                 smacks_hibernation: int = 60,
                 extra_config: str = '') -> None:
        self.accounts = dict(accounts or {})
        self.smacks_hibernation = smacks_hibernation
        #: Lua lines added to the global section of the configuration.
        self.extra_config = extra_config
        self.domain = DOMAIN
        self.component = COMPONENT
        self.component_secret = COMPONENT_SECRET
        self.host = '127.0.0.1'
        self.c2s_port = 0
        self.component_port = 0
        self.dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    # ---- files ----------------------------------------------------------

    @property
    def config_path(self) -> Path:
        assert self.dir is not None
        return self.dir / 'prosody.cfg.lua'

    @property
    def log_path(self) -> Path:
        assert self.dir is not None
        return self.dir / 'prosody.log'

    def _config(self) -> str:
        assert self.dir is not None
        d = self.dir
        return f'''
pidfile = {_lua(str(d / 'prosody.pid'))}
data_path = {_lua(str(d / 'data'))}
certificates = {_lua(str(d / 'certs'))}
run_as_root = true
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.c2s_port} }}
component_ports = {{ {self.component_port} }}
component_interfaces = {{ "127.0.0.1" }}
c2s_direct_tls_ports = {{ }}
legacy_ssl_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
s2s_ports = {{ }}
authentication = "internal_plain"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping"; "smacks"; }}
modules_disabled = {{ "s2s"; "tls"; }}
smacks_hibernation_time = {self.smacks_hibernation}
log = {{ {{ levels = {{ min = "info" }}, to = "file",
           filename = {_lua(str(self.log_path))} }} }}
{self.extra_config}
VirtualHost {_lua(self.domain)}
Component {_lua(self.component)}
    component_secret = {_lua(self.component_secret)}
'''

    def prosodyctl(self, *args: str) -> str:
        done = subprocess.run(
            ['prosodyctl', '--config', str(self.config_path), *args],
            check=False, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise ProsodyError(f'prosodyctl {" ".join(args)} failed: '
                               f'{done.stdout}{done.stderr}')
        return done.stdout

    def jid(self, user: str) -> str:
        return f'{user}@{self.domain}'

    # ---- life -----------------------------------------------------------

    def start(self, timeout: float = 15.0) -> Prosody:
        if shutil.which('prosody') is None:
            raise ProsodyError('prosody is not installed (Debian: '
                               'apt-get install prosody)')
        self.dir = Path(tempfile.mkdtemp(prefix='prosody-'))
        (self.dir / 'data').mkdir()
        (self.dir / 'certs').mkdir()
        self.c2s_port = free_port()
        self.component_port = free_port()
        self.config_path.write_text(self._config())
        try:
            for user, password in self.accounts.items():
                self.prosodyctl('register', user, self.domain, password)
            self.process = subprocess.Popen(
                ['prosody', '--config', str(self.config_path), '-F'],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True)
            self._wait_listening(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise ProsodyError('prosody exited with status '
                                   f'{self.process.returncode}: '
                                   + self._own_words())
            if all(self._accepts(port) for port in (self.c2s_port,
                                                    self.component_port)):
                return
            time.sleep(0.05)
        raise ProsodyError('prosody did not listen within '
                           f'{timeout} s: ' + self._own_words())

    def _accepts(self, port: int) -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((self.host, port)) == 0

    def _own_words(self) -> str:
        out = b''
        if self.process is not None and self.process.stdout is not None \
                and self.process.poll() is not None:
            out = self.process.stdout.read()
        log = ''
        if self.dir is not None and self.log_path.exists():
            log = self.log_path.read_text(errors='replace')
        return (out.decode(errors='replace') + log).strip()

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
        """Stop the server this object started, and remove its files."""
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
            if process.stdout is not None:
                process.stdout.close()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> Prosody:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def connect_client(xmpp: Any, server: Prosody) -> None:
    """Connect a slixmpp ClientXMPP to the server: plain TCP, SCRAM without
    TLS, on slixmpp 1.8.3 and the newest alike (as `slixmpp-ping --no-tls`
    does)."""
    from slixmpp_ping_c.cli import start_connecting
    start_connecting(xmpp, server.host, server.c2s_port, no_tls=True)


def connect_component(xmpp: Any, server: Prosody) -> None:
    """Connect a slixmpp ComponentXMPP made with server.component and
    server.component_secret."""
    xmpp.connect(server.host, server.component_port)
