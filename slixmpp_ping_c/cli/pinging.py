"""The run: the client with the chosen plugin, then ping(8)'s loop or a
flood of pings at once."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.jid import JID
from slixmpp.plugins.base import BasePlugin, register_plugin

from slixmpp_ping_c.cli.report import Progress, Report, out
from slixmpp_ping_c.cli.signals import Stop


# ---- the plugin -------------------------------------------------------


def plugin_class(impl: str) -> type[BasePlugin]:
    """slixmpp_ping_c's XEP_0199, or slixmpp's own."""
    if impl == 'slixmpp':
        from slixmpp.plugins.xep_0199.ping import XEP_0199 as SlixmppXEP_0199
        return SlixmppXEP_0199
    from slixmpp_ping_c import XEP_0199
    return XEP_0199


def make_client(jid: JID, password: str, impl: str) -> slixmpp.ClientXMPP:
    cls = plugin_class(impl)
    # Importing slixmpp_ping_c registered ours for every client: say which
    # class 'xep_0199' means for this one.
    register_plugin(cls)
    xmpp = slixmpp.ClientXMPP(jid, password)
    xmpp.register_plugin('xep_0199')
    if type(xmpp.plugin['xep_0199']) is not cls:
        raise RuntimeError(f'xep_0199 is {type(xmpp.plugin["xep_0199"])}, '
                           f'not {cls}')
    return xmpp


def impl_name(xmpp: slixmpp.ClientXMPP) -> str:
    plugin = type(xmpp.plugin['xep_0199'])
    return f'{plugin.__module__}, slixmpp {slixmpp.__version__}'


# ---- pinging ----------------------------------------------------------


def error_condition(exc: BaseException) -> str:
    """What ping(8) would say of a ping that got no pong."""
    if isinstance(exc, IqTimeout):
        return 'timeout'
    if isinstance(exc, IqError):
        return exc.iq['error']['condition'] or 'error'
    return type(exc).__name__


class Pinger:
    """ping(8)'s loop: one ping every interval, each answered on its own."""

    def __init__(self, plugin: Any, target: JID, timeout: float,
                 report: Report) -> None:
        self.plugin = plugin
        self.target = target
        self.timeout = timeout
        self.report = report

    async def one(self, seq: int) -> None:
        stats, label = self.report.stats, self.report.target
        stats.sent += 1
        try:
            rtt = await self.plugin.ping(self.target, timeout=self.timeout)
        except (IqError, IqTimeout) as exc:
            condition = error_condition(exc)
            stats.no_pong(condition)
            what = condition if condition == 'timeout' else (
                f'error={condition}')
            out(f'no pong from {label}: seq={seq} {what}')
        else:
            stats.pong(rtt)
            out(f'pong from {label}: seq={seq} time={rtt * 1000:.3f} ms')

    async def run(self, count: int | None, interval: float,
                  stop: Stop) -> None:
        tasks: set[asyncio.Task[None]] = set()
        seq = 0
        try:
            while count is None or seq < count:
                seq += 1
                task = asyncio.create_task(self.one(seq))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                if seq == count or await stop.wait(interval):
                    break
            # ping(8) -c waits for the last answers (or their timeouts).
            stopped = asyncio.ensure_future(stop.event.wait())
            while tasks and not stop:
                await asyncio.wait([*tasks, stopped],
                                   return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
        finally:
            self.report.end()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def flood(plugin: Any, target: JID, n: int, timeout: float,
                report: Report, stop: Stop) -> None:
    """N pings at once; the report's time runs from the first sent to the
    last answer (or to the stop)."""
    stats = report.stats
    progress = Progress(n, sys.stderr)

    async def one() -> None:
        stats.sent += 1
        try:
            stats.pong(await plugin.ping(target, timeout=timeout))
        except (IqError, IqTimeout) as exc:
            stats.no_pong(error_condition(exc))
        finally:
            progress.advance()

    pings = asyncio.gather(*(one() for _ in range(n)))
    stopped = asyncio.ensure_future(stop.event.wait())
    waited: list[asyncio.Future[Any]] = [pings, stopped]
    try:
        await asyncio.wait(waited,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        report.end()
        pings.cancel()
        stopped.cancel()
        await asyncio.gather(pings, stopped, return_exceptions=True)
        progress.close()


async def ping(xmpp: slixmpp.ClientXMPP, args: argparse.Namespace,
               report: Report, stop: Stop) -> None:
    """Ping as asked, until done or stopped."""
    plugin = xmpp.plugin['xep_0199']
    report.begin()
    if args.flood is not None:
        await flood(plugin, args.target, args.flood, args.timeout, report,
                    stop)
    else:
        await Pinger(plugin, args.target, args.timeout, report).run(
            args.count, args.interval, stop)
