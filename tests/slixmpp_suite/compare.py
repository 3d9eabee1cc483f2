"""Compare run.py's reports: each mode's counts and tap counters, and every
test whose outcome failed from the first report's (slixmpp's tests as is).

Usage: compare.py AS_IS.json OTHER.json...; exits 1 if any outcome failed,
or if probe.py failed or, in mode ours-early, was not answered in C.
"""
from __future__ import annotations

import collections
import json
import sys
from pathlib import Path


def main(paths: list[str]) -> int:
    reports = [json.loads(Path(path).read_text()) for path in paths]
    baseline = reports[0]
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
    for report in reports[1:]:
        ids = sorted(baseline['outcomes'].keys() | report['outcomes'].keys())
        for test_id in ids:
            before = baseline['outcomes'].get(test_id, 'absent')
            after = report['outcomes'].get(test_id, 'absent')
            if before != after:
                failed = True
                print(f"  differs in {report['mode']}: {test_id}: "
                      f"{baseline['mode']} {before}, {report['mode']} {after}")
    return int(failed)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
