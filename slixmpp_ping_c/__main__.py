"""``python -m slixmpp_ping_c``: the slixmpp-ping command."""

import sys

from slixmpp_ping_c.cli import main

if __name__ == '__main__':
    sys.exit(main())
