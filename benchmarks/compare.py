"""The old build against the new, side by side in one run: this tree's
benchmarks (run.py) measure the slixmpp_ping_c of an older commit and this
tree's, alternately, and one table gives each row's figure for both.

    python -m benchmarks.compare OLD_COMMIT [--rounds N] [--quick] [--no-e2e]

The old commit is checked out into build/bench-old/<commit> (a git
worktree, reused) and its extension built in place with this interpreter.
Each round runs run.py once on the old build and once on the new, in that
order, each in a fresh process, writing its JSON under build/bench-compare/;
a row's figure is the median over the rounds.  Only the 'ours' column (and
the bare socket's, where a row has one) is compared: slixmpp's plugin is
the same in both.  A ratio is new / old: below 1 is better for times and
bytes.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUILD = ROOT / 'build'


def git(*args: str) -> str:
    return subprocess.run(('git', '-C', str(ROOT), *args), check=True,
                          capture_output=True, text=True).stdout.strip()


def old_tree(commit: str) -> Path:
    """A worktree of commit with its extension built in place."""
    sha = git('rev-parse', '--verify', commit + '^{commit}')
    tree = BUILD / 'bench-old' / sha[:12]
    if not (tree / '.git').exists():
        tree.parent.mkdir(parents=True, exist_ok=True)
        git('worktree', 'add', '--detach', str(tree), sha)
    subprocess.run((sys.executable, 'setup.py', '-q', 'build_ext', '--inplace'),
                   cwd=tree, check=True)
    return tree


def run_bench(tree: Path, out: Path, flags: list[str]) -> list[dict[str, Any]]:
    env = {**os.environ, 'SLIXMPP_PING_C_BENCH_TREE': str(tree)}
    subprocess.run((sys.executable, '-m', 'benchmarks.run', '--json', str(out),
                    '--plot', str(out.with_suffix('.png')), *flags),
                   env=env, cwd=ROOT, check=True)
    return json.loads(out.read_text())['table']


def number(value: Any) -> float | None:
    """A table cell as a number: 1,234 / 12.3 / '0.418' / 'kept, 5.18 s'."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        for word in value.replace(',', '').split():
            try:
                return float(word)
            except ValueError:
                continue
    return None


def keyed(table: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Each row with a key of its own: an indented row ('  pings/s', under
    each end-to-end row) is keyed by the row above it too."""
    out = []
    parent = ''
    for row in table:
        name = row['measurement']
        if name.startswith(' '):
            out.append((f'{parent}\n{name}', row))
        else:
            parent = name
            out.append((name, row))
    return out


def median_rows(runs: list[list[dict[str, Any]]], column: str
                ) -> dict[str, float]:
    values: dict[str, list[float]] = {}
    for table in runs:
        for key, row in keyed(table):
            value = number(row.get(column))
            if value is not None:
                values.setdefault(key, []).append(value)
    return {key: statistics.median(v) for key, v in values.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('old', help='the commit to compare against')
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--no-e2e', action='store_true')
    args = parser.parse_args()
    flags = ['--quick'] * args.quick + ['--no-e2e'] * args.no_e2e
    trees = {'old': old_tree(args.old), 'new': ROOT}
    outdir = BUILD / 'bench-compare'
    outdir.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[list[dict[str, Any]]]] = {'old': [], 'new': []}
    for round_ in range(args.rounds):
        for name, tree in trees.items():
            runs[name].append(run_bench(
                tree, outdir / f'{name}-{round_}.json', flags))
    keys = [key for key, _ in keyed(runs['new'][0])]
    lines = [('measurement', 'old', 'new', 'new/old')]
    for column in ('ours', 'bare'):
        old, new = median_rows(runs['old'], column), median_rows(runs['new'], column)
        for key in keys:
            if key in old and key in new:
                name = key.rsplit('\n', 1)[-1]
                label = name if column == 'ours' else f'{name} [bare socket]'
                ratio = new[key] / old[key] if old[key] else float('nan')
                lines.append((label, f'{old[key]:,.4g}', f'{new[key]:,.4g}',
                              f'{ratio:.2f}'))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    for line in lines:
        print('  '.join(cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i])
                        for i, cell in enumerate(line)))
    print(f'\nold: {args.old} ({trees["old"]}), new: this tree; '
          f'{args.rounds} rounds, medians')


if __name__ == '__main__':
    main()
