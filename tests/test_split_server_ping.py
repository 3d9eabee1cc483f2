"""ejabberd's own ping (mod_ping) to an idle client, relayed in two TCP
writes: what each plugin makes of it on this stack's expat.  expat 2.6 and
newer hold back a tag whose last bytes came in a read shorter than what
they held of it until more bytes arrive (reparse deferral); on an idle
connection that is whatever the server sends next, if it sends anything
before it gives up on the answer and ends the session.  Ours answers a ping
whose bytes have all arrived at once, on every expat; slixmpp's own plugin
when its parser shows it the ping.  Each outcome is written to the
test's report (``-rA`` shows it) and to build/split-server-ping.txt.
"""
from __future__ import annotations

import asyncio
import platform
import time
import xml.parsers.expat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import slixmpp
from tests.ejabberd import Ejabberd
from tests.memstream import EXPAT_DEFERS
from tests.test_ejabberd import Wire
from tests.test_prosody import SPLIT_GAP, EventLog, Proxy, Session, until

if TYPE_CHECKING:
    import pytest
    from tests.conftest import Impl

REPORT = Path(__file__).resolve().parent.parent / 'build' / 'split-server-ping.txt'
#: Seconds after its last part within which an answer counts as at once.
AT_ONCE = 1.0


def split_server_ping(domain: str) -> Callable[[bytes], list[bytes]]:
    """Cuts a read that ends with the server's ping to the client (the
    client is idle) inside the ping's start tag, 60 % into the stanza: the
    second part is shorter than what the first has of that tag, which is
    what makes an expat that defers wait for more (its next try needs twice
    what it held)."""
    marker = f"from='{domain}'".encode(), f'from="{domain}"'.encode()

    def split(data: bytes) -> list[bytes]:
        start = data.rfind(b'<iq')
        if (start < 0 or b'urn:xmpp:ping' not in data or not data.endswith(b'</iq>')
                or not any(m in data[start:] for m in marker)):
            return [data]
        cut = start + int(0.6 * (len(data) - start))
        assert cut < data.index(b'>', start), f'the start tag ends before the cut: {data!r}'
        return [data[:cut], data[cut:]]
    return split


async def outcome_of_a_split_ping(server: Ejabberd, impl: Impl) -> tuple[str, float, bytes]:
    """('at once' | 'late' | 'session ended', seconds from the ping's last
    byte to the answer or to the end of the session, what the server sent
    after the ping by then)."""
    async with Proxy(server) as proxy, Session(server) as session:
        alice = await session.client('alice', impl, address=proxy.address)
        events = EventLog(alice, 'disconnected')
        wire = Wire(proxy, server.domain)
        proxy.split_down = split_server_ping(server.domain)
        budget = 2 * (server.ping_interval + server.ping_ack_timeout) + 5
        await until(lambda: bool(proxy.split_done), budget, 'a split server ping', wire.pings)
        last_byte = proxy.split_done[0]
        ping_id = wire.pings()[-1]
        down = proxy.relays[-1].down
        ping_end = len(down)
        end = last_byte + server.ping_ack_timeout + 5
        while time.monotonic() < end:
            after = bytes(down[ping_end:])
            if ping_id in wire.answered():
                # The relay saw the answer no later than this.
                took = time.monotonic() - last_byte
                return ('at once' if took < AT_ONCE else 'late'), took, after
            if events.count('disconnected'):
                return 'session ended', events.times['disconnected'][0] - last_byte, after
            await asyncio.sleep(0.005)
        raise AssertionError(f'no answer and no end of the session within {end - last_byte:.0f} s')


async def test_a_server_ping_in_two_writes(ejabberd: Ejabberd, impl: Impl,
                                           record_property: pytest.RecordProperty) -> None:
    """Ours (the C tap) answers at once on every expat; slixmpp's plugin, and
    ours without the tap (whose answers are slixmpp's handlers'), at once on
    expat 2.5, and on an expat that defers only once more bytes came (late)
    or not before ejabberd ended the session."""
    outcome, took, after = await outcome_of_a_split_ping(ejabberd, impl)
    line = (f'ejabberd {ejabberd.version()}, CPython {platform.python_version()}, '
            f'{xml.parsers.expat.EXPAT_VERSION}, slixmpp {slixmpp.__version__}: '
            f'{impl.name}: {outcome} ({took:.2f} s after the last byte, '
            f'the two parts {SPLIT_GAP} s apart; the server sent next: {after[:80]!r})')
    record_property('split server ping', line)
    REPORT.parent.mkdir(exist_ok=True)
    with REPORT.open('a') as report:
        report.write(line + '\n')
    if impl.is_c:
        assert outcome == 'at once', line
    elif EXPAT_DEFERS:
        # Answered once some later bytes came, or never.
        assert outcome in {'late', 'session ended'}, line
    else:
        assert outcome == 'at once', line
