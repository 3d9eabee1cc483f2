"""slixmpp-ping: ping(8) for XMPP.

    slixmpp-ping [-c COUNT] [-i INTERVAL] [-W TIMEOUT] [--flood N]
                 [--impl ours|slixmpp] [--host HOST] [--port PORT] [--no-tls]
                 [-v] --jid JID TARGET

Logs in as JID (the password comes from $XMPP_PASSWORD, or a prompt on a
terminal), pings TARGET (XEP-0199) and prints one line per answer and a
ping(8)-style summary, also when stopped with Ctrl-C.  ``--flood N`` sends N
pings at once and prints the throughput; ``--impl slixmpp`` runs slixmpp's
own plugin instead of slixmpp_ping_c's, to compare.

Exit status: 0 when at least one pong came back, 1 when none did, 2 on bad
arguments, connection or authentication errors (one line on stderr says
which), 130 when interrupted before the first ping.

The command by concern: its arguments (args), the run (pinging), what it
prints (report), Ctrl-C (signals); logging in is the package's (session).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import slixmpp

from slixmpp_ping_c.cli.args import (PROG, Failure, parse_args,
                                     read_password, setup_logging)
from slixmpp_ping_c.cli.pinging import impl_name, make_client, ping
from slixmpp_ping_c.cli.report import (EXIT_ERROR, EXIT_INTERRUPTED,
                                       EXIT_PONG, Report, out)
from slixmpp_ping_c.cli.signals import Interrupted, Stop, exit_now
from slixmpp_ping_c.session import (LOGIN_TIMEOUT, LoginFailed, Session,
                                    client_where, connect_client)


async def login(xmpp: slixmpp.ClientXMPP, session: Session,
                args: argparse.Namespace, stop: Stop) -> None:
    """Log in, unless stopped first (Interrupted)."""
    logged_in = asyncio.create_task(session.log_in(
        lambda: connect_client(xmpp, args.host, args.port, args.no_tls),
        LOGIN_TIMEOUT))
    stopped = asyncio.create_task(stop.event.wait())
    try:
        await asyncio.wait([logged_in, stopped],
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        logged_in.cancel()
    if stop and not logged_in.done():
        raise Interrupted
    logged_in.result()  # raises LoginFailed


async def watch_connection(session: Session, stop: Stop) -> None:
    await session.lost.wait()
    stop.set('connection lost')


async def run(args: argparse.Namespace, password: str) -> int:
    report = Report(str(args.target), args.flood)
    stop = Stop(lambda: exit_now(report))
    xmpp = make_client(args.jid, password, args.impl)
    session = Session(xmpp, client_where(xmpp, args.host, args.port),
                      args.no_tls)
    try:
        try:
            await login(xmpp, session, args, stop)
        finally:
            stop.acted()
        what = (f': {args.flood} pings at once' if args.flood is not None
                else '')
        out(f'PING {report.target} from {xmpp.boundjid.full}{what} '
            f'({impl_name(xmpp)})')
        watcher = asyncio.create_task(watch_connection(session, stop))
        try:
            await ping(xmpp, args, report, stop)
        finally:
            watcher.cancel()
        stop.acted()
        if stop.reason == 'connection lost':
            report.lost = True
            print(f'{PROG}: connection to {session.where} lost'
                  + (f': {session.lost_reason}' if session.lost_reason
                     else ''), file=sys.stderr, flush=True)
        report.print()
        return report.exit_status()
    finally:
        await session.close()
        stop.restore()


def main(argv: Sequence[str] | None = None) -> int:
    """The slixmpp-ping command; returns its exit status."""
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # --help, or bad arguments
        return EXIT_PONG if exc.code is None else int(exc.code)
    setup_logging(args.verbose)
    try:
        password = read_password(args.jid)
        return asyncio.run(run(args, password))
    except (Failure, LoginFailed) as exc:
        print(f'{PROG}: {exc}', file=sys.stderr, flush=True)
        return EXIT_ERROR
    except (Interrupted, KeyboardInterrupt):
        print(f'{PROG}: interrupted', file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
