"""slixmpp-ping-c: slixmpp's XEP-0199 (XMPP Ping) plugin with its hot path in C.

Importing this package makes ``xmpp.register_plugin('xep_0199')`` load
:class:`XEP_0199` from here instead of slixmpp's own plugin.  The plugin
works without C too: when the extension cannot be imported, or the
environment has ``SLIXMPP_PING_C_NO_EXTENSIONS`` set, it runs on its
pure-Python core (then ``build_ping``, ``build_result`` and
``parse_stanza``, which are C's, are absent).
"""

# slixmpp's own plugin module registers its class when first imported;
# importing it before registering ours keeps ours in the registry whatever
# imports it later.
import slixmpp.plugins.xep_0199  # noqa: F401
from slixmpp.plugins.base import register_plugin
from slixmpp.plugins.xep_0199 import Ping

from slixmpp_ping_c.plugin import (NO_EXTENSIONS, XEP_0199, PingStats,
                                   PingTimeout, TooManyPings)

register_plugin(XEP_0199)

__all__ = ['XEP_0199', 'Ping', 'PingStats', 'PingTimeout', 'TooManyPings']

if not NO_EXTENSIONS:
    try:
        from slixmpp_ping_c._core import build_ping, build_result, parse_stanza
    except ImportError:
        pass
    else:
        __all__ += ['build_ping', 'build_result', 'parse_stanza']
