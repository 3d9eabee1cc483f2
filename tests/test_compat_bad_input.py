"""Bad input, for both implementations: the same clear exception or the same
quiet drop, never a crash, never a ping completed by the wrong sender, never
an entry left pending (every stream checks that on exit)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from slixmpp.exceptions import IqTimeout

from tests.conftest import Impl
from tests.memstream import SERVER, client_stream, ping_xml

BIG_ID = 'x' * 1_000_000


def raised(call: Any) -> type[BaseException] | None:
    try:
        call()
    except Exception as exc:
        return type(exc)
    return None


async def araised(coro: Any) -> type[BaseException] | None:
    try:
        await coro
    except Exception as exc:
        return type(exc)
    return None


async def test_a_one_megabyte_ping(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        s.feed(ping_xml(BIG_ID, frm=SERVER))
        await s.settle()
        (answer,) = s.take_elements()
        assert answer.get('id') == BIG_ID and answer.get('type') == 'result'


@pytest.mark.parametrize('stanza, answer', [
    ("<iq type='get' from='example.com'><ping xmlns='urn:xmpp:ping'/></iq>",
     'result'),
    (("<iq type='get' id='n'><ping xmlns='urn:xmpp:ping'>"
      "<ping xmlns='urn:xmpp:ping'/></ping></iq>"), 'result'),
    ("<iq type='get' id='e'><ping xmlns='urn:xmpp:ping'/><x xmlns='y'/></iq>",
     'result'),
    ("<iq type='result' id='0123456789abcdef' from='example.com'/>", None),
    ("<iq type='error' id='' from='example.com'/>", None),
], ids=['no-id', 'nested-ping', 'extra-child', 'unknown-id', 'empty-id'])
async def test_odd_iqs_get_slixmpps_answer(impl: Impl, stanza: str,
                                          answer: str | None) -> None:
    """What slixmpp's own plugin does with them, both implementations do."""
    async with client_stream(impl.cls) as s:
        s.feed(stanza)
        await s.settle()
        types = [e.get('type') for e in s.take_elements()]
        assert types == ([answer] if answer else [])


@pytest.mark.parametrize('call', [
    lambda p: p.ping(12),
    lambda p: p.ping(object()),
    lambda p: p.ping('example.com', timeout='soon'),
])
async def test_wrong_types_to_ping(impl: Impl, call: Any) -> None:
    async with client_stream(impl.cls) as s:
        ref = await reference_outcome(call)
        got = await araised(call(s.ping_plugin))
        assert got is not None and got == ref


async def reference_outcome(call: Any) -> type[BaseException] | None:
    """What slixmpp's own plugin raises for the same call."""
    from tests.conftest import load_impl
    async with client_stream(load_impl('slixmpp').cls) as s:
        return await araised(asyncio.wait_for(call(s.ping_plugin), 0.2))


@pytest.mark.parametrize('call', [
    lambda p: p.send_ping(object()),
    lambda p: p.send_ping('example.com', timeout='soon'),
])
async def test_wrong_types_to_send_ping(impl: Impl, call: Any) -> None:
    async with client_stream(impl.cls) as s:
        from tests.conftest import load_impl
        async with client_stream(load_impl('slixmpp').cls) as ref_stream:
            ref = raised(lambda: call(ref_stream.ping_plugin))
        got = raised(lambda: call(s.ping_plugin))
        assert got is not None and got == ref


async def test_timeouts_leave_nothing_behind(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        tasks = [asyncio.ensure_future(s.ping_plugin.ping(SERVER, timeout=0.05))
                 for _ in range(50)]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, IqTimeout) for r in results)
        s.take_sent()
