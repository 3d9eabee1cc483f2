"""``import slixmpp_ping_c`` makes slixmpp load our XEP_0199 as 'xep_0199'.

Each case runs in a fresh interpreter (``sys.executable -c``) so the import
order is the real one and nothing this test session imported (conftest
imports slixmpp's own plugin) interferes.  These are about our package only,
so they are not parametrised over implementations.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from tests.children import child_env
from tests.memstream import OLD_SLIXMPP, OWN_CONFIG, split_config

# Each case in a fresh interpreter.
pytestmark = pytest.mark.slow

# Runs the case's setup and registration inside a running loop (as an
# application would), then reports what slixmpp loaded.
SCRIPT = '''
import asyncio, json, sys
import slixmpp

{imports}

class Dependent(slixmpp.plugins.BasePlugin):
    """A third-party plugin that depends on xep_0199."""
    name = 'dependent_on_ping'
    description = 'depends on xep_0199'
    dependencies = {{'xep_0199'}}

async def main():
    xmpp = slixmpp.ClientXMPP('user@example.com/res', 'pw'{client_kwargs})
{register}
    import slixmpp_ping_c
    plugin = xmpp.plugin['xep_0199']
    from slixmpp.plugins.base import PLUGIN_REGISTRY
    print(json.dumps({{
        'class': type(plugin).__module__ + '.' + type(plugin).__qualname__,
        'ours': isinstance(plugin, slixmpp_ping_c.XEP_0199),
        'exact': type(plugin) is slixmpp_ping_c.XEP_0199,
        'registry_is_ours': PLUGIN_REGISTRY['xep_0199'] is slixmpp_ping_c.XEP_0199,
        'config': plugin.config,
        'attrs': [plugin.keepalive, plugin.interval, plugin.timeout],
    }}))

asyncio.run(main())
'''

DEFAULT_CONFIG = {'keepalive': False, 'interval': 300, 'timeout': 30}


def run_case(imports: str, register: str, client_kwargs: str = '') -> dict[str, Any]:
    code = SCRIPT.format(imports=textwrap.dedent(imports),
                         register=textwrap.indent(textwrap.dedent(register), '    '),
                         client_kwargs=client_kwargs)
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          env=child_env(), timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_ours(result: dict[str, Any], config: dict[str, Any] = DEFAULT_CONFIG) -> None:
    assert result['ours'] and result['exact'], result['class']
    assert result['registry_is_ours']
    theirs, ours = split_config(result['config'])
    assert theirs == config
    assert ours == OWN_CONFIG
    assert result['attrs'] == [config['keepalive'], config['interval'], config['timeout']]


def test_import_then_register() -> None:
    assert_ours(run_case('import slixmpp_ping_c', "xmpp.register_plugin('xep_0199')"))


def test_slixmpp_plugin_imported_before_us() -> None:
    assert_ours(run_case('''
        import slixmpp.plugins.xep_0199
        from slixmpp.plugins.xep_0199 import XEP_0199
        import slixmpp_ping_c
    ''', "xmpp.register_plugin('xep_0199')"))


def test_slixmpp_plugin_imported_after_us() -> None:
    assert_ours(run_case('''
        import slixmpp_ping_c
        import slixmpp.plugins.xep_0199
        import slixmpp.plugins.xep_0199.ping
        import slixmpp.plugins
    ''', "xmpp.register_plugin('xep_0199')"))


def test_plugin_whitelist_register_plugins() -> None:
    assert_ours(run_case('import slixmpp_ping_c', 'xmpp.register_plugins()',
                         client_kwargs=", plugin_whitelist=['xep_0199']"))


def test_plugin_config_given_to_client() -> None:
    config = {'keepalive': True, 'interval': 60, 'timeout': 10}
    assert_ours(run_case('import slixmpp_ping_c', "xmpp.register_plugin('xep_0199')",
                         client_kwargs=f", plugin_config={{'xep_0199': {config!r}}}"), config)


def test_pulled_in_as_dependency_of_third_party_plugin() -> None:
    assert_ours(run_case('import slixmpp_ping_c', '''
        slixmpp.plugins.base.register_plugin(Dependent)
        xmpp.register_plugin('dependent_on_ping')
    '''))


def test_pulled_in_as_dependency_of_xep_0410() -> None:
    # XEP-0410 (MUC self-ping, depends on xep_0199) only exists in newer
    # slixmpp; 1.8.3 has no bundled plugin depending on xep_0199, so the
    # same path is taken through the third-party Dependent plugin there.
    if OLD_SLIXMPP:
        register = '''
            slixmpp.plugins.base.register_plugin(Dependent)
            xmpp.register_plugin('dependent_on_ping')
        '''
    else:
        register = "xmpp.register_plugin('xep_0410')"
    assert_ours(run_case('import slixmpp_ping_c', register))


@pytest.mark.parametrize('imports', ['', 'import slixmpp_ping_c'],
                         ids=['not-imported-before', 'imported-before'])
@pytest.mark.parametrize('config', [None, {'keepalive': True, 'interval': 60, 'timeout': 10}],
                         ids=['default-config', 'custom-config'])
def test_register_with_module_argument(imports: str, config: dict[str, Any] | None) -> None:
    register = f"xmpp.register_plugin('xep_0199', {config!r}, module='slixmpp_ping_c')"
    assert_ours(run_case(imports, register), config or DEFAULT_CONFIG)
