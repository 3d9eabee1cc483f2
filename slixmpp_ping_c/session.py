"""Logging in with slixmpp and out again, for a client or a component.

slixmpp reports a log-in that goes wrong through a dozen events, some of
which never end (it retries a refused connection forever).  A ``Session``
follows them to one outcome: the session started, or ``LoginFailed`` with a
one-line reason.  After that it notices a connection lost (``lost``), and
``close()`` ends the stream cleanly.  The slixmpp-ping command, the tests,
the demo and the benchmarks all log in through it::

    session = await client_session(xmpp, host, port, no_tls=True)
    ...
    await session.close()
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import Any

import slixmpp
from slixmpp.basexmpp import BaseXMPP

log = logging.getLogger(__name__)

DEFAULT_PORT = 5222
# Connecting, TLS and logging in must be done within this.
LOGIN_TIMEOUT = 30.0
# How long a clean disconnect may take before the connection is dropped.
DISCONNECT_WAIT = 2.0


class LoginFailed(Exception):
    """Logging in failed; the message says why, in one line."""


def _encrypted(xmpp: slixmpp.ClientXMPP) -> bool:
    transport = xmpp.transport
    return 'starttls' in xmpp.features or (
        transport is not None
        and transport.get_extra_info('ssl_object') is not None)


def connect_client(xmpp: slixmpp.ClientXMPP, host: str | None,
                   port: int | None, no_tls: bool) -> None:
    """Start connecting to (host, port), or to the JID's domain through DNS
    when neither is given; plain TCP with SCRAM if no_tls, on slixmpp 1.8.3
    and newer."""
    address = None
    if host or port:
        address = (host or xmpp.boundjid.domain, port or DEFAULT_PORT)
    # slixmpp 1.8.3 would send SCRAM in clear by default, 1.10+ would not.
    xmpp.plugin['feature_mechanisms'].unencrypted_scram = no_tls
    if hasattr(xmpp, 'enable_plaintext'):  # slixmpp >= 1.10
        if no_tls:
            xmpp.enable_plaintext = True
            xmpp.enable_starttls = False
            xmpp.enable_direct_tls = False
        if address:
            xmpp.connect(*address)
        else:
            xmpp.connect()
    else:
        # slixmpp < 1.10's connect(address, use_ssl, force_starttls,
        # disable_starttls): the types checked are those of a newer one.
        connect: Callable[..., object] = xmpp.connect
        connect(address, force_starttls=not no_tls, disable_starttls=no_tls)


class Session:
    """Follows slixmpp's events to one outcome of logging in (session
    started, or a LoginFailed), then notices a connection lost.

    ``where`` (host:port) and ``no_tls`` only word the reasons."""

    # Events that matter until the session starts; after that, reconnecting
    # is the application's business (keepalive, Stream Management).
    LOGIN_EVENTS = ('session_start', 'failed_auth', 'failed_all_auth',
                    'connection_failed', 'reconnect_delay',
                    'ssl_invalid_chain', 'stream_negotiated')
    STREAM_EVENTS = ('stream_error', 'disconnected')

    def __init__(self, xmpp: BaseXMPP, where: str,
                 no_tls: bool = False) -> None:
        self.xmpp = xmpp
        self.where = where
        self.no_tls = no_tls
        self.started: asyncio.Future[None] = asyncio.get_running_loop(
            ).create_future()
        self.lost = asyncio.Event()
        self.lost_reason = ''
        self.closing = False
        self._auth_failure: str | None = None
        self._connect_error = 'no answer'
        self._stream_error: str | None = None
        for name in self.LOGIN_EVENTS + self.STREAM_EVENTS:
            xmpp.add_event_handler(name, getattr(self, '_on_' + name))

    async def log_in(self, connect: Callable[[], object],
                     timeout: float = LOGIN_TIMEOUT) -> None:
        """connect(), then wait for the session to start: LoginFailed if
        it does not, within timeout seconds."""
        try:
            connect()
            await asyncio.wait_for(asyncio.shield(self.started), timeout)
        except TimeoutError:
            raise LoginFailed(f'cannot log in at {self.where} within '
                              f'{timeout:g} s') from None
        finally:
            if not self.started.done():  # interrupted, or timed out
                self.started.cancel()
            for name in self.LOGIN_EVENTS:
                self.xmpp.del_event_handler(name, getattr(self, '_on_' + name))

    async def close(self, wait: float = DISCONNECT_WAIT) -> bool:
        """End the stream cleanly if it is open, and stop reconnecting;
        drop the connection if the server has not closed it within wait
        seconds.  Whether it closed cleanly."""
        self.closing = True
        xmpp = self.xmpp
        xmpp.cancel_connection_attempt()
        clean = True
        if xmpp.transport is not None:
            closed = asyncio.get_running_loop().create_future()

            def on_disconnected(event: Any) -> None:
                if not closed.done():
                    closed.set_result(None)
            xmpp.add_event_handler('disconnected', on_disconnected)
            xmpp.disconnect(wait)
            try:
                await asyncio.wait_for(closed, wait + 1)
            except TimeoutError:
                clean = False
                xmpp.abort()
            xmpp.del_event_handler('disconnected', on_disconnected)
            xmpp.cancel_connection_attempt()
        await self._end_sender()
        return clean

    async def _end_sender(self) -> None:
        # slixmpp cancels its send loop only when the client is garbage
        # collected, and asyncio then warns that a pending task was destroyed.
        sender = getattr(self.xmpp, '_run_out_filters', None)
        if isinstance(sender, asyncio.Future) and not sender.done():
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    def _fail(self, message: str) -> None:
        log.debug('login failed: %s', message)
        if not self.started.done():
            self.started.set_exception(LoginFailed(message))

    def _on_session_start(self, event: Any) -> None:
        if not self.started.done():
            self.started.set_result(None)

    def _on_failed_auth(self, stanza: Any) -> None:
        self._auth_failure = stanza['condition'] or 'failure'

    def _on_failed_all_auth(self, event: Any) -> None:
        assert isinstance(self.xmpp, slixmpp.ClientXMPP)
        jid = self.xmpp.boundjid.bare
        if self._auth_failure is not None:
            self._fail(f'authentication failed for {jid} '
                       f'({self._auth_failure})')
        elif not _encrypted(self.xmpp):
            self._fail(f'cannot log in as {jid} without TLS: {self.where} '
                       'offers no STARTTLS (--no-tls logs in over plain TCP)')
        else:
            self._fail(f'cannot log in as {jid}: no authentication '
                       f'mechanism in common with {self.where}')

    def _on_connection_failed(self, error: Any) -> None:
        self._connect_error = str(error) or type(error).__name__

    def _on_reconnect_delay(self, delay: Any) -> None:
        # Every address of this round failed: slixmpp would retry forever.
        self.xmpp.cancel_connection_attempt()
        self._fail(f'cannot connect to {self.where}: {self._connect_error}')

    def _on_stream_negotiated(self, event: Any) -> None:
        # The features are done with, and no login among them.
        assert isinstance(self.xmpp, slixmpp.ClientXMPP)
        if not self.xmpp.authenticated:
            hint = (' without TLS (run it without --no-tls)' if self.no_tls
                    else '')
            self._fail(f'cannot log in as {self.xmpp.boundjid.bare}: '
                       f'{self.where} offers no way to log in{hint}')

    def _on_ssl_invalid_chain(self, error: Any) -> None:
        # (Handled here, slixmpp leaves the connection open: close() ends it.)
        self._fail(f'TLS with {self.where} failed: {error}')

    def _on_stream_error(self, error: Any) -> None:
        condition, text = error['condition'], error['text']
        self._stream_error = (f'{condition} ({text})' if text
                              else condition or 'stream error')

    def _on_disconnected(self, reason: Any) -> None:
        why = self._stream_error or (str(reason) if reason else '')
        if not self.started.done():
            if isinstance(reason, ssl.SSLError):
                self._fail(f'TLS with {self.where} failed: {reason}')
            elif self._stream_error:
                self._fail(f'{self.where} refused the stream: {why}')
            else:
                self._fail(f'{self.where} closed the connection before '
                           'login' + (f': {why}' if why else ''))
        elif not self.closing:
            self.lost_reason = why
            self.lost.set()


def client_where(xmpp: slixmpp.ClientXMPP, host: str | None,
                 port: int | None) -> str:
    """host:port as the reasons name the server a client connects to."""
    return f'{host or xmpp.boundjid.domain}:{port or DEFAULT_PORT}'


async def client_session(xmpp: slixmpp.ClientXMPP, host: str | None = None,
                         port: int | None = None, *, no_tls: bool = False,
                         timeout: float = LOGIN_TIMEOUT) -> Session:
    """Log a client in (see connect_client) and wait for its session to
    start; LoginFailed if it does not."""
    session = Session(xmpp, client_where(xmpp, host, port), no_tls)
    await _started(session, lambda: connect_client(xmpp, host, port, no_tls),
                   timeout)
    return session


async def component_session(xmpp: slixmpp.ComponentXMPP, host: str,
                            port: int, *,
                            timeout: float = LOGIN_TIMEOUT) -> Session:
    """Connect a component (XEP-0114) to host:port and wait for the
    handshake; LoginFailed if it fails."""
    session = Session(xmpp, f'{host}:{port}')
    await _started(session, lambda: xmpp.connect(host, port), timeout)
    return session


async def _started(session: Session, connect: Callable[[], object],
                   timeout: float) -> None:
    try:
        await session.log_in(connect, timeout)
    except BaseException:
        await session.close()
        raise
