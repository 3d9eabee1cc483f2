"""Typed wrappers of the slixmpp calls that slixmpp leaves unannotated,
or annotates narrower than what they take.

``mypy --strict`` refuses a call to an unannotated function from annotated
code.  Each wrapper here says what the call returns and is the one place
that silences that check for it: if slixmpp annotates the function, mypy
reports the ``type: ignore`` as unused, and the wrapper can go.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slixmpp.basexmpp import BaseXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.plugins import BasePlugin
from slixmpp.stanza import Iq
from slixmpp.xmlstream import ET


def iq_from_xml(xml: ET.Element) -> Iq:
    """An Iq over received XML (Iq.__init__ is unannotated)."""
    return Iq(None, xml)  # type: ignore[no-untyped-call]


def reply(iq: Iq) -> Iq:
    """iq.reply(): the result to send back (Iq.reply is unannotated)."""
    result: Iq = iq.reply()  # type: ignore[no-untyped-call]
    return result


def send_answer(iq: Iq) -> None:
    """iq.send() for a result or an error, which nothing waits on (Iq.send
    is unannotated)."""
    iq.send()  # type: ignore[no-untyped-call]


def iq_error(iq: Iq) -> IqError:
    """IqError for an error answer (its __init__ is unannotated)."""
    return IqError(iq)  # type: ignore[no-untyped-call]


def iq_timeout(iq: Iq) -> IqTimeout:
    """IqTimeout for an unanswered Iq (its __init__ is unannotated)."""
    return IqTimeout(iq)  # type: ignore[no-untyped-call]


def report_exception(xmpp: BaseXMPP, exc: Exception) -> None:
    """xmpp.exception(exc): slixmpp's hook for an exception no handler
    caught (BaseXMPP.exception is unannotated)."""
    xmpp.exception(exc)  # type: ignore[no-untyped-call]


def set_plugin_attribute(plugin: BasePlugin, key: str, value: Any) -> None:
    """BasePlugin.__setattr__, which stores config keys in plugin.config
    (unannotated)."""
    BasePlugin.__setattr__(plugin, key, value)  # type: ignore[no-untyped-call]


def schedule_repeating(xmpp: BaseXMPP, name: str, seconds: float,
                       callback: Callable[[], None]) -> None:
    """xmpp.schedule(name, seconds, callback, repeat=True).  slixmpp
    annotates seconds as int; they go to loop.call_later, any float."""
    schedule: Callable[..., None] = xmpp.schedule
    schedule(name, seconds, callback, repeat=True)


async def disco_info(xmpp: BaseXMPP, jid: str) -> Any:
    """xep_0030's get_info(jid): an Iq, or a DiscoInfo when answered
    locally.  slixmpp annotates jid as a JID, but a str is what it
    answers locally for one's own JID."""
    get_info: Callable[..., Awaitable[Any]] = (
        xmpp.plugin['xep_0030'].get_info)
    return await get_info(jid)
