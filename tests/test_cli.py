"""The slixmpp-ping command (slixmpp_ping_c/cli/) against a real Prosody.

The command runs as a subprocess (``python -m slixmpp_ping_c``), so exit
statuses and signals are real; the accounts it pings stay online in the
test's own event loop.  Never skipped: if Prosody cannot start, the fixture
fails with Prosody's own words.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import slixmpp
from slixmpp.plugins.xep_0199.ping import XEP_0199 as SlixmppXEP_0199

from tests.memstream import client_stream, error_xml, result_xml, use_ping_plugin
from tests.conftest import PROSODY_ACCOUNTS
from tests.prosody import Prosody, free_port
import slixmpp_ping_c
from slixmpp_ping_c import cli
from slixmpp_ping_c.cli.pinging import flood
from slixmpp_ping_c.cli.report import Report, Stats
from slixmpp_ping_c.cli.signals import Stop
from slixmpp_ping_c.session import client_session

ROOT = Path(__file__).resolve().parent.parent
# Where this suite found slixmpp_ping_c (the checkout, or make sanitize's
# separate build): the command under test must run the same build.
PACKAGE_HOME = Path(slixmpp_ping_c.__file__).resolve().parent.parent
PASSWORDS = PROSODY_ACCOUNTS
# Headers name the plugin class's module.
IMPL_MODULES = {'ours': 'slixmpp_ping_c.plugin', 'slixmpp': 'slixmpp.plugins.xep_0199.ping'}
RUN_TIMEOUT = 30.0

PONG = re.compile(r'pong from (?P<target>\S+): seq=(?P<seq>\d+) time=(?P<ms>\d+\.\d{3}) ms')
NO_PONG = re.compile(r'no pong from (?P<target>\S+): seq=(?P<seq>\d+) (?P<what>timeout|error=\S+)')
HEADER = re.compile(r'PING (?P<target>\S+) from (?P<jid>\S+?)(?P<flood>: \d+ pings at once)? '
                    r'\((?P<module>[\w.]+), slixmpp (?P<version>[\w.]+)\)')
TITLE = re.compile(r'--- (?P<target>\S+) xmpp ping statistics ---')
COUNTS = re.compile(r'(?P<sent>\d+) sent, (?P<received>\d+) received'
                    r'(, \+(?P<errors>\d+) errors)?, (?P<loss>[\d.]+)% loss, time (?P<ms>\d+)ms')
RTT = re.compile(r'rtt min/avg/max/mdev = (?P<min>\d+\.\d{3})/(?P<avg>\d+\.\d{3})/'
                 r'(?P<max>\d+\.\d{3})/(?P<mdev>\d+\.\d{3}) ms')
THROUGHPUT = re.compile(r'(?P<received>\d+) of (?P<n>\d+) pings answered in '
                        r'(?P<seconds>\d+\.\d{3}) s: (?P<rate>\d+) pings/s')


# ---- the server and the command ----------------------------------------


@pytest.fixture
def server(prosody: Prosody) -> Prosody:
    """The suite's shared Prosody (tests/conftest.py)."""
    return prosody


@pytest.fixture(scope='module')
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prosody, Path]]:
    """A Prosody that requires STARTTLS, with a self-signed certificate for
    localhost; yields it and the certificate."""
    directory = tmp_path_factory.mktemp('tls')
    cert, key = directory / 'localhost.crt', directory / 'localhost.key'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                    '-nodes', '-keyout', str(key), '-out', str(cert), '-days', '2',
                    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'],
                   check=True, capture_output=True, timeout=30)
    tls = f'''
modules_disabled = {{ "s2s" }}
modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping"; "smacks"; "tls" }}
ssl = {{ certificate = "{cert}"; key = "{key}" }}
c2s_require_encryption = true
'''
    with Prosody(accounts=PASSWORDS, extra_config=tls) as prosody:
        yield prosody, cert


def command(server: Prosody, *args: str, jid: str = 'alice@localhost',
            no_tls: bool = True) -> list[str]:
    tls = ['--no-tls'] if no_tls else []
    return [sys.executable, '-m', 'slixmpp_ping_c', *tls, '--host', server.host,
            '--port', str(server.c2s_port), '--jid', jid, *args]


def environment(password: str | None = PASSWORDS['alice'], **extra: str) -> dict[str, str]:
    env = dict(os.environ, **extra)
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(PACKAGE_HOME), env.get('PYTHONPATH')]))
    env.pop('XMPP_PASSWORD', None)
    if password is not None:
        env['XMPP_PASSWORD'] = password
    return env


@dataclass
class Result:
    status: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    @property
    def errors(self) -> list[str]:
        """stderr, less slixmpp 1.8.3's own warning when it is imported
        without its compiled stringprep (before the command runs)."""
        return [line for line in self.stderr.splitlines()
                if not line.startswith('Using slower stringprep')]


def run(argv: Sequence[str], password: str | None = PASSWORDS['alice'], **env: str) -> Result:
    done = subprocess.run(argv, env=environment(password, **env), cwd=ROOT, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
    return Result(done.returncode, done.stdout, done.stderr)


async def run_async(argv: Sequence[str], password: str | None = PASSWORDS['alice']) -> Result:
    """run(), while this event loop keeps other accounts online."""
    process = await asyncio.create_subprocess_exec(
        *argv, env=environment(password), cwd=ROOT, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    assert process.returncode is not None
    return Result(process.returncode, stdout.decode(), stderr.decode())


def one_error(result: Result, status: int = 2) -> str:
    """The run failed with one line on stderr (no traceback); that line."""
    assert result.status == status, result
    assert len(result.errors) == 1, result.stderr
    assert result.errors[0].startswith('slixmpp-ping: '), result.stderr
    return result.errors[0]


# ---- reading the output ----------------------------------------------------


@dataclass
class Summary:
    target: str
    sent: int
    received: int
    errors: int
    loss: float
    time_ms: int
    rtt: tuple[float, float, float, float] | None


@dataclass
class Output:
    header: re.Match[str]
    pongs: list[re.Match[str]] = field(default_factory=list)
    no_pongs: list[re.Match[str]] = field(default_factory=list)
    throughput: re.Match[str] | None = None
    summary: Summary | None = None


def parse(stdout: str) -> Output:
    """Every line of a run's output, checked against the formats."""
    lines = stdout.splitlines()
    header = HEADER.fullmatch(lines[0])
    assert header, lines[0]
    output = Output(header)
    rest = iter(lines[1:])
    for line in rest:
        if m := PONG.fullmatch(line):
            output.pongs.append(m)
        elif m := NO_PONG.fullmatch(line):
            output.no_pongs.append(m)
        elif m := THROUGHPUT.fullmatch(line):
            output.throughput = m
        elif line == '':
            break
        else:
            raise AssertionError(f'unexpected line {line!r} in:\n{stdout}')
    title = TITLE.fullmatch(next(rest))
    counts = COUNTS.fullmatch(next(rest))
    assert title and counts, stdout
    rtt = None
    if (line := next(rest, None)) is not None:
        m = RTT.fullmatch(line)
        assert m, line
        rtt = tuple(float(m[name]) for name in ('min', 'avg', 'max', 'mdev'))
    assert next(rest, None) is None, stdout
    output.summary = Summary(title['target'], int(counts['sent']), int(counts['received']),
                             int(counts['errors'] or 0), float(counts['loss']),
                             int(counts['ms']), rtt)
    return output


def check_summary(output: Output, target: str, sent: int, received: int) -> Summary:
    summary = output.summary
    assert summary is not None
    assert (summary.target, summary.sent, summary.received) == (target, sent, received)
    assert math.isclose(summary.loss, 100 * (sent - received) / sent, abs_tol=1e-3)
    if received:
        low, avg, high, mdev = summary.rtt
        assert 0 < low <= avg <= high and mdev >= 0
        times = [float(p['ms']) for p in output.pongs]
        if times:  # the summary is about the lines printed
            assert (low, high) == (min(times), max(times))
    else:
        assert summary.rtt is None
    return summary


# ---- accounts that stay online ---------------------------------------------


@asynccontextmanager
async def online(server: Prosody, user: str, resource: str,
                 drop_pings: bool = False) -> AsyncIterator[list[str]]:
    """An account logged in (with slixmpp's own plugin) for the block; yields
    the senders of the pings it received.  drop_pings: it never sees them,
    so they time out."""
    xmpp = slixmpp.ClientXMPP(f'{user}@{server.domain}/{resource}', PASSWORDS[user])
    pinged_by: list[str] = []

    def incoming(stanza: slixmpp.ElementBase) -> slixmpp.ElementBase | None:
        if isinstance(stanza, slixmpp.Iq) and stanza['type'] == 'get' \
                and stanza.xml.find('{urn:xmpp:ping}ping') is not None:
            pinged_by.append(stanza['from'].full)
            if drop_pings:
                return None
        return stanza

    with use_ping_plugin(SlixmppXEP_0199):
        xmpp.register_plugin('xep_0199')
    xmpp.add_filter('in', incoming)
    session = await client_session(xmpp, server.host, server.c2s_port, no_tls=True)
    try:
        yield pinged_by
    finally:
        assert await session.close()


# ---- pinging ---------------------------------------------------------------


@pytest.mark.parametrize('impl', ['ours', 'slixmpp'])
def test_three_pings_to_the_server(server: Prosody, impl: str) -> None:
    result = run(command(server, '-c', '3', '-i', '0.2', '--impl', impl, 'localhost'))
    assert result.status == 0, result
    assert result.errors == []
    output = parse(result.stdout)
    assert output.header['target'] == 'localhost'
    assert output.header['jid'].startswith('alice@localhost/')
    assert output.header['module'] == IMPL_MODULES[impl]
    assert output.header['version'] == slixmpp.__version__
    assert [(p['target'], int(p['seq'])) for p in output.pongs] == [('localhost', 1), ('localhost', 2),
                                                                    ('localhost', 3)]
    assert output.no_pongs == []
    summary = check_summary(output, 'localhost', sent=3, received=3)
    # -i 0.2: two intervals between three pings.
    assert summary.time_ms >= 400


async def test_three_pings_to_another_account(server: Prosody) -> None:
    target = 'bob@localhost/online'
    async with online(server, 'bob', 'online') as pinged_by:
        result = await run_async(command(server, '-c', '3', '-i', '0.2', target))
    assert result.status == 0, result
    output = parse(result.stdout)
    assert [int(p['seq']) for p in output.pongs] == [1, 2, 3]
    check_summary(output, target, sent=3, received=3)
    # bob answered them, not the server on his behalf.
    assert pinged_by == [output.header['jid']] * 3


def test_an_unknown_user_answers_errors(server: Prosody) -> None:
    # (Prosody answers a ping to the bare JID of any local user itself:
    # the error comes for a resource of the unknown user.)
    target = 'nobody@localhost/phone'
    result = run(command(server, '-c', '2', '-i', '0.2', target))
    assert result.status == 1, result
    output = parse(result.stdout)
    assert output.pongs == []
    assert [(m['target'], m['seq'], m['what']) for m in output.no_pongs] == [
        (target, '1', 'error=service-unavailable'), (target, '2', 'error=service-unavailable')]
    summary = check_summary(output, target, sent=2, received=0)
    assert summary.errors == 2


async def test_unanswered_pings_time_out(server: Prosody) -> None:
    target = 'carol@localhost/silent'
    async with online(server, 'carol', 'silent', drop_pings=True) as pinged_by:
        result = await run_async(command(server, '-c', '2', '-i', '0.1', '-W', '0.5', target))
    assert result.status == 1, result
    output = parse(result.stdout)
    assert [(m['seq'], m['what']) for m in output.no_pongs] == [('1', 'timeout'), ('2', 'timeout')]
    summary = check_summary(output, target, sent=2, received=0)
    assert summary.errors == 0  # timeouts are losses, not errors (as in ping(8))
    assert len(pinged_by) == 2


@pytest.mark.parametrize('impl', ['ours', 'slixmpp'])
def test_flood(server: Prosody, impl: str) -> None:
    result = run(command(server, '--flood', '200', '--impl', impl, 'localhost'))
    assert result.status == 0, result
    # No progress bar: stderr is not a terminal.
    assert result.errors == []
    output = parse(result.stdout)
    assert output.header['flood'] == ': 200 pings at once'
    assert output.header['module'] == IMPL_MODULES[impl]
    assert output.pongs == output.no_pongs == []
    throughput = output.throughput
    assert throughput and (throughput['received'], throughput['n']) == ('200', '200')
    seconds, rate = float(throughput['seconds']), int(throughput['rate'])
    assert seconds > 0 and math.isclose(rate, 200 / seconds, rel_tol=0.05, abs_tol=1)
    summary = check_summary(output, 'localhost', sent=200, received=200)
    assert abs(summary.time_ms - seconds * 1000) <= 1


def read_terminal(master: int, until: str, timeout: float = RUN_TIMEOUT) -> str:
    """What the command wrote to its terminal, up to `until` (or its end)."""
    seen = b''
    deadline = time.monotonic() + timeout
    while until.encode() not in seen:
        ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f'no {until!r} on the terminal: {seen!r}'
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the command closed the terminal
            chunk = b''
        if not chunk:
            break
        seen += chunk
    return seen.decode()


def test_on_a_terminal_password_prompt_and_progress_bar(server: Prosody) -> None:
    # stdin and stderr on a terminal of its own (a pty, in a new session so
    # that getpass does not reach the terminal running the tests).
    master, slave = os.openpty()
    try:
        process = subprocess.Popen(command(server, '--flood', '20', 'localhost'), env=environment(None),
                                   cwd=ROOT, stdin=slave, stdout=subprocess.PIPE, stderr=slave,
                                   start_new_session=True, text=True)
    finally:
        os.close(slave)
    try:
        assert read_terminal(master, 'password for alice@localhost: ').endswith(
            'password for alice@localhost: ')
        os.write(master, PASSWORDS['alice'].encode() + b'\n')
        terminal = read_terminal(master, '20/20 100%\r\n')
        stdout, _ = process.communicate(timeout=RUN_TIMEOUT)
    finally:
        os.close(master)
        if process.returncode is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, (stdout, terminal)
    assert PASSWORDS['alice'] not in terminal  # not echoed
    bars = terminal.split('\r')[2:]  # after the prompt's line
    assert bars[0] == '[' + '.' * 40 + '] 0/20   0%'
    assert bars[-2:] == ['[' + '#' * 40 + '] 20/20 100%', '\n']
    check_summary(parse(stdout), 'localhost', sent=20, received=20)


# ---- Ctrl-C ------------------------------------------------------------------


async def interrupt(argv: list[str], started: re.Pattern[str], after: float = 0.0) -> tuple[Result, float]:
    """Runs the command until a line matches started (then waits `after`
    seconds), sends SIGINT; the result and the seconds it took to end."""
    process = await asyncio.create_subprocess_exec(
        *argv, env=environment(), cwd=ROOT, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    seen = []
    try:
        while True:
            line = (await asyncio.wait_for(process.stdout.readline(), RUN_TIMEOUT)).decode()
            assert line, f'ended before {started.pattern}: {"".join(seen)}'
            seen.append(line)
            if started.fullmatch(line.rstrip('\n')):
                break
        await asyncio.sleep(after)
        process.send_signal(signal.SIGINT)
        sent = time.monotonic()
        stdout, stderr = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return Result(process.returncode, ''.join(seen) + stdout.decode(), stderr.decode()), \
        time.monotonic() - sent


async def test_ctrl_c_prints_the_summary(server: Prosody) -> None:
    result, _ = await interrupt(command(server, '-i', '0.2', 'localhost'), PONG)
    assert result.status == 0, result
    assert result.errors == []
    output = parse(result.stdout)
    assert len(output.pongs) >= 1
    summary = output.summary
    assert summary is not None and summary.received == len(output.pongs)
    # A ping in flight at Ctrl-C counts as sent, not received (ping(8)).
    assert summary.sent - summary.received in (0, 1)
    check_summary(output, 'localhost', summary.sent, summary.received)


async def test_ctrl_c_during_a_flood_of_slixmpps_plugin(server: Prosody) -> None:
    # slixmpp's plugin holds the event loop for seconds in one read of
    # thousands of pongs: the summary still comes within Stop.GRACE.
    result, seconds = await interrupt(
        command(server, '--flood', '3000', '--impl', 'slixmpp', 'localhost'), HEADER, after=0.5)
    assert result.status in (0, 1), result
    assert result.errors == []
    output = parse(result.stdout)
    assert output.throughput and output.throughput['n'] == '3000'
    summary = output.summary
    assert summary is not None and summary.received < 3000
    assert seconds < Stop.GRACE + 2


# ---- errors: exit status 2, one line --------------------------------------------


def test_wrong_password(server: Prosody) -> None:
    result = run(command(server, '-c', '1', 'localhost'), password='not-the-password')
    assert one_error(result) == 'slixmpp-ping: authentication failed for alice@localhost (not-authorized)'
    assert result.stdout == ''


@pytest.mark.slow  # the command, no server
def test_unreachable_port() -> None:
    port = free_port()
    result = run([sys.executable, '-m', 'slixmpp_ping_c', '--no-tls', '--host', '127.0.0.1',
                  '--port', str(port), '--jid', 'alice@localhost', '-c', '1', 'localhost'])
    assert one_error(result).startswith(f'slixmpp-ping: cannot connect to 127.0.0.1:{port}: ')


def test_tls_is_required_unless_no_tls(server: Prosody) -> None:
    # The test server offers no STARTTLS: no password goes out in clear.
    result = run(command(server, '-c', '1', 'localhost', no_tls=False))
    assert one_error(result) == (
        f'slixmpp-ping: cannot log in as alice@localhost without TLS: 127.0.0.1:{server.c2s_port} '
        'offers no STARTTLS (--no-tls logs in over plain TCP)')


@pytest.mark.server
def test_starttls(tls_server: tuple[Prosody, Path]) -> None:
    server, cert = tls_server
    result = run(command(server, '-c', '2', '-i', '0.1', 'localhost', no_tls=False),
                 SSL_CERT_FILE=str(cert))
    assert result.status == 0, result
    check_summary(parse(result.stdout), 'localhost', sent=2, received=2)


@pytest.mark.server
def test_starttls_with_an_untrusted_certificate(tls_server: tuple[Prosody, Path]) -> None:
    server, _ = tls_server
    result = run(command(server, '-c', '1', 'localhost', no_tls=False))
    assert one_error(result).startswith(
        f'slixmpp-ping: TLS with 127.0.0.1:{server.c2s_port} failed: '
        '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate')


@pytest.mark.server
def test_no_tls_with_a_server_that_requires_it(tls_server: tuple[Prosody, Path]) -> None:
    server, _ = tls_server
    result = run(command(server, '-c', '1', 'localhost'))
    assert one_error(result) == (
        f'slixmpp-ping: cannot log in as alice@localhost: 127.0.0.1:{server.c2s_port} '
        'offers no way to log in without TLS (run it without --no-tls)')


def test_no_password_and_no_terminal(server: Prosody) -> None:
    result = run(command(server, '-c', '1', 'localhost'), password=None)
    assert one_error(result) == ('slixmpp-ping: no password: set XMPP_PASSWORD '
                                 '(or run on a terminal to be asked)')


@pytest.mark.slow  # the command
def test_bad_usage() -> None:
    result = run([sys.executable, '-m', 'slixmpp_ping_c', '--jid', 'alice@localhost'])
    assert one_error(result) == ('slixmpp-ping: bad arguments: the following arguments are '
                                 'required: TARGET (see slixmpp-ping --help)')


@pytest.mark.parametrize('argv, complaint', [
    ([], 'the following arguments are required: TARGET, --jid'),
    (['localhost'], 'the following arguments are required: --jid'),
    (['--jid', 'localhost', 'localhost'], "argument --jid: not an account (user@domain): 'localhost'"),
    (['--jid', 'a@b', '-c', '0', 'b'], "argument -c/--count: not a positive number: '0'"),
    (['--jid', 'a@b', '-i', 'soon', 'b'], "argument -i/--interval: not a positive number: 'soon'"),
    (['--jid', 'a@b', '-W', 'nan', 'b'], "argument -W/--timeout: not a positive number: 'nan'"),
    (['--jid', 'a@b', '--port', '65536', 'b'], "argument --port: not a TCP port: '65536'"),
    (['--jid', 'a@b', '--impl', 'rust', 'b'], "argument --impl: invalid choice: 'rust'"),
    # The plugins are named for whose they are: ours, slixmpp (no more c).
    (['--jid', 'a@b', '--impl', 'c', 'b'], "argument --impl: invalid choice: 'c'"),
    (['--jid', 'a@b', '--flood', '10', '-c', '3', 'b'], '--flood cannot be combined with -c or -i'),
    (['--jid', 'a@b', 'b', '--password', 'x'], 'unrecognized arguments: --password x'),
])
def test_bad_arguments(argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ''
    assert err.startswith(f'slixmpp-ping: bad arguments: {complaint}'), err
    assert err.endswith(' (see slixmpp-ping --help)\n') and err.count('\n') == 1


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(['--help']) == 0
    out = capsys.readouterr().out
    assert out.startswith('usage: slixmpp-ping ')
    assert 'XMPP_PASSWORD' in out and 'Exit status' in out


@pytest.mark.server
async def test_connection_lost() -> None:
    with Prosody(accounts=PASSWORDS) as own:
        process = await asyncio.create_subprocess_exec(
            *command(own, '-i', '0.1', 'localhost'), env=environment(), cwd=ROOT,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            first = [(await asyncio.wait_for(process.stdout.readline(), RUN_TIMEOUT)).decode()
                     for _ in range(2)]
            assert PONG.fullmatch(first[1].rstrip('\n')), first
            own.kill()
            stdout, stderr = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    result = Result(process.returncode, ''.join(first) + stdout.decode(), stderr.decode())
    assert one_error(result) == f'slixmpp-ping: connection to 127.0.0.1:{own.c2s_port} lost'
    output = parse(result.stdout)
    assert output.summary is not None and output.summary.received >= 1


# ---- the statistics, as ping(8) computes them ----------------------------------


def stats_of(sent: int, rtts: Sequence[float], *conditions: str) -> Stats:
    stats = Stats(sent=sent)
    for rtt in rtts:
        stats.pong(rtt)
    for condition in conditions:
        stats.no_pong(condition)
    return stats


def test_summary_as_ping8() -> None:
    stats = stats_of(5, [0.001, 0.002, 0.004], 'service-unavailable', 'timeout')
    assert stats.summary('example.org', 4.0034) == [
        '--- example.org xmpp ping statistics ---',
        '5 sent, 3 received, +1 errors, 40% loss, time 4003ms',
        # mdev = sqrt(mean(t²) - mean(t)²), in ms
        'rtt min/avg/max/mdev = 1.000/2.333/4.000/1.247 ms',
    ]
    assert Stats(sent=3).summary('x', 0.5)[1:] == ['3 sent, 0 received, 100% loss, time 500ms']
    assert stats_of(3, [0.001]).summary('x', 0)[1] == \
        '3 sent, 1 received, 66.6667% loss, time 0ms'


async def test_the_summary_is_the_plugins_stats() -> None:
    """The command's figures are the plugin's stats(), to the last bit: the
    command's flood pings through our plugin (in memory here), each ping
    answered after a delay of its own, some with errors, one never."""
    pings, errors, timeout = 24, {3, 11}, 0.3
    target = slixmpp.JID('friend@example.net/phone')
    async with client_stream(slixmpp_ping_c.XEP_0199) as s:
        report = Report(target.full, pings)
        stop = Stop(lambda: None)

        async def answer() -> None:
            ids: list[str] = []
            while len(ids) < pings:
                await s.wait_for_output()
                ids += [e.get('id') for e in s.take_elements()]
            for n, id_ in enumerate(ids[:-1]):  # the last one times out
                await asyncio.sleep(0.001 * (n % 5))
                s.feed(error_xml(id_, 'item-not-found', frm=target.full) if n in errors
                       else result_xml(id_, frm=target.full))

        try:
            report.begin()
            await asyncio.gather(flood(s.ping_plugin, target, pings, timeout, report, stop),
                                 answer())
        finally:
            stop.restore()
        plugin_stats = s.ping_plugin.stats(target)
    assert plugin_stats == report.stats.ping_stats()
    assert (plugin_stats.sent, plugin_stats.received, plugin_stats.lost) == (pings, pings - 3, 3)
    figures = (plugin_stats.min, plugin_stats.avg, plugin_stats.max, plugin_stats.mdev)
    assert report.stats.rtt_line() == 'rtt min/avg/max/mdev = ' + '/'.join(
        f'{x * 1000:.3f}' for x in figures) + ' ms'
