"""What the benchmarks share: the two implementations, a fresh client on
the in-memory transport of tests/memstream.py, what the client wrote to it,
and the server's answers built from that."""
from __future__ import annotations

import asyncio
import gc
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: The tree whose slixmpp_ping_c is measured (benchmarks/compare.py sets it
#: to an older build); the tests' helpers always come from this one: the
#: package ``tests`` is imported from here first, so its modules are found
#: through its own path whatever comes first on sys.path.
PACKAGE_TREE = Path(os.environ.get('SLIXMPP_PING_C_BENCH_TREE') or ROOT)
if PACKAGE_TREE != ROOT:
    import tests  # noqa: F401
    sys.path.insert(0, str(PACKAGE_TREE))

# slixmpp's class is taken before slixmpp_ping_c is imported, as the tests do.
from slixmpp.plugins.xep_0199.ping import XEP_0199 as SlixmppXEP_0199  # noqa: E402

import slixmpp_ping_c  # noqa: E402
if PACKAGE_TREE != ROOT:
    # What an older tree lacks of the package (slixmpp_ping_c.session, which
    # the benchmarks log in with) comes from this one; what it has, the code
    # measured, stays its own (its directory is searched first).
    slixmpp_ping_c.__path__.append(str(ROOT / 'slixmpp_ping_c'))
from tests import memstream  # noqa: E402
from tests.leakcheck import rss_bytes  # noqa: E402,F401 (for run.py)
from tests.memstream import (  # noqa: E402
    CLIENT_JID, SERVER, MemoryStream, client_stream, client_stream_registered_late)

IMPLEMENTATIONS: dict[str, type] = {
    'slixmpp': SlixmppXEP_0199,
    'ours': slixmpp_ping_c.XEP_0199,
}

#: Allocations of the in-memory transport (its write buffer, take()).
TRANSPORT_FILE: str = memstream.__file__

#: Long enough that no ping times out while being measured.
PING_TIMEOUT = 3600.0

_IQ_ID = re.compile(rb"<iq\b[^>]*?\sid=(['\"])(.*?)\1")


@asynccontextmanager
async def fresh_client(impl: str, check_pending: bool = True
                       ) -> AsyncIterator[MemoryStream]:
    """A bound ClientXMPP with ``impl``'s xep_0199, garbage collected
    before the caller starts measuring."""
    async with client_stream(IMPLEMENTATIONS[impl],
                             check_pending=check_pending) as stream:
        gc.collect()
        yield stream


@asynccontextmanager
async def late_client(impl: str) -> AsyncIterator[MemoryStream]:
    """fresh_client(), with xep_0199 registered in session_start."""
    async with client_stream_registered_late(IMPLEMENTATIONS[impl]) as stream:
        gc.collect()
        yield stream


class Written:
    """Counts the <iq/> stanzas the client writes to its transport and keeps
    their bytes (taken from the transport, so they are allocated in
    memstream.py: tracemalloc can leave them out)."""

    def __init__(self, stream: MemoryStream) -> None:
        self._stream = stream
        self._chunks: list[bytes] = []
        self.count = 0

    def poll(self) -> int:
        data = self._stream.take_sent()
        if data:
            self._chunks.append(data)
            self.count += data.count(b'<iq ')
        return self.count

    async def until(self, n: int, patience: int = 10_000) -> None:
        """Run the event loop until n iqs have been written."""
        seen, idle = self.count, 0
        while self.poll() < n:
            idle = 0 if self.count > seen else idle + 1
            if idle > patience:
                raise RuntimeError(f'{self.count} of {n} iqs written')
            seen = self.count
            await asyncio.sleep(0)

    def ids(self) -> list[str]:
        data = b''.join(self._chunks)
        return [m.group(2).decode() for m in _IQ_ID.finditer(data)]


class FullCollections:
    """Counts the cyclic GC's full (generation 2) collections while in a
    with block: what makes a large number of pings in flight cost more."""

    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> FullCollections:
        gc.callbacks.append(self._seen)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self._seen)

    def _seen(self, phase: str, info: dict[str, int]) -> None:
        if phase == 'stop' and info['generation'] == 2:
            self.count += 1


def paired_blocks(feeds: dict[str, Callable[[bytes], Any]], data: Sequence[bytes],
                  rounds: int) -> dict[str, list[float]]:
    """µs per read of each feed, one block of ``data`` a round each, in turn
    (A B B A A B ...), so that the machine's own noise hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in feeds}
    order = list(feeds)
    for i in range(rounds):
        for name in order if i % 2 == 0 else order[::-1]:
            feed = feeds[name]
            start = time.perf_counter()
            for read in data:
                feed(read)
            times[name].append((time.perf_counter() - start) / len(data) * 1e6)
    return times


def reads(stanzas: list[str], per_read: int) -> list[bytes]:
    """The stanzas as the server's reads, ``per_read`` stanzas each."""
    return [''.join(stanzas[i:i + per_read]).encode()
            for i in range(0, len(stanzas), per_read)]


def ping_request(id_: str) -> str:
    return (f"<iq type='get' id='{id_}' from='{SERVER}' to='{CLIENT_JID}'>"
            "<ping xmlns='urn:xmpp:ping'/></iq>")


def pong(id_: str) -> str:
    return f"<iq type='result' id='{id_}' from='{SERVER}' to='{CLIENT_JID}'/>"


CHAT_MESSAGE = (f"<message from='friend@example.net/p' to='{CLIENT_JID}' "
                "type='chat'><body>hi</body></message>")


def send_pings(plugin: Any, n: int, *, distinct: bool = False
               ) -> list[asyncio.Task[float]]:
    """n ping() tasks: to the server, or (distinct) to n JIDs of their own,
    as a gateway pings its users."""
    targets = ([f'user{i}@example.net/r' for i in range(n)] if distinct
               else [SERVER] * n)
    return [asyncio.create_task(plugin.ping(jid, timeout=PING_TIMEOUT))
            for jid in targets]
