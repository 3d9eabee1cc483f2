"""Outgoing pings: ping(), send_ping(), matching of answers, timeouts."""
from __future__ import annotations

import asyncio
import inspect
import logging
from typing import TYPE_CHECKING, Any

import pytest
import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.jid import JID, InvalidJID

from tests.memstream import (
    CLIENT_JID, COMPONENT_JID, NO_TIMEOUT_CALLBACK, PING_PAYLOAD, RESULT_SENDER_COMPARED_AS_STRING,
    SERVER, MemoryStream, client_stream, component_stream, error_xml, iq_xml, message_xml, ping_xml,
    result_xml)

if TYPE_CHECKING:
    from tests.conftest import Impl

JULIET = 'juliet@capulet.example/balcony'
SHORT = 0.05  # timeout for pings nobody answers


async def sent_ping(s: MemoryStream) -> tuple[str, str]:
    """Let the ping go out; return (its canonical form, its id)."""
    await s.settle()
    canon, element = s.take_one()
    assert element.get('id'), 'a ping needs an id'
    return canon, element.get('id')


def expected_ping(s: MemoryStream, id_: str, to: str, frm: str | None = None) -> str:
    return s.c14n(ping_xml(id_, to=to, frm=frm))


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# -- ping() ---------------------------------------------------------------------

def test_ping_is_coroutine_function(impl: Impl) -> None:
    assert inspect.iscoroutinefunction(impl.cls.ping)


async def test_ping_bound_method_is_coroutine_function(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        assert inspect.iscoroutinefunction(s.ping_plugin.ping)
        coro = s.ping_plugin.ping(JULIET, timeout=SHORT)
        assert inspect.iscoroutine(coro)
        with pytest.raises(IqTimeout):
            await coro


@pytest.mark.parametrize('kwargs,to,frm', [
    ({}, SERVER, None),
    ({'jid': None}, SERVER, None),
    ({'jid': JULIET}, JULIET, None),
    ({'jid': JID(JULIET)}, JULIET, None),
    ({'jid': 'capulet.example'}, 'capulet.example', None),
    ({'jid': 'jüliet@exämple.net/o&<>"\'ü'}, 'jüliet@exämple.net/o&<>"\'ü', None),
    ({'jid': JULIET, 'ifrom': CLIENT_JID}, JULIET, CLIENT_JID),
    ({'jid': JULIET, 'ifrom': JID('user@example.com/other')}, JULIET, 'user@example.com/other'),
], ids=['default', 'none', 'full-jid', 'jid-object', 'domain', 'special-chars', 'ifrom',
        'ifrom-jid-object'])
async def test_ping_sends_iq_and_returns_rtt(impl: Impl, kwargs: dict[str, Any], to: str,
                                             frm: str | None) -> None:
    async with client_stream(impl.cls) as s:
        task = asyncio.create_task(s.ping_plugin.ping(**kwargs))
        canon, id_ = await sent_ping(s)
        assert canon == expected_ping(s, id_, to=to, frm=frm)
        assert not task.done()
        s.feed(result_xml(id_, frm=to, to=frm or CLIENT_JID))
        rtt = await asyncio.wait_for(task, 1)
        assert type(rtt) is float and rtt >= 0
        await s.settle()
        assert s.take_sent() == b''


async def test_ping_positional_arguments(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        task = asyncio.create_task(s.ping_plugin.ping(JULIET, CLIENT_JID, SHORT))
        canon, id_ = await sent_ping(s)
        assert canon == expected_ping(s, id_, to=JULIET, frm=CLIENT_JID)
        with pytest.raises(IqTimeout):
            await task


async def test_component_ping_default_target(impl: Impl) -> None:
    """For a component the default target is ``xmpp.server``, which is a
    deprecated alias of boundjid.server: the component's own domain."""
    async with component_stream(impl.cls) as s:
        task = asyncio.create_task(s.ping_plugin.ping())
        canon, id_ = await sent_ping(s)
        assert canon == expected_ping(s, id_, to=COMPONENT_JID)
        s.feed(result_xml(id_, frm=COMPONENT_JID, to=COMPONENT_JID))
        assert (await task) >= 0


async def test_component_ping_with_ifrom(impl: Impl) -> None:
    async with component_stream(impl.cls) as s:
        task = asyncio.create_task(s.ping_plugin.ping(JULIET, ifrom='bot@comp.example.com'))
        canon, id_ = await sent_ping(s)
        assert canon == expected_ping(s, id_, to=JULIET, frm='bot@comp.example.com')
        s.feed(result_xml(id_, frm=JULIET, to='bot@comp.example.com'))
        assert (await task) >= 0


@pytest.mark.parametrize('target', [None, SERVER], ids=['default', 'explicit'])
async def test_error_from_own_server_counts_as_pong(impl: Impl, target: str | None) -> None:
    async with client_stream(impl.cls) as s:
        task = asyncio.create_task(s.ping_plugin.ping(target))
        _, id_ = await sent_ping(s)
        s.feed(error_xml(id_, 'service-unavailable', frm=SERVER, to=CLIENT_JID))
        rtt = await task
        assert type(rtt) is float and rtt >= 0


async def test_component_error_from_own_domain_counts_as_pong(impl: Impl) -> None:
    async with component_stream(impl.cls) as s:
        task = asyncio.create_task(s.ping_plugin.ping())
        _, id_ = await sent_ping(s)
        s.feed(error_xml(id_, 'feature-not-implemented', frm=COMPONENT_JID))
        assert (await task) >= 0


@pytest.mark.parametrize('condition', ['service-unavailable', 'feature-not-implemented',
                                       'item-not-found', 'remote-server-not-found'])
async def test_error_from_other_entity_raises_iqerror(impl: Impl, condition: str) -> None:
    async with client_stream(impl.cls) as s:
        task = asyncio.create_task(s.ping_plugin.ping(JULIET))
        _, id_ = await sent_ping(s)
        s.feed(error_xml(id_, condition, frm=JULIET, to=CLIENT_JID, text='no'))
        with pytest.raises(IqError) as info:
            await task
        assert info.value.iq['error']['condition'] == condition
        assert info.value.iq['error']['text'] == 'no'
        assert info.value.iq['type'] == 'error'
        assert info.value.iq['id'] == id_


async def test_no_answer_raises_iqtimeout_with_sent_iq(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        task = asyncio.create_task(s.ping_plugin.ping(JULIET, timeout=SHORT))
        canon, id_ = await sent_ping(s)
        with pytest.raises(IqTimeout) as info:
            await asyncio.wait_for(task, 2)
        sent_iq = info.value.iq
        assert isinstance(sent_iq, slixmpp.Iq)
        assert sent_iq['id'] == id_
        assert s.c14n(str(sent_iq)) == canon


@pytest.mark.parametrize('bad_jid', ['a@b@c', '@example.com'])
@pytest.mark.parametrize('method', ['ping', 'send_ping'])
async def test_invalid_jid_raises_invalidjid(impl: Impl, bad_jid: str, method: str) -> None:
    async with client_stream(impl.cls) as s:
        with pytest.raises(InvalidJID):
            result = getattr(s.ping_plugin, method)(bad_jid, timeout=SHORT)
            if inspect.isawaitable(result):
                await result
        await s.settle()
        assert s.take_sent() == b''


async def test_concurrent_pings_answered_out_of_order(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        targets = [f'peer{i}@capulet.example/r' for i in range(4)]
        tasks = []
        ids = []
        for target in targets:
            tasks.append(asyncio.create_task(s.ping_plugin.ping(target)))
            ids.append((await sent_ping(s))[1])
        assert len(set(ids)) == len(ids)
        for target, id_ in reversed(list(zip(targets, ids, strict=True))):
            s.feed(result_xml(id_, frm=target))
        rtts = await asyncio.gather(*tasks)
        assert all(type(r) is float and r >= 0 for r in rtts)


# -- send_ping() ----------------------------------------------------------------

async def test_send_ping_returns_future_of_result_iq(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        fut = s.ping_plugin.send_ping(JULIET)
        assert isinstance(fut, asyncio.Future)
        canon, id_ = await sent_ping(s)
        assert canon == expected_ping(s, id_, to=JULIET)
        s.feed(result_xml(id_, frm=JULIET, to=CLIENT_JID))
        response = await fut
        assert isinstance(response, slixmpp.Iq)
        assert (response['type'], response['id'], response['from']) == ('result', id_, JID(JULIET))


async def test_send_ping_ifrom(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        fut = s.ping_plugin.send_ping(JULIET, ifrom=CLIENT_JID)
        canon, id_ = await sent_ping(s)
        assert canon == expected_ping(s, id_, to=JULIET, frm=CLIENT_JID)
        s.feed(result_xml(id_, frm=JULIET))
        assert (await fut)['type'] == 'result'


async def test_send_ping_error_raises_iqerror(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        fut = s.ping_plugin.send_ping(JULIET)
        _, id_ = await sent_ping(s)
        s.feed(error_xml(id_, 'item-not-found', frm=JULIET))
        with pytest.raises(IqError) as info:
            await fut
        assert info.value.iq['error']['condition'] == 'item-not-found'


async def test_send_ping_error_from_own_server_raises_too(impl: Impl) -> None:
    """Only ping() turns an error from one's server into a pong."""
    async with client_stream(impl.cls) as s:
        fut = s.ping_plugin.send_ping(SERVER)
        _, id_ = await sent_ping(s)
        s.feed(error_xml(id_, 'service-unavailable', frm=SERVER))
        with pytest.raises(IqError):
            await fut


async def test_send_ping_timeout(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        calls: list[Any] = []
        fut = s.ping_plugin.send_ping(JULIET, timeout=SHORT, callback=calls.append)
        canon, _ = await sent_ping(s)
        with pytest.raises(IqTimeout) as info:
            await asyncio.wait_for(fut, 2)
        assert s.c14n(str(info.value.iq)) == canon
        assert calls == []  # callback is for answers only


@pytest.mark.parametrize('answer', ['result', 'error'])
async def test_send_ping_callback_called_with_response(impl: Impl, answer: str) -> None:
    async with client_stream(impl.cls) as s:
        calls: list[Any] = []
        fut = s.ping_plugin.send_ping(JULIET, callback=calls.append)
        _, id_ = await sent_ping(s)
        response = (result_xml(id_, frm=JULIET) if answer == 'result'
                    else error_xml(id_, 'service-unavailable', frm=JULIET))
        s.feed(response)
        await s.settle()
        assert len(calls) == 1
        assert isinstance(calls[0], slixmpp.Iq)
        assert s.c14n(str(calls[0])) == s.c14n(response)
        if answer == 'result':
            assert (await fut)['id'] == id_
        else:
            with pytest.raises(IqError):
                await fut


async def test_send_ping_coroutine_callback(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        seen: list[str] = []

        async def callback(iq: slixmpp.Iq) -> None:
            await asyncio.sleep(0)
            seen.append(iq['id'])

        if impl.is_ours:
            fut = s.ping_plugin.send_ping(JULIET, callback=callback)
            _, id_ = await sent_ping(s)
            s.feed(result_xml(id_, frm=JULIET))
            assert (await fut)['type'] == 'result'
            await s.settle()
            assert seen == [id_]  # the coroutine was awaited
        else:
            # slixmpp's own plugin (1.8.3 and 1.17 alike): Iq.send picks
            # CoroutineCallback for a coroutine callback but hands it its
            # plain internal wrapper, which raises ValueError before the
            # ping is sent; the IqTimeout_ scheduled just before leaks.
            with pytest.raises(ValueError, match='not a coroutine'):
                s.ping_plugin.send_ping(JULIET, callback=callback)
            await s.settle()
            assert s.take_sent() == b''
            leaked = s.pending_iq()['timeouts']
            assert len(leaked) == 1
            s.xmpp.cancel_schedule(leaked[0])


async def test_send_ping_timeout_callback(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        timed_out: list[Any] = []
        if impl.name == 'slixmpp' and NO_TIMEOUT_CALLBACK:
            # From 1.10 on, slixmpp's send_ping (and Iq.send) has no
            # timeout_callback parameter; the C plugin keeps it on every
            # version.
            with pytest.raises(TypeError):
                s.ping_plugin.send_ping(JULIET, timeout=SHORT, timeout_callback=timed_out.append)
            return
        fut = s.ping_plugin.send_ping(JULIET, timeout=SHORT, timeout_callback=timed_out.append)
        canon, _ = await sent_ping(s)
        with pytest.raises(IqTimeout):
            await asyncio.wait_for(fut, 2)
        assert len(timed_out) == 1
        assert isinstance(timed_out[0], slixmpp.Iq)
        assert s.c14n(str(timed_out[0])) == canon


async def test_send_ping_timeout_callback_not_called_on_answer(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        if impl.name == 'slixmpp' and NO_TIMEOUT_CALLBACK:
            return  # no timeout_callback parameter, see test_send_ping_timeout_callback
        timed_out: list[Any] = []
        fut = s.ping_plugin.send_ping(JULIET, timeout=SHORT, timeout_callback=timed_out.append)
        _, id_ = await sent_ping(s)
        s.feed(result_xml(id_, frm=JULIET))
        await fut
        await asyncio.sleep(SHORT * 2)
        assert timed_out == []


# -- which answers complete a ping (MatchIDSender) ---------------------------------

ACCEPTED_SENDERS = {
    'pinged-full-jid': JULIET,
    'pinged-bare-jid': 'juliet@capulet.example',
    'pinged-domain': 'capulet.example',
    'own-bare-jid': 'user@example.com',
    'own-domain': SERVER,
    'no-from': None,
}
REJECTED_SENDERS = {
    'third-party': 'evil@example.org/x',
    'other-resource-of-pinged': 'juliet@capulet.example/other',
    'resource-on-pinged-domain': 'capulet.example/x',
    'own-full-jid': CLIENT_JID,
    'own-other-resource': 'user@example.com/other',
}


async def answer_from(s: MemoryStream, sender: str | None,
                      timeout: float) -> asyncio.Task[float]:
    """Ping JULIET and feed a result with the right id from ``sender``."""
    task = asyncio.create_task(s.ping_plugin.ping(JULIET, timeout=timeout))
    _, id_ = await sent_ping(s)
    s.feed(result_xml(id_, frm=sender))
    await s.settle()
    return task


@pytest.mark.parametrize('sender', ACCEPTED_SENDERS.values(), ids=ACCEPTED_SENDERS.keys())
async def test_result_accepted_from(impl: Impl, sender: str | None) -> None:
    async with client_stream(impl.cls) as s:
        task = await answer_from(s, sender, timeout=5)
        assert task.done()
        assert (await task) >= 0


@pytest.mark.parametrize('sender', REJECTED_SENDERS.values(), ids=REJECTED_SENDERS.keys())
async def test_result_rejected_from(impl: Impl, sender: str) -> None:
    async with client_stream(impl.cls) as s:
        task = await answer_from(s, sender, timeout=SHORT)
        # Taken, the result would have completed the ping (with its rtt):
        # under load the short timeout may already have run out here.
        with pytest.raises(IqTimeout):
            await task
        assert s.take_sent() == b''  # a stray result is not answered either


async def test_result_from_unnormalised_jid(impl: Impl) -> None:
    """Up to 1.12 slixmpp compares senders as JID objects (so case
    differences in node and domain still match); from 1.13 on it compares
    attribute strings (no match)."""
    async with client_stream(impl.cls) as s:
        task = await answer_from(s, 'JULIET@Capulet.Example/balcony', timeout=SHORT)
        if not RESULT_SENDER_COMPARED_AS_STRING:
            assert (await task) >= 0
        else:
            with pytest.raises(IqTimeout):
                await task


async def test_forged_then_real_result(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        task = asyncio.create_task(s.ping_plugin.ping(JULIET, timeout=5))
        _, id_ = await sent_ping(s)
        s.feed(result_xml(id_, frm='evil@example.org/x'))
        await s.settle()
        assert not task.done()
        s.feed(result_xml(id_, frm=JULIET))
        assert (await task) >= 0


async def test_result_with_other_id_ignored(impl: Impl) -> None:
    async with client_stream(impl.cls) as s:
        task = asyncio.create_task(s.ping_plugin.ping(JULIET, timeout=SHORT))
        _, id_ = await sent_ping(s)
        s.feed(result_xml(id_ + 'x', frm=JULIET) + result_xml(id_[:-1], frm=JULIET))
        with pytest.raises(IqTimeout):
            await task


async def test_late_result_dropped_quietly(impl: Impl, caplog: pytest.LogCaptureFixture) -> None:
    async with client_stream(impl.cls) as s:
        task = asyncio.create_task(s.ping_plugin.ping(JULIET, timeout=SHORT))
        _, id_ = await sent_ping(s)
        with pytest.raises(IqTimeout):
            await task
        s.feed(result_xml(id_, frm=JULIET))  # must not raise
        await s.settle()
        assert s.take_sent() == b''
        assert errors_logged(caplog) == []


async def test_duplicate_result_ignored(impl: Impl, caplog: pytest.LogCaptureFixture) -> None:
    async with client_stream(impl.cls) as s:
        calls: list[Any] = []
        fut = s.ping_plugin.send_ping(JULIET, callback=calls.append)
        _, id_ = await sent_ping(s)
        s.feed(result_xml(id_, frm=JULIET) + result_xml(id_, frm=JULIET))
        await s.settle()
        s.feed(result_xml(id_, frm=JULIET))
        await s.settle()
        assert (await fut)['id'] == id_
        assert len(calls) == 1
        assert s.take_sent() == b''
        assert errors_logged(caplog) == []


async def test_result_with_payload_and_lang_is_returned(impl: Impl) -> None:
    """The response Iq is handed over as received."""
    async with client_stream(impl.cls) as s:
        fut = s.ping_plugin.send_ping(JULIET)
        _, id_ = await sent_ping(s)
        response = iq_xml('result', id_, frm=JULIET, to=CLIENT_JID, lang='fr', payload=PING_PAYLOAD)
        s.feed(response)
        iq = await fut
        assert s.c14n(str(iq)) == s.c14n(response)
        assert iq['lang'] == 'fr'
        assert iq.xml.find('{urn:xmpp:ping}ping') is not None


async def test_nothing_pending_after_mixed_outcomes(impl: Impl) -> None:
    """Answered, failed, timed out, late and forged answers: afterwards no
    IqCallback_ handler, no IqTimeout_ schedule and no in-flight entry
    (``pending()`` on the C plugin) remains.  (Every other test checks the
    same on leaving its stream, see memstream.client_stream.)"""
    async with client_stream(impl.cls, check_pending=False) as s:
        plugin = s.ping_plugin
        ok = asyncio.create_task(plugin.ping(JULIET))
        _, ok_id = await sent_ping(s)
        err = asyncio.create_task(plugin.ping('romeo@montague.example'))
        _, err_id = await sent_ping(s)
        lost = asyncio.create_task(plugin.ping('nobody@montague.example', timeout=SHORT))
        _, lost_id = await sent_ping(s)
        fut = plugin.send_ping(JULIET, callback=lambda iq: None)
        _, fut_id = await sent_ping(s)
        # four pings in flight, tracked the implementation's way
        if impl.is_ours:
            assert plugin.pending() == 4
        else:
            pending = s.pending_iq()
            assert (len(pending['handlers']), len(pending['timeouts'])) == (4, 4)
        s.feed(result_xml(ok_id, frm='evil@example.org/x') + result_xml(ok_id, frm=JULIET)
               + error_xml(err_id, 'item-not-found', frm='romeo@montague.example')
               + result_xml(fut_id, frm=JULIET))
        assert (await ok) >= 0
        with pytest.raises(IqError):
            await err
        with pytest.raises(IqTimeout):
            await lost
        assert (await fut)['type'] == 'result'
        s.feed(result_xml(lost_id, frm='nobody@montague.example'))
        await s.settle()
        s.assert_no_pending()


@pytest.mark.parametrize('stream_debug', [False, True], ids=['', 'stream-debug'])
async def test_answer_handlers_only_while_pings_in_flight(
        impl: Impl, stream_debug: bool, caplog: pytest.LogCaptureFixture) -> None:
    """slixmpp matches every stanza against every handler: one waiting for
    an answer is registered only while a ping is in flight, and is gone
    once no ping is (for ours, after the next stanza).  Twice over, so that
    a handler registered again matches too; with slixmpp's stream logging
    at DEBUG, the answers take slixmpp's path on ours too."""
    if stream_debug:
        caplog.set_level(logging.DEBUG, logger='slixmpp.xmlstream.xmlstream')
    async with client_stream(impl.cls) as s:
        assert s.answer_handler_names() == []
        for _ in range(2):
            task = asyncio.create_task(s.ping_plugin.ping(JULIET))
            _, id_ = await sent_ping(s)
            assert len(s.answer_handler_names()) == 1
            s.feed(result_xml(id_, frm=JULIET))
            assert (await task) >= 0
            s.feed(message_xml('hi'))
            await s.settle()
            assert s.answer_handler_names() == []
