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

import re
import shutil
import subprocess
from pathlib import Path

from tests.loopback_server import (DOMAIN, LoopbackServer, ServerError, connect_client, free_port)

__all__ = ['COMPONENT', 'COMPONENT_SECRET', 'DOMAIN', 'Prosody', 'ProsodyError',
           'connect_client', 'free_port']

COMPONENT = 'comp.localhost'
COMPONENT_SECRET = 'component-secret'


class ProsodyError(ServerError):
    """Prosody did not start (or a prosodyctl command failed)."""


def _lua(value: str) -> str:
    return '"' + value.replace('\\', '\\\\').replace('"', '\\"') + '"'


class Prosody(LoopbackServer):
    """One Prosody server; see the module's docstring."""

    name = 'prosody'
    error = ProsodyError

    def __init__(self, accounts: dict[str, str] | None = None,
                 smacks_hibernation: int = 60,
                 extra_config: str = '') -> None:
        super().__init__(accounts)
        self.smacks_hibernation = smacks_hibernation
        #: Lua lines added to the global section of the configuration.
        self.extra_config = extra_config
        self.component = COMPONENT
        self.component_secret = COMPONENT_SECRET
        self.component_port = 0

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

    def version(self) -> str:
        match = re.search(r'Prosody version (\S+)',
                          self.log_path.read_text(errors='replace'))
        return match.group(1) if match else 'unknown'

    def complaints(self) -> list[str]:
        text = self.log_path.read_text(errors='replace')
        return [line for line in text.splitlines()
                if re.search(r'\t(warn|error)\t', line)]

    def prosodyctl(self, *args: str) -> str:
        done = subprocess.run(
            ['prosodyctl', '--config', str(self.config_path), *args],
            check=False, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise ProsodyError(f'prosodyctl {" ".join(args)} failed: '
                               f'{done.stdout}{done.stderr}')
        return done.stdout

    # ---- life -----------------------------------------------------------

    def _prepare(self) -> None:
        if shutil.which('prosody') is None:
            raise ProsodyError('prosody is not installed (Debian: '
                               'apt-get install prosody)')
        assert self.dir is not None
        (self.dir / 'data').mkdir()
        (self.dir / 'certs').mkdir()
        self.c2s_port = free_port()
        self.component_port = free_port()
        self.config_path.write_text(self._config())
        for user, password in self.accounts.items():
            self.prosodyctl('register', user, self.domain, password)

    def _command(self) -> list[str]:
        return ['prosody', '--config', str(self.config_path), '-F']

    def _ports(self) -> tuple[int, ...]:
        return (self.c2s_port, self.component_port)
