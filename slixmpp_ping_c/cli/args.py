"""slixmpp-ping's arguments, its password and its logging."""

from __future__ import annotations

import argparse
import getpass
import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

from slixmpp.jid import JID, InvalidJID

from slixmpp_ping_c.cli.report import EXIT_ERROR
from slixmpp_ping_c.session import DEFAULT_PORT, LOGIN_TIMEOUT

PROG = 'slixmpp-ping'
# --impl: which XEP-0199 plugin pings (cli.pinging.plugin_class).
IMPLEMENTATIONS = ('ours', 'slixmpp')
PASSWORD_ENV = 'XMPP_PASSWORD'
DEFAULT_INTERVAL = 1.0
# ping(8)'s -W default; a flood waits longer, since its N pings queue up
# behind each other (slixmpp 1.8.3's own plugin needs a minute for 5,000
# through a local Prosody).
DEFAULT_TIMEOUT = 10.0
DEFAULT_FLOOD_TIMEOUT = 120.0

EPILOG = f'''\
The password is read from ${PASSWORD_ENV}, or asked for when it is unset and
stdin is a terminal; never from an argument.  Without --no-tls, TLS is
required (STARTTLS, as slixmpp negotiates it); --no-tls logs in over plain
TCP with SCRAM.  -W defaults to {DEFAULT_TIMEOUT:g} s \
({DEFAULT_FLOOD_TIMEOUT:g} s with --flood); logging in
must succeed within {LOGIN_TIMEOUT:g} s.

Exit status: 0 when at least one pong came back, 1 when none did, 2 on bad
arguments, connection or authentication errors, 130 when interrupted before
the first ping.'''


class Failure(Exception):
    """An error that ends the run with status 2 and one line on stderr."""


class _Parser(argparse.ArgumentParser):
    """argparse, with one line on stderr for bad arguments."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f'{PROG}: bad arguments: {message} '
                              f'(see {PROG} --help)\n')


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value > 0 or not math.isfinite(value):
            raise argparse.ArgumentTypeError(
                f'not a positive number: {text!r}')
        return value
    convert.__name__ = f'positive {kind.__name__}'
    return convert


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f'not a TCP port: {text!r}')
    return int(text)


def _jid(text: str) -> JID:
    try:
        jid = JID(text)
    except InvalidJID:
        jid = None
    if jid is None or not jid.domain:
        raise argparse.ArgumentTypeError(f'not a JID: {text!r}')
    return jid


def _account(text: str) -> JID:
    jid = _jid(text)
    if not jid.user:
        raise argparse.ArgumentTypeError(
            f'not an account (user@domain): {text!r}')
    return jid


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description='Ping an XMPP entity (XEP-0199), as ping(8) does.',
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('target', metavar='TARGET', type=_jid,
                        help='the JID to ping: a server, an account, '
                             'a full JID, a component')
    parser.add_argument('--jid', required=True, type=_account,
                        help='the account to log in as (user@domain'
                             '[/resource])')
    parser.add_argument('-c', '--count', type=_positive(int),
                        help='stop after COUNT pings (default: until Ctrl-C)')
    parser.add_argument('-i', '--interval', type=_positive(float),
                        help='seconds between pings (default: '
                             f'{DEFAULT_INTERVAL:g})')
    parser.add_argument('-W', '--timeout', type=_positive(float),
                        help='seconds to wait for each pong (default: '
                             f'{DEFAULT_TIMEOUT:g}, {DEFAULT_FLOOD_TIMEOUT:g}'
                             ' with --flood)')
    parser.add_argument('--flood', metavar='N', type=_positive(int),
                        help='send N pings at once, then print the '
                             'throughput and the summary')
    parser.add_argument('--impl', choices=IMPLEMENTATIONS, default='ours',
                        help="the XEP-0199 plugin: slixmpp_ping_c's (ours, "
                             "the default) or slixmpp's own (slixmpp)")
    parser.add_argument('--host',
                        help="connect to HOST instead of the JID's domain")
    parser.add_argument('--port', type=_port,
                        help=f'connect to PORT (default: {DEFAULT_PORT})')
    parser.add_argument('--no-tls', action='store_true',
                        help='plain TCP, SCRAM without TLS (a test server '
                             'on loopback, say)')
    parser.add_argument('-v', '--verbose', action='count', default=0,
                        help="slixmpp's log on stderr (-v: info, -vv: debug)")
    return parser


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.flood is not None and (args.count is not None
                                   or args.interval is not None):
        parser.error('--flood cannot be combined with -c or -i')
    if args.interval is None:
        args.interval = DEFAULT_INTERVAL
    if args.timeout is None:
        args.timeout = (DEFAULT_TIMEOUT if args.flood is None
                        else DEFAULT_FLOOD_TIMEOUT)
    return args


def read_password(jid: JID, stdin: TextIO | None = None) -> str:
    """The password from $XMPP_PASSWORD, else from a prompt on a
    terminal."""
    password = os.environ.get(PASSWORD_ENV)
    if password:
        return password
    stdin = stdin or sys.stdin
    if stdin is None or not stdin.isatty():
        raise Failure(f'no password: set {PASSWORD_ENV} '
                      '(or run on a terminal to be asked)')
    return getpass.getpass(f'password for {jid.bare}: ')


def setup_logging(verbose: int) -> None:
    """slixmpp logs on stderr only when asked: the output is ping's."""
    if verbose:
        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    else:
        logging.basicConfig(level=logging.CRITICAL + 1,
                            handlers=[logging.NullHandler()])
