"""benchmarks/e2e.py's end-to-end run, small, against each server of this
stack: each client logs in (ejabberd 24 and newer take no SCRAM without
TLS from slixmpp: the clients log in as the suite's do) and every ping is
answered.  (What the server complained of is the run's report, not checked
here: ejabberd 24.12 warns at start of an unset captcha_cmd.)"""

from __future__ import annotations

import pytest
from benchmarks import e2e


@pytest.mark.server   # starts its own Prosody and ejabberd
@pytest.mark.parametrize('kind', ['prosody', 'ejabberd'])
@pytest.mark.parametrize('impl', ['slixmpp', 'ours', 'bare'])
async def test_a_small_end_to_end_run(kind: str, impl: str) -> None:
    # run_once raises if a client cannot log in, a ping goes unanswered
    # within its timeout, or (ours) one is left pending.
    run = await e2e.run_once(kind, impl, 20)
    assert run['n'] == 20 and run['seconds'] > 0 and run['pings_per_s'] > 0
