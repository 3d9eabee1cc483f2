"""Run slixmpp's own unit tests (the tests/ of its sdist) and write each
test's outcome to a JSON file, in one of three modes:

``as-is``
    slixmpp's tests as its run_tests.py runs them.
``ours``
    ``import slixmpp_ping_c`` first, so that every test that registers
    xep_0199 gets slixmpp_ping_c's plugin.
``early``
    SlixTest.stream_start registers the test's plugins before the stream
    opens (slixmpp registers them once the header was parsed): the
    baseline of ``ours-early``.
``ours-early``
    both: the C tap reads every byte of the stream.

Usage: run.py MODE SUITE_DIR OUTPUT.json, where SUITE_DIR is the unpacked
sdist.  The slixmpp tested is the interpreter's, never the sdist's source
tree.
"""
from __future__ import annotations

import argparse
import doctest
import functools
import inspect
import json
import logging
import pkgutil
import sys
import unittest
from importlib import import_module
from pathlib import Path
from typing import Any

MODES = ('as-is', 'ours', 'early', 'ours-early')
REPO = Path(__file__).resolve().parents[2]

# Outcomes from best to worst: a test reported twice (subtests) keeps the
# worst.
OUTCOMES = ('pass', 'skip', 'expected-failure', 'fail', 'error',
            'unexpected-success')


class TapRecorder:
    """The xep_0199 plugins slixmpp_ping_c made during the current test, so
    that their taps' counters can be read when the test ends."""

    def __init__(self) -> None:
        self.plugins: list[Any] = []
        self.totals = {'plugins': 0, 'tapped': 0, 'answered': 0,
                       'completed': 0}
        self.tests_with_traffic: list[str] = []

    def install(self) -> None:
        from slixmpp_ping_c.plugin import XEP_0199
        original = XEP_0199.plugin_init

        @functools.wraps(original)
        def plugin_init(plugin: XEP_0199) -> None:
            original(plugin)
            self.plugins.append(plugin)
        XEP_0199.plugin_init = plugin_init

    def test_ended(self, test_id: str) -> None:
        answered = completed = 0
        for plugin in self.plugins:
            self.totals['plugins'] += 1
            self.totals['tapped'] += plugin._fast_path.tapped()
            plugin_answered, plugin_completed = plugin._tap.counters()
            answered += plugin_answered
            completed += plugin_completed
        self.plugins.clear()
        self.totals['answered'] += answered
        self.totals['completed'] += completed
        if answered or completed:
            self.tests_with_traffic.append(test_id)


def register_plugins_before_header() -> None:
    """Make SlixTest.stream_start register its plugins before the stream
    opens, rather than after the header was parsed.

    During stream_start, XMLStream.connection_made is replaced by a one-shot
    that registers the plugins (installing the tap as the instance's
    data_received) before slixmpp makes the stream's parser, so that the
    tap reads the stream from its first byte, the header.  stream_start's
    own registrations after it then find the plugins enabled and do
    nothing.
    """
    from slixmpp.test import SlixTest
    from slixmpp.xmlstream import XMLStream
    original = SlixTest.stream_start
    signature = inspect.signature(original)

    @functools.wraps(original)
    def stream_start(test: SlixTest, *args: Any, **kwargs: Any) -> None:
        arguments = signature.bind(test, *args, **kwargs)
        arguments.apply_defaults()
        plugins = arguments.arguments['plugins']
        connection_made = XMLStream.connection_made
        registered = False

        def registering_connection_made(xmpp: XMLStream, *args: Any,
                                        **kwargs: Any) -> None:
            nonlocal registered
            XMLStream.connection_made = connection_made
            if xmpp.parser is not None:
                raise RuntimeError('the stream had a parser before '
                                   'connection_made')
            if plugins is None:
                xmpp.register_plugins()
            else:
                for plugin in plugins:
                    xmpp.register_plugin(plugin)
            registered = True
            connection_made(xmpp, *args, **kwargs)

        XMLStream.connection_made = registering_connection_made
        try:
            original(test, *args, **kwargs)
        finally:
            XMLStream.connection_made = connection_made
        if not registered:
            raise RuntimeError('stream_start made no connection through '
                               'XMLStream.connection_made')
    SlixTest.stream_start = stream_start


class OutcomeResult(unittest.TestResult):
    """Each test's outcome by its id."""

    def __init__(self, recorder: TapRecorder | None) -> None:
        super().__init__()
        self.outcomes: dict[str, str] = {}
        self.recorder = recorder

    def _note(self, test: Any, outcome: str) -> None:
        test_id = test.id()
        known = self.outcomes.get(test_id, 'pass')
        self.outcomes[test_id] = max(known, outcome, key=OUTCOMES.index)

    def stopTest(self, test: Any) -> None:
        super().stopTest(test)
        if self.recorder is not None:
            self.recorder.test_ended(test.id())

    def addSuccess(self, test: Any) -> None:
        super().addSuccess(test)
        self._note(test, 'pass')

    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        self._note(test, 'error')

    def addFailure(self, test: Any, err: Any) -> None:
        super().addFailure(test, err)
        self._note(test, 'fail')

    def addSkip(self, test: Any, reason: str) -> None:
        super().addSkip(test, reason)
        self._note(test, 'skip')

    def addExpectedFailure(self, test: Any, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self._note(test, 'expected-failure')

    def addUnexpectedSuccess(self, test: Any) -> None:
        super().addUnexpectedSuccess(test)
        self._note(test, 'unexpected-success')

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self._note(test, 'fail' if failed else 'error')


def collect(suite_dir: Path) -> unittest.TestSuite:
    """What slixmpp's run_tests.py runs: each tests/test_* module's
    ``suite``, and, where that version's run_tests.py collects them, the
    doctests of slixmpp's modules."""
    suites = [import_module(f'tests.{path.stem}').suite
              for path in sorted(suite_dir.glob('tests/test_*.py'))]
    run_tests = (suite_dir / 'run_tests.py').read_text()
    if 'def collect_doctests' in run_tests:
        import slixmpp
        for _importer, name, _ispkg in pkgutil.walk_packages(
                slixmpp.__path__, prefix='slixmpp.'):
            if 'thirdparty' not in name:
                suites.append(doctest.DocTestSuite(import_module(name)))
    return unittest.TestSuite(suites)


def run_probe(recorder: TapRecorder) -> dict[str, Any]:
    """probe.py's outcome and what the taps counted while it ran."""
    from probe import suite
    before = dict(recorder.totals)
    result = OutcomeResult(recorder)
    suite.run(result)
    for test, trace in result.errors + result.failures:
        print(f'== probe: {test.id()}\n{trace}')
    return {'outcome': max(result.outcomes.values(), key=OUTCOMES.index),
            'answered': recorder.totals['answered'] - before['answered'],
            'completed': recorder.totals['completed'] - before['completed']}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('mode', choices=MODES)
    parser.add_argument('suite_dir', type=Path)
    parser.add_argument('output', type=Path)
    args = parser.parse_args()

    # The sdist for its tests/ package (and the files they read), after
    # site-packages so that its slixmpp source tree is never the one
    # imported; this checkout for slixmpp_ping_c.
    sys.path += [str(args.suite_dir.resolve()), str(REPO)]
    recorder = None
    if args.mode.startswith('ours'):
        import slixmpp_ping_c  # noqa: F401  (registers our xep_0199)
        recorder = TapRecorder()
        recorder.install()
    if args.mode.endswith('early'):
        register_plugins_before_header()
    # As run_tests.py does without --debug.
    logging.basicConfig(level=100)
    logging.disable(100)

    import slixmpp
    if Path(slixmpp.__file__).is_relative_to(args.suite_dir.resolve()):
        raise RuntimeError(f'the sdist\'s slixmpp imported: {slixmpp.__file__}')
    result = OutcomeResult(recorder)
    collect(args.suite_dir).run(result)
    report = {'slixmpp': slixmpp.__version__, 'mode': args.mode,
              'outcomes': result.outcomes}
    if recorder is not None:
        report['tap'] = dict(recorder.totals)
        report['tests_with_tap_traffic'] = list(recorder.tests_with_traffic)
        report['probe'] = run_probe(recorder)
    args.output.write_text(json.dumps(report, indent=1, sort_keys=True))
    for test, trace in result.errors + result.failures:
        print(f'== {test.id()}\n{trace}')
    print(f'slixmpp {slixmpp.__version__} {args.mode}: '
          f'{result.testsRun} run, {len(result.failures)} failed, '
          f'{len(result.errors)} errors, {len(result.skipped)} skipped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
