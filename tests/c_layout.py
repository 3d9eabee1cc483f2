"""The C core's dependency graph between its units (a unit: csrc/X.c with
csrc/X.h), and its cycles.

    python tests/c_layout.py [--objects DIR] [--check]

Unit A depends on unit B when A's object file uses a symbol B's defines
(nm: a function or data called or read across files) or when A's source or
header includes B's header (a type it shares).  Prints each unit with what
it depends on, in an order where each comes after its dependencies, and
every cycle (a strongly connected component of more than one unit, or a
unit whose own header includes a header that includes it back).  --check
exits 1 when there is a cycle.  The object files are those the in-place
build left (setup.py build_ext), found under build/ unless --objects says.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / 'csrc'
_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def units() -> list[str]:
    return sorted({p.stem for p in CSRC.glob('*.[ch]')})


def include_edges() -> set[tuple[str, str]]:
    edges = set()
    for path in CSRC.glob('*.[ch]'):
        for name in _INCLUDE.findall(path.read_text()):
            target = Path(name).stem
            if target != path.stem and (CSRC / name).exists():
                edges.add((path.stem, target))
    return edges


def object_files(where: Path | None) -> dict[str, Path]:
    found: dict[str, Path] = {}
    roots = [where] if where else sorted((ROOT / 'build').glob('temp.*/csrc'))
    for root in roots:
        for obj in sorted(root.glob('*.o')):
            found.setdefault(obj.stem, obj)
    return found


def symbol_edges(objects: dict[str, Path]) -> set[tuple[str, str]]:
    defined: dict[str, str] = {}
    used: dict[str, set[str]] = {}
    for unit, obj in objects.items():
        out = subprocess.run(('nm', '--defined-only', '-g', str(obj)),
                             check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            defined[line.split()[-1]] = unit
        out = subprocess.run(('nm', '--undefined-only', str(obj)), check=True,
                             capture_output=True, text=True).stdout
        used[unit] = {line.split()[-1] for line in out.splitlines()}
    return {(unit, defined[sym]) for unit, syms in used.items()
            for sym in syms if sym in defined and defined[sym] != unit}


def cycles(nodes: Iterable[str], edges: set[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
        succ.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in succ[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(succ):
        if v not in index:
            visit(v)
    return found


def layered(nodes: list[str], edges: set[tuple[str, str]]) -> list[str]:
    """The nodes, each after what it depends on (cycles broken by name)."""
    deps = {n: {b for a, b in edges if a == n} for n in nodes}
    done: list[str] = []
    while len(done) < len(nodes):
        ready = [n for n in nodes if n not in done and deps[n] <= set(done)]
        done.append(ready[0] if ready else
                    next(n for n in nodes if n not in done))
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--objects', type=Path)
    parser.add_argument('--check', action='store_true')
    args = parser.parse_args()
    objects = object_files(args.objects)
    if not objects:
        print('c_layout: no object files under build/: run make build first',
              file=sys.stderr)
        return 2
    nodes = units()
    edges = include_edges() | symbol_edges(objects)
    for unit in layered(nodes, edges):
        after = sorted(b for a, b in edges if a == unit)
        print(f'{unit:12} -> {", ".join(after) or "(nothing)"}')
    found = cycles(nodes, edges)
    for component in found:
        print('cycle: ' + ' <-> '.join(component))
    if not found:
        print(f'no cycle among {len(nodes)} units')
    return 1 if found and args.check else 0


if __name__ == '__main__':
    sys.exit(main())
