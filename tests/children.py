"""The environment of a child interpreter that must import what this one
does: the leg's own build of slixmpp_ping_c (make sanitize's, libxml2's
newest), the checkout's tests/ and benchmarks/. Those legs set
PYTHONSAFEPATH, which keeps a child's working directory off its sys.path, so
this interpreter's path goes to the child whole."""

from __future__ import annotations

import os
import sys


def child_env(*first: str, **extra: str) -> dict[str, str]:
    """os.environ with extra, and PYTHONPATH: first, then this sys.path."""
    env = dict(os.environ, **extra)
    env['PYTHONPATH'] = os.pathsep.join(
        [*first, *(p or os.getcwd() for p in sys.path)])
    return env
