"""A ping answered and a ping of ours answered over SlixTest's stream, fed as
slixmpp's own tests feed it: run.py runs this after slixmpp's tests to show
from the tap's counters whether the C fast path sees that stream.  (slixmpp's
tests themselves hardly ever ping.)"""
from __future__ import annotations

import asyncio
import re
import unittest

from slixmpp.test import SlixTest


class TapProbe(SlixTest):

    def test_ping_answered_and_pong_received(self) -> None:
        self.stream_start(mode='client', plugins=['xep_0199'])
        self.recv("<iq type='get' id='probe' from='localhost' "
                  "to='tester@localhost/resource'>"
                  "<ping xmlns='urn:xmpp:ping'/></iq>")
        self.send("<iq type='result' id='probe' to='localhost'/>")

        loop = asyncio.get_event_loop()
        ping = loop.create_task(
            self.xmpp.plugin['xep_0199'].ping('localhost', timeout=5))
        loop.run_until_complete(asyncio.sleep(0.05))
        sent = self.xmpp.socket.next_sent(timeout=1)
        ping_id = re.search(r"""id=["']([^"']+)""", str(sent)).group(1)
        self.recv(f"<iq type='result' id='{ping_id}' from='localhost' "
                  "to='tester@localhost/resource'/>")
        self.assertGreaterEqual(loop.run_until_complete(ping), 0)


suite = unittest.TestLoader().loadTestsFromTestCase(TapProbe)
