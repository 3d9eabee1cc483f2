"""Against Prosody (tests/prosody.py): the plugin registered in
session_start, after the stream header.  The application sees what it sees
with slixmpp's plugin registered the same way, and with ours the C fast
path starts during the session: its counters move."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import slixmpp

from slixmpp_ping_c import session as login

from tests.conftest import PROSODY_ACCOUNTS
from tests.memstream import OLD_SLIXMPP, _without_ca_loading, use_ping_plugin
from tests.prosody import Prosody
from tests.test_prosody import (
    OURS, PING_TIMEOUT, START_TIMEOUT, Session, _keep_address, ping_plugin, unique_resource, until)

if TYPE_CHECKING:
    from tests.conftest import Impl

ROUNDS = 30


async def client_registering_late(session: Session, user: str, impl: Impl
                                  ) -> slixmpp.ClientXMPP:
    """A started client whose xep_0199 was registered by its own
    session_start handler."""
    server = session.server
    jid = f'{user}@{server.domain}/{unique_resource("late-" + impl.name)}'
    with _without_ca_loading():
        xmpp = slixmpp.ClientXMPP(jid, PROSODY_ACCOUNTS[user])
    xmpp.register_plugin('xep_0030')

    def register(event: Any) -> None:
        with use_ping_plugin(impl.cls):
            xmpp.register_plugin('xep_0199')
    xmpp.add_event_handler('session_start', register)
    if OLD_SLIXMPP:
        _keep_address(xmpp, server)
    session.sessions.append(await login.client_session(
        xmpp, server.host, server.c2s_port, no_tls=True, timeout=START_TIMEOUT))
    assert type(xmpp.plugin['xep_0199']) is impl.cls
    return xmpp


async def test_registered_in_session_start(prosody: Prosody, impl: Impl) -> None:
    async with Session(prosody) as session:
        alice = await client_registering_late(session, 'alice', impl)
        bob = await session.client('bob', OURS)
        received: list[str] = []
        alice.add_event_handler('message', lambda msg: received.append(str(msg['body'])))
        target = alice.boundjid.full
        for n in range(ROUNDS):
            bob.send_message(mto=target, mbody=f'm{n}')
            answer = await ping_plugin(bob).send_ping(target, timeout=PING_TIMEOUT)
            assert (answer['type'], answer['from'].full) == ('result', target)
            # alice pings her server: a pong for her plugin to complete.
            assert await ping_plugin(alice).ping(timeout=PING_TIMEOUT) > 0
        await until(lambda: len(received) == ROUNDS, PING_TIMEOUT, 'messages')
        assert received == [f'm{n}' for n in range(ROUNDS)]
        if impl.is_c:
            answered, completed = ping_plugin(alice)._tap.counters()
            # The first rounds may go slixmpp's way, until a proven point.
            assert ROUNDS - 3 <= answered <= ROUNDS
            assert ROUNDS - 3 <= completed <= ROUNDS
