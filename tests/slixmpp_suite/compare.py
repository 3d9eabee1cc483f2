"""Compare run.py's reports: each mode's counts and tap counters, and every
test whose outcome with slixmpp_ping_c (modes ours, ours-early) differs
from its outcome without it, the plugins registered the same way (as-is,
early).  What registering early changes by itself (early against as-is)
is shown, not judged: it is the test harness's doing, not the plugin's.

Usage: compare.py REPORT.json...; exits 1 if any outcome with the plugin
differs, or if probe.py failed or, in mode ours-early, was not answered in
C.
"""
from __future__ import annotations

import collections
import json
import sys
from pathlib import Path


def main(paths: list[str]) -> int:
    reports = [json.loads(Path(path).read_text()) for path in paths]
    failed = False
    for report in reports:
        counts = collections.Counter(report['outcomes'].values())
        line = ', '.join(f'{n} {outcome}' for outcome, n in sorted(counts.items()))
        tap = report.get('tap')
        if tap is not None:
            line += (f"; tap: {tap['tapped']} of {tap['plugins']} plugins "
                     f"with the tap in front, {tap['answered']} pings answered and "
                     f"{tap['completed']} pongs completed in C, in "
                     f"{len(report['tests_with_tap_traffic'])} tests")
        print(f"slixmpp {report['slixmpp']} {report['mode']:<10} {line}")
        probe = report.get('probe')
        if probe is not None:
            print(f"  probe.py: {probe['outcome']}, {probe['answered']} ping "
                  f"answered and {probe['completed']} pong completed in C")
            # Registered before the header, the tap must see the stream.
            early = report['mode'] == 'ours-early'
            if probe['outcome'] != 'pass' or (early and not (
                    probe['answered'] and probe['completed'])):
                print('  the probe shows the fast path off')
                failed = True
    by_mode = {report['mode']: report for report in reports}
    for mode, baseline_mode in (('ours', 'as-is'), ('ours-early', 'early'),
                                ('early', 'as-is')):
        if mode not in by_mode or baseline_mode not in by_mode:
            continue
        baseline, report = by_mode[baseline_mode], by_mode[mode]
        judged = mode.startswith('ours')
        ids = sorted(baseline['outcomes'].keys() | report['outcomes'].keys())
        for test_id in ids:
            before = baseline['outcomes'].get(test_id, 'absent')
            after = report['outcomes'].get(test_id, 'absent')
            if before != after:
                failed = failed or judged
                print(f"  {'differs' if judged else 'harness'} in {mode}: "
                      f"{test_id}: {baseline_mode} {before}, {mode} {after}")
    return int(failed)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
