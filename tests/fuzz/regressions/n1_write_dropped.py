"""N1, found by tests/fuzz/fuzz_api.py: send_ping() calls the transport's
write() that the tap dropped while Python code ran.

send_request() (csrc/pings.c) asks tap_can_write() whether it may write,
which checks tap->write and then calls Python (the log's isEnabledFor,
xmpp._session_started, send_queue._unfinished_tasks); tap_sm_outgoing()
calls Python too.  If that code feeds the tap a read after slixmpp replaced
its parser (a reconnection), or calls join_stream(), tap_sync_stream()
clears tap->write and, with no transport yet (or its lookup raising), leaves
it NULL: tap_write_out() then calls NULL.  Run: python n1_write_dropped.py
(a segmentation fault where the bug is)."""
from __future__ import annotations

import types
from typing import Any

from slixmpp_ping_c._core import Peer, Tap
from slixmpp_ping_c._fast_path import TAP_PRIVATE_NAMES


class Xmpp:
    def __init__(self) -> None:
        self.parser: Any = object()
        self.transport: Any = types.SimpleNamespace(write=lambda data: None)
        self._session_started = True
        self._always_send_everything = False


xmpp = Xmpp()


class SendQueue:
    @property
    def _unfinished_tasks(self) -> int:
        # slixmpp reconnects: a new parser, no transport yet; a read.
        xmpp.parser = object()
        xmpp.transport = None
        tap(b' ')
        return 0


class Loop:
    def create_future(self) -> Any:
        return types.SimpleNamespace(cancel=lambda: True)

    def call_later(self, delay: float, callback: Any, *args: Any) -> Any:
        return types.SimpleNamespace(cancel=lambda: None)

    def call_soon(self, callback: Any, *args: Any) -> Any:
        return types.SimpleNamespace(cancel=lambda: None)


tap = Tap(xmpp, lambda data: None, Loop(), default_ns='jabber:client',
          component=False,
          log=types.SimpleNamespace(isEnabledFor=lambda level: False),
          send_queue=SendQueue(), normalize_jid=str,
          send_slow=lambda *args: None, on_timeout=lambda *args: None,
          **TAP_PRIVATE_NAMES)
tap.direct_send = True
tap.send_ping(Peer('a@example.com', 'a@example.com'), None, 60.0)
tap.flush()     # the turn ends: the write, with no transport left
print('no crash')
