"""The Python harnesses' module under test: with FUZZ_CORE (set by make
fuzz), the module built with the sanitizers and libFuzzer's coverage takes
the place of the one built in place."""
from __future__ import annotations

import importlib.util
import os
import sys


def load_core() -> None:
    """Call before anything imports slixmpp_ping_c._core."""
    path = os.environ.get('FUZZ_CORE')
    if not path:
        return
    spec = importlib.util.spec_from_file_location('slixmpp_ping_c._core', path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules['slixmpp_ping_c._core'] = module
    spec.loader.exec_module(module)
