"""N2, found by tests/fuzz/fuzz_api.py: track() undoes an entry that Python
code run inside it released already.

tap_track() (csrc/pings.c) adds an entry, then arm_timer() calls Python:
the armed timer's cancel() and the loop's call_later().  If cancel() runs
the due timer's callback first (tap._expire(): the new ping, timeout 0,
times out and its entry is released) and call_later() then fails, track()
calls drop_entry() on the released entry: its peer is NULL (a segmentation
fault), and it goes onto the free list twice.  send_ping() looks its entry
up again by id there; track() keeps the pointer.  Run: python
n2_track_released.py (a segmentation fault where the bug is)."""
from __future__ import annotations

import types
from typing import Any

from slixmpp_ping_c._core import Peer, Tap
from slixmpp_ping_c._fast_path import TAP_PRIVATE_NAMES

delays: list[float] = []


class Handle:
    def cancel(self) -> None:
        tap._expire()       # the loop runs the due timer first


class Loop:
    def create_future(self) -> Any:
        return types.SimpleNamespace(cancel=lambda: True)

    def call_later(self, delay: float, callback: Any, *args: Any) -> Any:
        delays.append(delay)
        if len(delays) == 3:
            raise RuntimeError('the loop is closed')
        return Handle()

    def call_soon(self, callback: Any, *args: Any) -> Any:
        return types.SimpleNamespace(cancel=lambda: None)


xmpp = types.SimpleNamespace(parser=None, transport=None)
tap = Tap(xmpp, lambda data: None, Loop(), default_ns='jabber:client',
          component=False,
          log=types.SimpleNamespace(isEnabledFor=lambda level: False),
          send_queue=types.SimpleNamespace(_unfinished_tasks=0),
          normalize_jid=str, send_slow=lambda *args: None,
          on_timeout=lambda *args: None,
          **TAP_PRIVATE_NAMES)
peer = Peer('a@example.com', 'a@example.com')
tap.track(peer, 60.0, None, None)
try:
    tap.track(peer, 0.0, None, None)
except RuntimeError as error:
    print('raised', error)
print('pending', tap.pending(), 'sent', peer.sent, '- no crash')
