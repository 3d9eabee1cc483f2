"""Plugin object, configuration, stanza plugin, disco feature, plugin_end."""
from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

import pytest
import slixmpp
from slixmpp.exceptions import IqTimeout
from slixmpp.plugins.base import BasePlugin
from slixmpp.plugins.xep_0199 import Ping

from tests.memstream import (
    CLIENT_JID, KEEPALIVE_HOOKS_OUTLIVE_PLUGIN, OWN_CONFIG, PING_NS, SERVER, MemoryStream,
    client_stream, error_xml, iq_xml, ping_xml, split_config)

if TYPE_CHECKING:
    from tests.conftest import Impl

DISCO_INFO_NS = 'http://jabber.org/protocol/disco#info'
NOT_IMPLEMENTED_TEXT = 'No handlers registered for this request.'


def test_class_attributes(impl: Impl) -> None:
    cls = impl.cls
    assert issubclass(cls, BasePlugin)
    assert cls.name == 'xep_0199'
    assert cls.description == 'XEP-0199: XMPP Ping'
    assert set(cls.dependencies) == {'xep_0030'}
    theirs, ours = split_config(cls.default_config)
    assert theirs == {'keepalive': False, 'interval': 300, 'timeout': 30}
    assert ours == (OWN_CONFIG if impl.is_ours else {})


async def test_registered_instance_is_impl(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        plugin = s.xmpp.plugin['xep_0199']
        assert type(plugin) is impl.cls
        # dependencies were loaded too
        assert s.xmpp.plugin.enabled('xep_0030')


def assert_config(impl: Impl, plugin: BasePlugin,
                  expected: dict[str, object]) -> None:
    """slixmpp's options as expected; ours (only ours has any) at their
    defaults."""
    theirs, ours = split_config(plugin.config)
    assert theirs == expected
    assert ours == (OWN_CONFIG if impl.is_ours else {})


async def test_default_config_readable(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        plugin = s.ping_plugin
        assert (plugin.keepalive, plugin.interval, plugin.timeout) == (False, 300, 30)
        assert_config(impl, plugin, {'keepalive': False, 'interval': 300, 'timeout': 30})


async def test_config_given_at_registration(impl: Impl) -> None:
    async with client_stream(impl.cls, config={'interval': 60, 'timeout': 10}) as s:
        plugin = s.ping_plugin
        assert (plugin.keepalive, plugin.interval, plugin.timeout) == (False, 60, 10)
        assert_config(impl, plugin, {'keepalive': False, 'interval': 60, 'timeout': 10})


async def test_config_attributes_writable(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        plugin = s.ping_plugin
        plugin.timeout = 5
        plugin.interval = 42
        plugin.keepalive = True
        assert (plugin.keepalive, plugin.interval, plugin.timeout) == (True, 42, 5)
        # BasePlugin semantics: the attributes are views of plugin.config
        assert_config(impl, plugin, {'keepalive': True, 'interval': 42, 'timeout': 5})
        plugin.keepalive = False  # setting the flag alone schedules nothing
        assert 'Ping keepalive' not in s.xmpp.scheduled_events


@pytest.mark.parametrize('method', ['ping', 'send_ping'])
async def test_timeout_attribute_is_the_default_timeout(impl: Impl, method: str) -> None:
    """``plugin.timeout = x`` then a ping without timeout gives up after x
    seconds (not the 30 s default)."""
    async with client_stream(impl.cls) as s:
        s.ping_plugin.timeout = 0.05
        call = getattr(s.ping_plugin, method)('nobody@example.net')
        with pytest.raises(IqTimeout):
            await asyncio.wait_for(call, 2)
        assert len(s.take_elements()) == 1  # the ping went out, nobody answered


async def test_iq_ping_stanza_plugin(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        iq = s.xmpp.Iq()
        assert isinstance(iq['ping'], Ping)
        iq = s.xmpp.Iq(stype='get', sto='a@example.net')
        iq.enable('ping')
        assert iq.xml.find(f'{{{PING_NS}}}ping') is not None
        assert s.c14n(str(iq)) == s.c14n(ping_xml(iq['id'], to='a@example.net'))
        # a received ping parses into the same plugin class
        received = slixmpp.Iq(s.xmpp, ET.fromstring(
            f'<iq xmlns="jabber:client" type="get" id="x"><ping xmlns="{PING_NS}"/></iq>'))
        assert isinstance(received['ping'], Ping)


# -- disco and plugin_end -------------------------------------------------------

async def disco_features(s: MemoryStream) -> set[str]:
    """Ask the client for disco#info over the wire, as a server would."""
    s.feed(iq_xml('get', 'disco1', frm=SERVER, to=CLIENT_JID,
                  payload=f'<query xmlns="{DISCO_INFO_NS}"/>'))
    await s.settle()
    (reply,) = s.take_elements()
    assert reply.get('type') == 'result'
    return {f.get('var') for f in reply.iter(f'{{{DISCO_INFO_NS}}}feature')}


async def test_disco_feature_after_session_bind(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        assert PING_NS in await disco_features(s)


async def test_plugin_end_removes_feature_and_handler(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        assert 'Ping' in s.handler_names()
        s.xmpp.plugin.disable('xep_0199')
        assert not s.xmpp.plugin.enabled('xep_0199')
        assert 'Ping' not in s.handler_names()
        assert PING_NS not in await disco_features(s)
        # With nobody answering pings, slixmpp's default iq handling replies
        # (Iq.unhandled: feature-not-implemented on both versions).
        s.feed(ping_xml('after-end', frm=SERVER, to=CLIENT_JID))
        await s.settle()
        assert s.take_stanzas() == s.canon_list(
            error_xml('after-end', 'feature-not-implemented', to=SERVER,
                      text=NOT_IMPLEMENTED_TEXT))


async def test_plugin_end_removes_keepalive_hooks(impl: Impl) -> None:
    config = {'keepalive': True, 'interval': 300, 'timeout': 30}
    async with client_stream(impl.cls, config=config) as s:
        # session_start enabled it; 'disconnected' disables it
        assert 'Ping keepalive' in s.xmpp.scheduled_events
        await s.drop_connection()
        assert 'Ping keepalive' not in s.xmpp.scheduled_events
        s.xmpp.plugin.disable('xep_0199')
        # a new session must not start the keepalive of an unloaded plugin
        await s.reconnect_transport()
        s.bind_client(CLIENT_JID)
        await s.settle()
        restarted = 'Ping keepalive' in s.xmpp.scheduled_events
        if impl.name == 'slixmpp' and KEEPALIVE_HOOKS_OUTLIVE_PLUGIN:
            # slixmpp 1.15 on registers lambdas for session_start and
            # session_resumed but plugin_end deletes the bound method, so
            # the hooks survive plugin_end (a slixmpp bug; earlier versions
            # registered the bound method and remove it).  The C plugin
            # removes them.
            assert restarted
            s.xmpp.cancel_schedule('Ping keepalive')
        else:
            assert not restarted
