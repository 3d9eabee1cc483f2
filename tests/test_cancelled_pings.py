"""Pings their callers gave up on (issue 11, defect 6), on both our cores.

A cancelled ping used to keep its slot in the in-flight table until its
deadline: pending() counted it and max_pending refused new pings.  The
plugin now has the table drop cancelled pings (forget_cancelled()) before
it next counts them, and plugin_end cancels every ping and the timer.
slixmpp's plugin has neither pending() nor max_pending: these tests are
ours only.
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from slixmpp.exceptions import IqTimeout

from tests.conftest import Impl, load_impl, ping_core
from tests.memstream import MemoryStream, client_stream, result_xml

JULIET = 'juliet@capulet.example/balcony'
LONG = 30.0  # a timeout no test waits for


@pytest.fixture(params=('c', 'pure'))
def ours(request: pytest.FixtureRequest) -> Iterator[Impl]:
    """slixmpp_ping_c's plugin on the C core, then on the pure core."""
    with ping_core(request.param):
        yield load_impl(request.param)


async def sent_ids(s: MemoryStream, count: int) -> list[str]:
    """Let ``count`` pings go out; their ids."""
    ids: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while len(ids) < count:
        assert loop.time() < deadline, f'{len(ids)} of {count} pings sent'
        await s.settle()
        ids += [element.get('id') for element in s.take_elements()]
    assert len(ids) == count
    return ids


async def test_wait_for_timeout_frees_the_slot(ours: Impl) -> None:
    async with client_stream(ours.cls) as s:
        plugin = s.ping_plugin
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(plugin.ping(JULIET, timeout=LONG), 0.05)
        await sent_ids(s, 1)
        assert plugin.pending() == 0


async def test_cancelled_task_frees_the_slot(ours: Impl) -> None:
    async with client_stream(ours.cls) as s:
        plugin = s.ping_plugin
        task = asyncio.create_task(plugin.ping(JULIET, timeout=LONG))
        await sent_ids(s, 1)
        assert plugin.pending() == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert plugin.pending() == 0


async def test_ping_many_cancelled_frees_the_rest(ours: Impl) -> None:
    """ping_many() cancels the pings it still has out when it is itself
    cancelled; none of them stays counted."""
    async with client_stream(ours.cls) as s:
        plugin = s.ping_plugin
        jids = [f'user{n}@capulet.example/r' for n in range(8)]
        task = asyncio.create_task(plugin.ping_many(jids, timeout=LONG,
                                                    concurrency=3))
        first = await sent_ids(s, 3)
        s.feed(result_xml(first[0], frm=jids[0]))
        await sent_ids(s, 1)   # the answer sent the next one
        assert plugin.pending() == 3
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert plugin.pending() == 0
        await s.settle()
        assert s.take_sent() == b''   # nothing more went out


async def test_ping_many_all_at_once_cancelled_frees_every_ping(ours: Impl
                                                                ) -> None:
    """Without a concurrency limit every ping goes out at once; cancelled
    while awaiting the first answer, or a later one, ping_many() leaves
    none counted."""
    for answered in (0, 2, 5):
        async with client_stream(ours.cls) as s:
            plugin = s.ping_plugin
            jids = [f'user{n}@capulet.example/r' for n in range(6)]
            task = asyncio.create_task(plugin.ping_many(jids, timeout=LONG))
            ids = await sent_ids(s, 6)
            s.feed(''.join(result_xml(ids[n], frm=jids[n])
                           for n in range(answered)))
            await s.settle()
            assert plugin.pending() == 6 - answered
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert plugin.pending() == 0


async def test_cancelled_pings_leave_room_under_max_pending(ours: Impl) -> None:
    async with client_stream(ours.cls, config={'max_pending': 10}) as s:
        plugin = s.ping_plugin
        tasks = [asyncio.create_task(plugin.ping(JULIET, timeout=LONG))
                 for _ in range(10)]
        await sent_ids(s, 10)
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        task = asyncio.create_task(plugin.ping(JULIET, timeout=LONG))
        [id_] = await sent_ids(s, 1)
        s.feed(result_xml(id_, frm=JULIET))
        assert await asyncio.wait_for(task, 1) >= 0
        assert plugin.pending() == 0


async def test_answer_after_cancel_is_ignored(ours: Impl) -> None:
    """The answer to a ping already forgotten completes nothing: the ping
    counted as lost when it was forgotten, as at its deadline."""
    async with client_stream(ours.cls) as s:
        plugin = s.ping_plugin
        task = asyncio.create_task(plugin.ping(JULIET, timeout=LONG))
        [id_] = await sent_ids(s, 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert plugin.pending() == 0
        s.feed(result_xml(id_, frm=JULIET))
        await s.settle()
        assert plugin.stats(JULIET)[:3] == (1, 0, 1)


async def test_no_ping_timeout_after_plugin_end(ours: Impl) -> None:
    async with client_stream(ours.cls, check_pending=False) as s:
        plugin = s.ping_plugin
        timeouts: list[Any] = []
        s.xmpp.add_event_handler('ping_timeout', timeouts.append)
        task = asyncio.create_task(plugin.ping(JULIET, timeout=0.1))
        future = plugin.send_ping(JULIET, timeout=0.1)
        await sent_ids(s, 2)
        s.xmpp.plugin.disable('xep_0199')
        with pytest.raises(asyncio.CancelledError):
            await task
        assert future.cancelled()
        assert plugin.pending() == 0
        await asyncio.sleep(0.3)
        assert timeouts == []


async def test_cancelled_then_timed_out_counts_once(ours: Impl) -> None:
    """A cancelled ping not yet forgotten still times out as before (lost,
    one ping_timeout); once forgotten it never does, and counted as lost
    once."""
    async with client_stream(ours.cls) as s:
        plugin = s.ping_plugin
        timeouts: list[Any] = []
        s.xmpp.add_event_handler('ping_timeout', timeouts.append)
        kept = asyncio.create_task(plugin.ping(JULIET, timeout=0.1))
        forgotten = asyncio.create_task(plugin.ping(JULIET, timeout=0.1))
        await sent_ids(s, 2)
        forgotten.cancel()
        with pytest.raises(asyncio.CancelledError):
            await forgotten
        assert plugin.pending() == 1
        with pytest.raises(IqTimeout):
            await kept
        await s.settle()
        assert len(timeouts) == 1
        assert plugin.stats(JULIET)[:3] == (2, 0, 2)


async def test_mass_cancellation_forgets_once() -> None:
    """A thousand cancelled pings cost one pass over the table, not one
    each (the pure core, whose table can be watched)."""
    with ping_core('pure'):
        async with client_stream(load_impl('pure').cls) as s:
            plugin = s.ping_plugin
            table = plugin._pings
            passes: list[int] = []
            forget = table.forget_cancelled

            def counting() -> int:
                passes.append(forget())
                return passes[-1]
            table.forget_cancelled = counting
            tasks = [asyncio.create_task(plugin.ping(JULIET, timeout=LONG))
                     for _ in range(1000)]
            await sent_ids(s, 1000)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            assert plugin.pending() == 0
            assert plugin.pending() == 0
            assert passes == [1000]
