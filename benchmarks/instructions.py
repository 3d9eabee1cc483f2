"""The C core's instructions, an older commit's build against this tree's,
counted by valgrind's callgrind: a load-independent figure for a change to
csrc/, where timings on a shared machine move by more than the change.

    python benchmarks/instructions.py OLD_COMMIT [--pings N]

The workload runs in memory (tests/memstream.py): N ping requests answered
by the tap, then N pings sent and their N pongs completed by the tap, then
N calls of reply_to_ping().  Each build runs it once under callgrind; the
table gives the instructions executed in each object (the extension, libxml2,
libc, libpython) and new / old.  The old build is benchmarks/compare.py's
(build/bench-old/<commit>).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = ROOT / 'build' / 'bench-instructions'
_NAMED = re.compile(r'\((\d+)\)(?: (.*))?')


def workload(n: int) -> None:
    """What is measured; run under callgrind by measure()."""
    from benchmarks import harness  # imports the measured tree's package

    async def main() -> None:
        async with harness.fresh_client('ours') as stream:
            for i in range(n):
                stream.feed(harness.ping_request(f'p{i}'))
            stream.take_sent()
            plugin = stream.ping_plugin
            written = harness.Written(stream)
            tasks = harness.send_pings(plugin, n)
            await written.until(n)
            for id_ in written.ids():
                stream.feed(harness.pong(id_))
            await asyncio.gather(*tasks)
            # Every stanza took the C fast path, or the figures mean little.
            assert plugin._tap.counters() == (n, n), plugin._tap.counters()

    asyncio.run(main())
    ping = harness.ping_request('r1').encode()
    for _ in range(n):
        harness.slixmpp_ping_c._core.reply_to_ping(ping)


def by_object(path: Path) -> dict[str, int]:
    """Each object's own instructions (Ir) in a callgrind output file."""
    objects: dict[str, str] = {}
    totals: dict[str, int] = defaultdict(int)
    current = '?'
    after_calls = False
    for line in path.read_text().splitlines():
        key, _, rest = line.partition('=')
        if key in ('ob', 'cob'):
            m = _NAMED.match(rest)
            if m and m.group(2) is not None:
                objects[m.group(1)] = m.group(2)
            if key == 'ob':
                current = objects.get(m.group(1), rest) if m else rest
        elif key == 'calls':
            after_calls = True     # the next cost line is the call's, inclusive
        elif line[:1].isdigit() or line[:1] in '+-*':
            if not after_calls:
                fields = line.split()
                if len(fields) > 1:
                    totals[current] += int(fields[1])
            after_calls = False
    return totals


def measure(tree: Path, label: str, n: int) -> dict[str, int]:
    out = OUT / f'{label}.callgrind'
    env = {**os.environ, 'SLIXMPP_PING_C_BENCH_TREE': str(tree)}
    subprocess.run(('valgrind', '--tool=callgrind', '--quiet',
                    f'--callgrind-out-file={out}', sys.executable, '-m',
                    'benchmarks.instructions', '--workload', str(n)),
                   env=env, check=True, cwd=ROOT)
    return by_object(out)


def short(name: str) -> str:
    base = Path(name).name
    return '_core (the extension)' if base.startswith('_core.') else base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('old', nargs='?', help='the commit to compare against')
    parser.add_argument('--pings', type=int, default=3000)
    parser.add_argument('--workload', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.workload is not None:
        workload(args.workload)
        return 0
    if args.old is None or shutil.which('valgrind') is None:
        parser.error('say OLD_COMMIT, with valgrind installed')
    from benchmarks.compare import old_tree
    OUT.mkdir(parents=True, exist_ok=True)
    old = measure(old_tree(args.old), 'old', args.pings)
    new = measure(ROOT, 'new', args.pings)
    wanted = ('_core.', 'libxml2', 'libc.', 'libpython')
    # The two builds' extensions differ by path: each object by its name.
    merged: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for key in set(new) | set(old):
        if any(w in Path(key).name for w in wanted):
            merged[short(key)][0] += new.get(key, 0)
            merged[short(key)][1] += old.get(key, 0)
    merged['whole process'] = [sum(new.values()), sum(old.values())]
    print(f'{args.pings} pings answered, {args.pings} sent and completed, '
          f'{args.pings} reply_to_ping(): instructions (callgrind)')
    print(f'{"object":32} {"old":>15} {"new":>15} {"new/old":>8}')
    for name, (n_new, n_old) in sorted(merged.items(), key=lambda kv: -kv[1][0]):
        ratio = f'{n_new / n_old:8.4f}' if n_old else '       —'
        print(f'{name:32} {n_old:>15,} {n_new:>15,} {ratio}')
    print(f'old: {args.old}, new: this tree')
    return 0


if __name__ == '__main__':
    sys.exit(main())
