"""benchmarks/compare.py's medians: each row of the table, indented ones
included, compared with the same row of the other build."""

from __future__ import annotations

from typing import Any

from benchmarks.compare import median_rows


def table(first: float, second: float) -> list[dict[str, Any]]:
    """Two end-to-end rows, each with its own 'pings/s' under it."""
    return [{'measurement': 'end to end, 1,000 pings (s)', 'ours': 0.1},
            {'measurement': '  pings/s', 'ours': first},
            {'measurement': 'end to end, 5,000 pings (s)', 'ours': 0.3},
            {'measurement': '  pings/s', 'ours': f'{second:,}'}]


def test_indented_rows_are_told_apart_by_the_row_above() -> None:
    medians = median_rows([table(10_000, 16_000), table(12_000, 18_000)], 'ours')
    assert medians == {
        'end to end, 1,000 pings (s)': 0.1,
        'end to end, 1,000 pings (s)\n  pings/s': 11_000,
        'end to end, 5,000 pings (s)': 0.3,
        'end to end, 5,000 pings (s)\n  pings/s': 17_000,
    }
