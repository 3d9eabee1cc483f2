"""slixmpp_ping_c.session against a real Prosody: the log-in the command,
the tests, the demo and the benchmarks share.  The command's own messages
for a client's failures are checked in tests/test_cli.py; here, what the
API gives its other users: a component's session, a component refused, a
clean close, a connection lost."""

from __future__ import annotations

import asyncio

import pytest
import slixmpp

from slixmpp_ping_c.session import LoginFailed, client_session, component_session
from tests.conftest import PROSODY_ACCOUNTS
from tests.memstream import _without_ca_loading
from tests.prosody import Prosody

TIMEOUT = 10.0


def component(server: Prosody, secret: str) -> slixmpp.ComponentXMPP:
    with _without_ca_loading():
        return slixmpp.ComponentXMPP(server.component, secret, server.host,
                                     server.component_port)


def client(server: Prosody, user: str, password: str) -> slixmpp.ClientXMPP:
    with _without_ca_loading():
        return slixmpp.ClientXMPP(f'{user}@{server.domain}/session-test', password)


async def test_a_component_logs_in_and_closes_cleanly(prosody: Prosody) -> None:
    xmpp = component(prosody, prosody.component_secret)
    session = await component_session(xmpp, prosody.host, prosody.component_port,
                                      timeout=TIMEOUT)
    assert session.started.done() and not session.lost.is_set()
    assert await session.close()
    assert xmpp.transport is None
    assert not session.lost.is_set()  # a close is not a loss


async def test_a_component_with_a_wrong_secret_is_refused(prosody: Prosody) -> None:
    xmpp = component(prosody, 'not-the-secret')
    with pytest.raises(LoginFailed) as failure:
        await component_session(xmpp, prosody.host, prosody.component_port,
                                timeout=TIMEOUT)
    # One line: the stream error's condition, and the server's text if any.
    assert str(failure.value).startswith(
        f'{prosody.host}:{prosody.component_port} refused the stream: not-authorized')
    assert '\n' not in str(failure.value)
    assert xmpp.transport is None


async def test_a_wrong_password_fails_at_once(prosody: Prosody) -> None:
    xmpp = client(prosody, 'bob', 'not-the-password')
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(LoginFailed, match=r'^authentication failed for bob@localhost '
                                          r'\(not-authorized\)$'):
        await client_session(xmpp, prosody.host, prosody.c2s_port, no_tls=True,
                             timeout=TIMEOUT)
    assert loop.time() - began < TIMEOUT / 2


async def test_a_connection_lost_after_the_log_in_is_noticed(prosody: Prosody) -> None:
    xmpp = client(prosody, 'carol', PROSODY_ACCOUNTS['carol'])
    session = await client_session(xmpp, prosody.host, prosody.c2s_port, no_tls=True,
                                   timeout=TIMEOUT)
    try:
        xmpp.abort()  # the connection goes, unasked for by close()
        await asyncio.wait_for(session.lost.wait(), TIMEOUT)
    finally:
        await session.close()
