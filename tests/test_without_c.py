"""The plugin without its C extension, in a fresh interpreter each: with
SLIXMPP_PING_C_NO_EXTENSIONS=1, and with ``slixmpp_ping_c._core`` not
importable.  Either way it pings and answers pings in memory on the
pure-Python core, and says so at DEBUG; with neither, it runs on C."""
from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.test_compat_registration import child_env

# Each test runs a child interpreter.
pytestmark = pytest.mark.slow

SCRIPT = '''
import asyncio, json, logging, sys
{prelude}
messages = []
class Keep(logging.Handler):
    def emit(self, record):
        messages.append(record.getMessage())
core_log = logging.getLogger('slixmpp_ping_c.plugin')
core_log.setLevel(logging.DEBUG)
core_log.addHandler(Keep())

import slixmpp_ping_c
from tests.memstream import CLIENT_JID, SERVER, client_stream, ping_xml, result_xml

JULIET = 'juliet@capulet.example/balcony'

async def main():
    async with client_stream(slixmpp_ping_c.XEP_0199) as s:
        plugin = s.ping_plugin
        task = asyncio.create_task(plugin.ping(JULIET, timeout=5))
        await s.settle()
        _, element = s.take_one()
        s.feed(result_xml(element.get('id'), frm=JULIET))
        rtt = await asyncio.wait_for(task, 5)
        s.feed(ping_xml('asked-1', frm=SERVER))
        await s.settle()
        answers = s.take_stanzas()
        # The command's statistics, on the same core.
        from slixmpp_ping_c.cli.report import Stats
        cli_stats = Stats()
        cli_stats.pong(0.25)
        print(json.dumps({{
            'rtt': rtt,
            'answers': answers,
            'expected': s.canon_list(result_xml('asked-1', to=SERVER)),
            'table': type(plugin._pings).__module__,
            'tapped': plugin._tap is not None,
            'c_loaded': 'slixmpp_ping_c._core' in sys.modules
                        and sys.modules['slixmpp_ping_c._core'] is not None,
            'exports_c': 'build_ping' in slixmpp_ping_c.__all__,
            'stats': plugin.stats(JULIET)[:3],
            'log': messages,
            'cli_peer': type(cli_stats.answers).__module__,
            'cli_received': cli_stats.received,
        }}))

asyncio.run(main())
'''


def run_plugin(prelude: str = '', **env: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, '-c', SCRIPT.format(prelude=prelude)],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**child_env(), **env})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_pings_in_memory(result: dict[str, Any]) -> None:
    assert result['rtt'] >= 0
    assert result['stats'] == [1, 1, 0]
    assert result['answers'] == result['expected']


def assert_pure(result: dict[str, Any]) -> None:
    assert_pings_in_memory(result)
    assert result['table'] == 'slixmpp_ping_c._pycore'
    assert not result['tapped'] and not result['c_loaded']
    assert not result['exports_c']
    assert 'XEP-0199 on the pure-Python core' in result['log']
    assert result['cli_peer'] == 'slixmpp_ping_c._pycore'
    assert result['cli_received'] == 1


def test_no_extensions_environment_variable() -> None:
    result = run_plugin(SLIXMPP_PING_C_NO_EXTENSIONS='1')
    assert_pure(result)
    assert 'SLIXMPP_PING_C_NO_EXTENSIONS is set: the C core is not loaded' in result['log']


def test_extension_that_cannot_be_imported() -> None:
    result = run_plugin("sys.modules['slixmpp_ping_c._core'] = None",
                        SLIXMPP_PING_C_NO_EXTENSIONS='')
    assert_pure(result)
    assert any(m.startswith('The C core cannot be imported') for m in result['log'])


@pytest.mark.parametrize('value', ['', None], ids=['empty', 'unset'])
def test_c_core_by_default(value: str | None) -> None:
    env = child_env()
    env.pop('SLIXMPP_PING_C_NO_EXTENSIONS', None)
    if value is not None:
        env['SLIXMPP_PING_C_NO_EXTENSIONS'] = value
    proc = subprocess.run([sys.executable, '-c', SCRIPT.format(prelude='')],
                          capture_output=True, text=True, timeout=60, check=False,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert_pings_in_memory(result)
    assert result['table'] == 'slixmpp_ping_c._core'
    assert result['cli_peer'] == 'slixmpp_ping_c._core'
    assert result['tapped'] and result['c_loaded'] and result['exports_c']
    assert 'XEP-0199 on the C core' in result['log']
    assert not [m for m in result['log'] if 'pure-Python' in m or m.startswith(
        ('The C core cannot', 'SLIXMPP_PING_C_NO_EXTENSIONS'))]
