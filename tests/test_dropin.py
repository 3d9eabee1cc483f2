"""Drop-in details applications' own tests notice: ping ids come from an
overridden ``xmpp.new_id()`` as with slixmpp's plugin (its test suite and
slixmpp's own tests override it), and neither registration nor the session
events call what applications patch in their tests (uuid, time.time,
random)."""

from __future__ import annotations

import asyncio
import inspect
import random
import re
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from slixmpp.exceptions import IqTimeout

from tests.memstream import SERVER, MemoryStream, client_stream, ping_xml, result_xml

from slixmpp_ping_c import XEP_0199

if TYPE_CHECKING:
    from tests.conftest import Impl

JULIET = 'juliet@capulet.example/balcony'
SHORT = 0.05  # timeout for pings nobody answers
OUR_ID = re.compile('[0-9a-f]{16}')

# What applications commonly patch in their tests (slidge patches uuid4).
PATCHED = {
    uuid: ('uuid1', 'uuid4'),
    time: ('time', 'time_ns'),
    random: ('random', 'randint', 'randrange', 'choice', 'getrandbits',
             'uniform', 'shuffle'),
}


class IdSource:
    """An application's new_id(): ids it can recognise, and a count."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return f'{self.prefix}-{self.calls}'


def override_new_id(s: MemoryStream, how: str) -> IdSource:
    """Override new_id on the client, after the plugin was registered: on
    the instance, or in a subclass of its class."""
    source = IdSource(how)
    if how == 'instance':
        s.xmpp.new_id = source
    else:
        class Application(type(s.xmpp)):  # type: ignore[misc]
            def new_id(self) -> str:
                return source()
        s.xmpp.__class__ = Application
    return source


async def sent_id(s: MemoryStream) -> str:
    await s.settle()
    _, element = s.take_one()
    return element.get('id')


# -- ids ---------------------------------------------------------------------

@pytest.mark.parametrize('how', ['instance', 'class'])
async def test_ping_takes_its_id_from_an_overridden_new_id(impl: Impl, how: str) -> None:
    async with client_stream(impl.cls) as s:
        source = override_new_id(s, how)
        task = asyncio.create_task(s.ping_plugin.ping(JULIET))
        id_ = await sent_id(s)
        assert id_ == f'{how}-1' and source.calls == 1
        s.feed(result_xml(id_, frm=JULIET))
        assert await asyncio.wait_for(task, 1) >= 0
        if impl.is_c:
            # The pong was completed in C, under the application's id.
            assert s.ping_plugin._tap.counters()[1] == 1


@pytest.mark.parametrize('how', ['instance', 'class'])
async def test_send_ping_takes_its_id_from_an_overridden_new_id(impl: Impl, how: str) -> None:
    async with client_stream(impl.cls) as s:
        source = override_new_id(s, how)
        future = s.ping_plugin.send_ping(JULIET)
        id_ = await sent_id(s)
        # Once a ping, as slixmpp's xmpp.Iq() calls it.
        assert id_ == f'{how}-1' and source.calls == 1
        s.feed(result_xml(id_, frm=JULIET))
        pong = await asyncio.wait_for(future, 1)
        assert pong['id'] == id_ and pong['type'] == 'result'


async def test_a_timeout_names_the_overridden_id(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        override_new_id(s, 'instance')
        with pytest.raises(IqTimeout) as timeout:
            await s.ping_plugin.ping(JULIET, timeout=SHORT)
        assert timeout.value.iq['id'] == 'instance-1'
        await s.settle()
        s.take_sent()
        # A late answer is nobody's: slixmpp gets it, nothing breaks.
        s.feed(result_xml('instance-1', frm=JULIET))
        await s.settle()


async def test_our_ids_without_an_override() -> None:
    async with client_stream(XEP_0199) as s:
        plugin = s.ping_plugin
        ids = []
        for _ in range(3):
            task = asyncio.create_task(plugin.ping(JULIET))
            ids.append(await sent_id(s))
            s.feed(result_xml(ids[-1], frm=JULIET))
            await asyncio.wait_for(task, 1)
        future = plugin.send_ping(JULIET)
        ids.append(await sent_id(s))
        s.feed(result_xml(ids[-1], frm=JULIET))
        await asyncio.wait_for(future, 1)
        assert all(OUR_ID.fullmatch(id_) for id_ in ids), ids
        assert len(set(ids)) == len(ids)


async def test_the_override_is_asked_at_each_ping() -> None:
    async with client_stream(XEP_0199) as s:
        plugin = s.ping_plugin

        async def one_ping() -> str:
            task = asyncio.create_task(plugin.ping(JULIET))
            id_ = await sent_id(s)
            s.feed(result_xml(id_, frm=JULIET))
            await asyncio.wait_for(task, 1)
            return id_

        assert OUR_ID.fullmatch(await one_ping())
        s.xmpp.new_id = IdSource('late')
        assert await one_ping() == 'late-1'
        del s.xmpp.new_id
        assert OUR_ID.fullmatch(await one_ping())


async def test_ping_many_takes_ids_from_the_override() -> None:
    async with client_stream(XEP_0199) as s:
        source = override_new_id(s, 'instance')
        targets = [f'user{n}@example.net' for n in range(3)]
        task = asyncio.create_task(s.ping_plugin.ping_many(targets))
        await s.settle()
        sent = {element.get('to'): element.get('id')
                for element in s.take_elements()}
        assert sorted(sent.values()) == ['instance-1', 'instance-2', 'instance-3']
        for to, id_ in sent.items():
            s.feed(result_xml(id_, frm=to))
        results = await asyncio.wait_for(task, 1)
        assert all(isinstance(rtt, float) for rtt in results.values())
        assert source.calls == 3


async def test_an_id_in_flight_twice_is_refused() -> None:
    async with client_stream(XEP_0199) as s:
        s.xmpp.new_id = lambda: 'same'
        plugin = s.ping_plugin
        first = asyncio.create_task(plugin.ping(JULIET))
        assert await sent_id(s) == 'same'
        with pytest.raises(ValueError, match='in flight already'):
            await plugin.ping(JULIET)
        await s.settle()
        assert plugin.pending() == 1 and s.take_sent() == b''
        s.feed(result_xml('same', frm=JULIET))
        await asyncio.wait_for(first, 1)
        # Free again once answered.
        task = asyncio.create_task(plugin.ping(JULIET))
        assert await sent_id(s) == 'same'
        s.feed(result_xml('same', frm=JULIET))
        await asyncio.wait_for(task, 1)


# -- what applications patch --------------------------------------------------

def tripwires(monkeypatch: pytest.MonkeyPatch, plugin_cls: type) -> list[str]:
    """uuid, time.time and random's functions raise when the plugin's own
    code calls them (its CLI aside), and work for everyone else (slixmpp's
    default new_id() takes uuid4()); returns the list of the calls caught."""
    plugin_dir = Path(inspect.getfile(plugin_cls)).resolve().parent
    caught: list[str] = []

    def wire(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def patched(*args: Any, **kwargs: Any) -> Any:
            caller = Path(sys._getframe(1).f_code.co_filename).resolve()
            if caller.parent == plugin_dir and caller.name != 'cli.py':
                caught.append(f'{name} from {caller.name}')
                raise AssertionError(f'the plugin called {name}')
            return original(*args, **kwargs)
        return patched

    for module, names in PATCHED.items():
        for name in names:
            monkeypatch.setattr(module, name, wire(
                f'{module.__name__}.{name}', getattr(module, name)))
    return caught


async def answer_and_restart(s: MemoryStream) -> None:
    """An incoming ping answered, then the session events again."""
    s.feed(ping_xml('in-1', frm=SERVER))
    await s.settle()
    assert b'in-1' in s.take_sent()
    # slixmpp's own whitespace keepalive would be scheduled twice.
    s.xmpp.whitespace_keepalive = False
    for event in ('session_end', 'session_start', 'session_end', 'session_resumed'):
        s.xmpp.event(event)
    await s.settle()
    s.feed(ping_xml('in-2', frm=SERVER))
    await s.settle()
    assert b'in-2' in s.take_sent()


async def test_registration_and_session_call_nothing_applications_patch(
        monkeypatch: pytest.MonkeyPatch, impl: Impl) -> None:
    caught = tripwires(monkeypatch, impl.cls)
    async with client_stream(impl.cls, config={'keepalive': True}) as s:
        await answer_and_restart(s)
        s.ping_plugin.disable_keepalive()
    assert caught == []


async def test_pings_call_nothing_applications_patch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ours only: slixmpp's ping() times its round trip with time.time()."""
    caught = tripwires(monkeypatch, XEP_0199)
    async with client_stream(XEP_0199) as s:
        plugin = s.ping_plugin
        task = asyncio.create_task(plugin.ping(JULIET))
        s.feed(result_xml(await sent_id(s), frm=JULIET))
        await asyncio.wait_for(task, 1)
        with pytest.raises(IqTimeout):
            await plugin.ping(JULIET, timeout=SHORT)
        results = await plugin.ping_many([JULIET], timeout=SHORT)
        assert isinstance(results[JULIET], IqTimeout)
        plugin.stats()
    assert caught == []


async def test_constants_for_uuid_time_and_random(monkeypatch: pytest.MonkeyPatch,
                                                  impl: Impl) -> None:
    """What slidge's tests do: uuid4() always the same, the clock stopped."""
    fixed = uuid.UUID(int=1)
    monkeypatch.setattr(uuid, 'uuid4', lambda: fixed)
    monkeypatch.setattr(time, 'time', lambda: 1e9)
    monkeypatch.setattr(random, 'random', lambda: 0.5)
    async with client_stream(impl.cls) as s:
        await answer_and_restart(s)
        task = asyncio.create_task(s.ping_plugin.ping(JULIET))
        s.feed(result_xml(await sent_id(s), frm=JULIET))
        assert await asyncio.wait_for(task, 1) >= 0

