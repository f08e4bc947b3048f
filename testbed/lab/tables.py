"""Result tables: one line per grid point (and measurement label), for the terminal and report.html.

Each measured column has one number format for all its cells (chosen from the column's
values: integers with thousands separators, else a fixed number of decimals giving three
significant digits to the smallest value), the spread is written ``mean ± s.d.`` and
defined once, in the table's note; a value that did not vary over the runs is written
without ``± 0``; a column is shown once, and a measured column that only echoes a parameter
shown already (equal to it in every row) is left out.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Sequence

from testbed.lab.results import Results, is_number, label_columns


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    note: str
    numeric: list[bool]                  # per column: right-aligned numbers

    def text(self) -> str:
        lines = [self.header, *self.rows]
        widths = [max(len(row[i]) for row in lines) for i in range(len(self.header))]
        body = "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in lines)
        return f"{body}\n{self.note}" if self.note else body


def decimals_for(values: Sequence[float]) -> int:
    """Decimals for a column of means: none when all are whole numbers, else enough to give the
    smallest non-zero |mean| three significant digits (0 to 4)."""
    finite = [abs(v) for v in values if is_number(v) and math.isfinite(v)]
    if finite and all(float(v).is_integer() for v in finite):
        return 0
    small = min((v for v in finite if v > 0), default=1.0)
    return max(0, min(4, 2 - math.floor(math.log10(small))))


def number(value: float, decimals: int) -> str:
    if not math.isfinite(value):
        return str(value)
    return f"{value:,.{decimals}f}"


def _fmt_plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def build(results: Results, columns: Sequence[str] | None = None, max_columns: int = 6) -> Table:
    """The summary table of ``results`` over ``columns`` (default: the first measured columns)."""
    params = [p for p in results.params if len(results.unique(p)) > 1] or results.params[:2]
    labels = label_columns(results)
    measured = list(columns) if columns else results.measured_columns[:max_columns]
    groups = list(results.by("point", *labels).values())
    measured = _without_repeats(measured, [*params, *labels], results)
    stats: dict[str, list[tuple[float, float, int] | None]] = {}
    for column in measured:
        cells = []
        for group in groups:
            values = [v for v in group.values(column) if is_number(v)]
            if not values:
                cells.append(None)
            else:
                cells.append((statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0,
                              len(values)))
        stats[column] = cells
    header = ["point", *params, *labels, "runs", *measured]
    rows = []
    spread = False
    formats = {c: decimals_for([cell[0] for cell in stats[c] if cell]) for c in measured}
    for index, group in enumerate(groups):
        first = group.rows[0]
        cells = [str(first["point"]), *(_fmt_plain(first.get(p)) for p in [*params, *labels]), str(len(group))]
        for column in measured:
            cell = stats[column][index]
            if cell is None:
                cells.append("-")
                continue
            mean, std, n = cell
            text = number(mean, formats[column])
            if n > 1 and std > 0:
                shown = number(std, formats[column])
                if float(shown.replace(",", "")) == 0:       # rounds to nothing: say how small it is
                    shown = "<" + number(10 ** -formats[column], formats[column])
                text += f" ± {shown}"
                spread = True
            cells.append(text)
        rows.append(cells)
    note = "mean ± 1 s.d. over the runs of each point (n = runs); a value shown alone did not vary" \
        if spread else ""
    numeric = [True] + [False] * (len(params) + len(labels)) + [True] * (1 + len(measured))
    return Table(header, rows, note, numeric)


def _without_repeats(columns: list[str], shown: list[str], results: Results) -> list[str]:
    """The columns once each, leaving out any that only echoes a column already shown (equal in every row)."""
    kept: list[str] = []
    for column in columns:
        if column in kept or column in shown:
            continue
        if any(all(_same(r.get(column), r.get(other)) for r in results.rows) for other in shown):
            continue
        kept.append(column)
    return kept


def _same(a: Any, b: Any) -> bool:
    """Equal values of one type (True is not the count 1)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def summary_table(results: Results, columns: Sequence[str] | None = None, max_columns: int = 6) -> str:
    """The table as text for the terminal."""
    return build(results, columns, max_columns).text()
