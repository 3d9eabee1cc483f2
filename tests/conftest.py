"""Shared fixtures: every compat test runs against slixmpp's own XEP-0199
plugin and against slixmpp_ping_c's on each of its cores, C and pure Python,
the way multidict's suite runs against its C and pure-Python
implementations.

Async tests are plain ``async def`` functions run with ``asyncio.run`` by
the ``pytest_pyfunc_call`` hook below, so no pytest-asyncio is needed.
"""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

import pytest

# Captured at conftest import, before anything can import slixmpp_ping_c:
# the 'slixmpp' parametrisation must test slixmpp's class even if the C
# package were to patch slixmpp.plugins.xep_0199 when imported.
from slixmpp.plugins.xep_0199.ping import XEP_0199 as SLIXMPP_XEP_0199

# slixmpp's plugin; ours on the C core; ours on the pure-Python core.
IMPLEMENTATIONS = ('slixmpp', 'c', 'pure')


@dataclass(frozen=True)
class Impl:
    """One XEP-0199 implementation under test."""

    name: str
    cls: type

    @property
    def is_c(self) -> bool:
        """slixmpp_ping_c on its C core: the tap's fast path is there."""
        return self.name == 'c'

    @property
    def is_ours(self) -> bool:
        """slixmpp_ping_c, on either core: its API and its choices."""
        return self.name in ('c', 'pure')

    def __str__(self) -> str:
        return self.name


def load_impl(name: str) -> Impl:
    if name == 'slixmpp':
        return Impl(name, SLIXMPP_XEP_0199)
    # Deliberately not importorskip: until the package is built the 'c'
    # tests must fail with this ImportError, never be skipped.
    import slixmpp_ping_c
    return Impl(name, slixmpp_ping_c.XEP_0199)


def c_core_for(name: str) -> ModuleType | None:
    """The C core the plugin is to run on for implementation ``name``;
    None: the pure-Python core.  'c' imports the extension itself, so that
    it is tested (or fails) even when SLIXMPP_PING_C_NO_EXTENSIONS is set."""
    if name == 'c':
        import slixmpp_ping_c._core
        return slixmpp_ping_c._core
    return None


@contextlib.contextmanager
def ping_core(name: str) -> Iterator[None]:
    """Plugins initialised inside run on the core of implementation ``name``
    ('c' or 'pure'): the module attribute each plugin_init reads, restored
    on leaving."""
    import slixmpp_ping_c.plugin as plugin
    previous = plugin.c_core
    plugin.c_core = c_core_for(name)
    try:
        yield
    finally:
        plugin.c_core = previous


@pytest.fixture(params=IMPLEMENTATIONS)
def impl(request: pytest.FixtureRequest) -> Iterator[Impl]:
    implementation = load_impl(request.param)
    if not implementation.is_ours:
        yield implementation
        return
    with ping_core(implementation.name):
        yield implementation


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests in a fresh event loop of their own.

    slixmpp binds futures, queues and events to the loop running when the
    XMPP object is created, so each test builds its streams inside the loop
    asyncio.run() gives it and nothing survives into the next test.
    """
    func = pyfuncitem.obj
    if not inspect.iscoroutinefunction(func):
        return None
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(func(**kwargs))
    return True


def pytest_report_header(config: pytest.Config) -> str:
    import slixmpp
    return f'slixmpp {slixmpp.__version__} (reference plugin: {SLIXMPP_XEP_0199.__module__})'


# ---- Prosody (tests/test_prosody.py) --------------------------------------

from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from tests.ejabberd import Ejabberd
    from tests.prosody import Prosody

#: The accounts of the shared test Prosody, user -> password.
PROSODY_ACCOUNTS = {user: f'{user}-password' for user in ('alice', 'bob', 'carol', 'dave')}

#: The event loops the Prosody tests run under (uvloop: many production bots
#: use it).  A parametrisation, never a skip: without uvloop those tests fail.
LOOP_KINDS = ('asyncio', 'uvloop')


@pytest.fixture(scope='session')
def prosody() -> Iterator[Prosody]:
    """One throwaway Prosody for the session (tests/prosody.py): started on
    first use, stopped and removed at the end, also after failures.  If it
    cannot start, every test using it errors with Prosody's own words."""
    from tests.prosody import Prosody
    with Prosody(accounts=PROSODY_ACCOUNTS) as server:
        yield server


@pytest.fixture(scope='session')
def ejabberd() -> Iterator[Ejabberd]:
    """One throwaway ejabberd for the session (tests/ejabberd.py), with the
    same accounts as Prosody, so that the Prosody tests' helpers serve it
    too.  If it cannot start, every test using it errors with its words."""
    from tests.ejabberd import Ejabberd
    with Ejabberd(accounts=PROSODY_ACCOUNTS) as server:
        yield server


@pytest.fixture
def own_prosody() -> Iterator[Prosody]:
    """A Prosody of the test's own, for tests that freeze or kill it."""
    from tests.prosody import Prosody
    with Prosody(accounts=PROSODY_ACCOUNTS) as server:
        yield server


@pytest.fixture(params=LOOP_KINDS)
def loop_kind(request: pytest.FixtureRequest) -> str:
    return request.param


# ---- test tiers (markers registered in pyproject.toml) ---------------------

#: Every test is in exactly one tier.  ``server``: a Prosody or an ejabberd
#: runs for it.  ``slow``: it starts other processes (builds, wheels, fresh
#: interpreters) or soaks for many seconds.  ``fast``: the rest, in memory in
#: this process (make test-fast).
TIERS = ('fast', 'server', 'slow')

#: The fixtures that start a server: a test that uses one, itself or
#: through another fixture, is in the server tier.
SERVER_FIXTURES = frozenset({'prosody', 'ejabberd', 'own_prosody'})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The server tier for the tests that use a server fixture, fast for
    the others not marked; before ``-m`` selects by these marks."""
    for item in items:
        tiers = {mark.name for mark in item.iter_markers() if mark.name in TIERS}
        if len(tiers) > 1:
            raise pytest.UsageError(f'{item.nodeid} is in tiers {sorted(tiers)}: one only')
        if not tiers:
            uses_server = SERVER_FIXTURES.intersection(getattr(item, 'fixturenames', ()))
            item.add_marker('server' if uses_server else 'fast')


def _refuse_processes(item: pytest.Item) -> Iterator[None]:
    """While a fast test and the fixtures it starts run, starting a process
    fails: a test that starts a server or a program itself must be marked
    server or slow, or it would slip into the fast tier."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f'{item.nodeid} starts a process: mark it slow '
                             '(or server), the fast tier starts none')

    with pytest.MonkeyPatch.context() as patch:
        if item.get_closest_marker('fast') is not None:
            patch.setattr(subprocess.Popen, '_execute_child', refuse)
            for name in ('fork', 'posix_spawn', 'posix_spawnp', 'system'):
                patch.setattr(os, name, refuse)
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    yield from _refuse_processes(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    yield from _refuse_processes(item)
