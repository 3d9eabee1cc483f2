"""A bare-socket XMPP client, no slixmpp: the floor of the end-to-end
benchmark (benchmarks/e2e.py).

It speaks just enough XMPP to log in over plain TCP (stream header, SASL
PLAIN, which the test Prosody allows without TLS, resource binding, a
session when the server requires one), then pipelines N pings to the
server in one write and waits until every answer has come back, finding
their ids in the bytes it reads.  No Stream Management.

    client = await BareClient.connect(host, port, 'user@localhost', 'pw')
    async with client:
        seconds = await client.flood(10_000)
"""
from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Callable
from types import TracebackType

STREAM_HEADER = ("<?xml version='1.0'?><stream:stream to='{domain}' "
                 "xmlns='jabber:client' "
                 "xmlns:stream='http://etherx.jabber.org/streams' "
                 "version='1.0'>")
SASL_NS = 'urn:ietf:params:xml:ns:xmpp-sasl'

#: The id of an <iq> (an answer is one short tag), and an error answer.
_IQ_ID = re.compile(rb"""<iq\b[^>]*?\sid=(['"])(.*?)\1""")
_IQ_ERROR = re.compile(rb"""<iq\b[^>]*?\stype=['"]error['"][^>]*>""")


class LoginError(RuntimeError):
    """The server refused or did not understand the login."""


class BareClient:
    """One logged-in c2s connection; see the module's docstring."""

    def __init__(self, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, domain: str) -> None:
        self.reader = reader
        self.writer = writer
        self.domain = domain
        self.jid = ''
        self._buffer = b''

    # ---- login ------------------------------------------------------------

    @classmethod
    async def connect(cls, host: str, port: int, jid: str, password: str,
                      resource: str = 'bare', timeout: float = 30.0
                      ) -> BareClient:
        user, domain = jid.split('@', 1)
        reader, writer = await asyncio.open_connection(host, port)
        client = cls(reader, writer, domain)
        try:
            await asyncio.wait_for(client._login(user, password, resource),
                                   timeout)
        except BaseException:
            writer.close()
            raise
        return client

    async def _until(self, pattern: bytes) -> re.Match[bytes]:
        """Read until pattern (a regex) matches the bytes not yet consumed;
        consume up to the end of the match."""
        regex = re.compile(pattern, re.S)
        while True:
            match = regex.search(self._buffer)
            if match is not None:
                self._buffer = self._buffer[match.end():]
                return match
            data = await self.reader.read(65536)
            if not data:
                raise LoginError('connection closed; read so far: '
                                 + self._buffer.decode(errors='replace'))
            self._buffer += data
            if b'<stream:error' in self._buffer and \
                    b'</stream:error>' in self._buffer:
                raise LoginError(self._buffer.decode(errors='replace'))

    async def _features(self) -> bytes:
        self.writer.write(STREAM_HEADER.format(domain=self.domain).encode())
        return (await self._until(rb'<stream:features>.*?</stream:features>'
                                  )).group(0)

    async def _login(self, user: str, password: str, resource: str) -> None:
        features = await self._features()
        if b'>PLAIN<' not in features:
            raise LoginError('no SASL PLAIN offered: ' + features.decode())
        token = base64.b64encode(
            f'\0{user}\0{password}'.encode()).decode()
        self.writer.write(f"<auth xmlns='{SASL_NS}' mechanism='PLAIN'>"
                          f"{token}</auth>".encode())
        outcome = (await self._until(
            rb'<(success|failure)\b.*?(/>|</\1>)')).group(0)
        if outcome.startswith(b'<failure'):
            raise LoginError('SASL PLAIN refused: ' + outcome.decode())
        features = await self._features()  # the stream restarts
        self.writer.write(
            "<iq type='set' id='bind_1'>"
            "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
            f"<resource>{resource}</resource></bind></iq>".encode())
        bound = (await self._until(
            rb"<iq\b[^>]*id=['\"]bind_1['\"].*?(/>|</iq>)")).group(0)
        jid = re.search(rb'<jid>(.*?)</jid>', bound)
        if jid is None:
            raise LoginError('bind failed: ' + bound.decode())
        self.jid = jid.group(1).decode()
        session = re.search(rb'<session\b[^>]*xmpp-session[^>]*(/>|>.*?'
                            rb'</session>)', features, re.S)
        if session is not None and b'optional' not in session.group(0):
            self.writer.write(
                b"<iq type='set' id='sess_1'><session "
                b"xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
            await self._until(rb"<iq\b[^>]*id=['\"]sess_1['\"].*?(/>|</iq>)")

    # ---- the pings ------------------------------------------------------------

    async def flood(self, n: int, prefix: str = 'p', timeout: float = 600.0,
                    on_start: Callable[[], object] | None = None) -> float:
        """Send n pings to the server in one write, wait for all n answers;
        the seconds from the write to the last answer (on_start is called
        just before the write).  Raises if an answer is an error, or on a
        timeout or a closed stream."""
        pings = ''.join(f"<iq type='get' id='{prefix}{i}' to='{self.domain}'>"
                        "<ping xmlns='urn:xmpp:ping'/></iq>"
                        for i in range(n)).encode()
        if on_start is not None:
            on_start()
        start = time.perf_counter()
        self.writer.write(pings)
        await asyncio.wait_for(self._answers(n, prefix.encode()), timeout)
        return time.perf_counter() - start

    async def _answers(self, n: int, prefix: bytes) -> None:
        pending = self._buffer
        self._buffer = b''
        answered: set[bytes] = set()
        read = self.reader.read
        while True:
            # Whole tags only: the rest waits for the next read.
            end = pending.rfind(b'>') + 1
            error = _IQ_ERROR.search(pending, 0, end)
            if error is not None:
                raise RuntimeError('not a pong: ' + error.group(0).decode())
            answered.update(id_ for _, id_ in _IQ_ID.findall(pending, 0, end)
                            if id_.startswith(prefix))
            pending = pending[end:]
            if len(answered) >= n:
                return
            data = await read(1 << 20)
            if not data:
                raise RuntimeError(f'stream closed after {len(answered)} '
                                   f'of {n} answers')
            pending += data

    # ---- the end ----------------------------------------------------------------

    async def close(self) -> None:
        try:
            self.writer.write(b'</stream:stream>')
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 5)
        except (TimeoutError, OSError):
            pass

    async def __aenter__(self) -> BareClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()
