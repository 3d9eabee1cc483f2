"""A throwaway ejabberd (Debian 12's 23.01, Debian 13's 24.12, unstable's
26) for tests and the end-to-end benchmark.

Erlang runs ejabberd in the foreground of a child process, bound to
127.0.0.1 on free ports, with its configuration, Mnesia database, log and
output in a temporary directory: c2s without TLS (PLAIN: see
``sasl_mechanism``), mod_ping pinging
every client idle for ``ping_interval`` seconds and killing its session when
the answer takes more than ``ping_ack_timeout``, Stream Management
(mod_stream_mgmt), and ejabberd's HTTP API on a second loopback port, open to
loopback only, through which the accounts are created (``api()``).

The Erlang node runs without distribution (no node name): nothing listens
for other nodes and no epmd is started, so none is left behind.
``stop()`` ends the process group it started and removes the directory.
If ejabberd cannot start, EjabberdError carries its own words.

    with Ejabberd(accounts={'alice': 'pw', 'bob': 'pw'}) as server:
        server.c2s_port, server.domain, server.api('connected_users')
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.loopback_server import LoopbackServer, ServerError, connect_client, free_port

__all__ = ['FLOOD_MOD_PING', 'Ejabberd', 'EjabberdError', 'connect_client', 'erl_libs']


#: mod_ping for a flood (tests/test_ejabberd.py, benchmarks/e2e.py): a ping
#: after 1 s without a stanza from the client, the session killed when the
#: answer takes over 10 s.  ejabberd reads the client's answer only after
#: the pings the client sent before it, 7,500-17,000 a second on a 2-core
#: machine: the answer to a ping it sends during a flood of 50,000 can take
#: some seconds to be read.
FLOOD_MOD_PING = {'ping_interval': 1, 'ping_ack_timeout': 10}


class EjabberdError(ServerError):
    """ejabberd did not start (or an API call failed)."""


def erl_libs() -> str:
    """Where Debian puts ejabberd's Erlang applications (ejabberdctl's
    ERL_LIBS: /usr/lib/<multiarch>)."""
    found = glob.glob('/usr/lib/*/ejabberd-*/ebin/ejabberd.app')
    if shutil.which('erl') is None or not found:
        raise EjabberdError('ejabberd is not installed (Debian: '
                            'apt-get install ejabberd)')
    return str(Path(found[0]).parent.parent.parent)


def _yaml(value: str) -> str:
    """A YAML double-quoted string (JSON's are valid YAML)."""
    return json.dumps(value)


class Ejabberd(LoopbackServer):
    """One ejabberd server; see the module's docstring."""

    name = 'ejabberd'
    error = EjabberdError
    #: ejabberd since 24.x (XEP-0474 downgrade protection) refuses SCRAM
    #: whose GS2 flag is "y" ("Invalid channel binding", its issue 4322),
    #: which slixmpp sends on a connection without TLS: PLAIN on loopback
    #: logs in on 23.01, 24.12 and 26 alike.
    sasl_mechanism = 'PLAIN'

    def __init__(self, accounts: dict[str, str] | None = None,
                 ping_interval: int = 2, ping_ack_timeout: int = 3,
                 extra_config: str = '') -> None:
        super().__init__(accounts)
        #: seconds without a stanza from a client before mod_ping pings it
        self.ping_interval = ping_interval
        #: seconds mod_ping waits for the answer before killing the session
        self.ping_ack_timeout = ping_ack_timeout
        #: YAML lines added at the end of the configuration (top level).
        self.extra_config = extra_config
        self.http_port = 0

    # ---- files ----------------------------------------------------------

    @property
    def config_path(self) -> Path:
        assert self.dir is not None
        return self.dir / 'ejabberd.yml'

    @property
    def log_path(self) -> Path:
        assert self.dir is not None
        return self.dir / 'ejabberd.log'

    def _config(self) -> str:
        return f'''
hosts:
  - {_yaml(self.domain)}
loglevel: info
log_rotate_count: 0
certfiles: []
auth_method: internal
auth_password_format: scram
listen:
  - port: {self.c2s_port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: false
    max_stanza_size: 262144
  - port: {self.http_port}
    ip: "127.0.0.1"
    module: ejabberd_http
    request_handlers:
      /api: mod_http_api
access_rules:
  c2s:
    allow: all
api_permissions:
  "loopback":
    who:
      ip: 127.0.0.0/8
    what:
      - "*"
modules:
  mod_http_api: {{}}
  mod_disco: {{}}
  mod_roster: {{}}
  mod_stream_mgmt: {{}}
  mod_ping:
    send_pings: true
    ping_interval: {self.ping_interval}
    ping_ack_timeout: {self.ping_ack_timeout}
    timeout_action: kill
{self.extra_config}
'''

    # ---- life -----------------------------------------------------------

    def _prepare(self) -> None:
        assert self.dir is not None
        self.erl_libs = erl_libs()
        (self.dir / 'database').mkdir()
        self.c2s_port = free_port()
        self.http_port = free_port()
        self.config_path.write_text(self._config())

    def _command(self) -> list[str]:
        assert self.dir is not None
        # No -sname/-name: no distribution, so no epmd; -start_epmd false
        # keeps it so even if ERL_FLAGS asked for a node name.
        return ['erl', '-noinput', '-start_epmd', 'false',
                '-mnesia', 'dir', _yaml(str(self.dir / 'database')),
                '-s', 'ejabberd']

    def _environment(self) -> dict[str, str]:
        assert self.dir is not None
        return {**os.environ,
                'EJABBERD_CONFIG_PATH': str(self.config_path),
                'EJABBERD_LOG_PATH': str(self.log_path),
                'ERL_LIBS': self.erl_libs,
                'ERL_CRASH_DUMP_BYTES': '0',
                'HOME': str(self.dir)}

    def _ports(self) -> tuple[int, ...]:
        return (self.c2s_port, self.http_port)

    def _started(self) -> None:
        for user, password in self.accounts.items():
            self.api('register', user=user, host=self.domain,
                     password=password)

    def api(self, command: str, **arguments: Any) -> Any:
        """Run one of ejabberd's commands through its HTTP API; its JSON
        answer."""
        request = urllib.request.Request(
            f'http://{self.host}:{self.http_port}/api/{command}',
            data=json.dumps(arguments).encode(),
            # Host names the virtual host whose mod_http_api options apply
            # (24.12 and newer warn at each call for a host without them).
            headers={'Content-Type': 'application/json', 'Host': self.domain})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return json.load(answer)
        except urllib.error.HTTPError as exc:
            raise EjabberdError(f'{command} {arguments}: {exc.code} '
                                f'{exc.read().decode(errors="replace")}'
                                ) from None

    def resources(self, user: str) -> list[str]:
        """The resources of the user's sessions that ejabberd has now."""
        return list(self.api('user_resources', user=user, host=self.domain))

    def version(self) -> str:
        match = re.search(r'ejabberd (\S+) is running', self.api('status'))
        return match.group(1) if match else 'unknown'

    def complaints(self) -> list[str]:
        return self.complaints_since(0)

    def complaints_since(self, offset: int) -> list[str]:
        """Its warnings and errors written after ``offset`` bytes of its
        output (output_path)."""
        text = self.output_path.read_bytes()[offset:].decode(errors='replace')
        return re.findall(r'.*\[(?:warning|error|critical)\].*', text)
