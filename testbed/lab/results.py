"""Experiment results: rows of measurements, their files, checks over them, plot specs, tables.

A row is one measurement: the identifying columns (point, repetition, seed, measurement),
the parameters of its grid point, then the measured fields. ``results.csv`` holds the
scalar fields (tidy: one row per measurement, one column per variable); ``results.json``
holds every field, per-interval series included.
"""
from __future__ import annotations

import csv
import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from testbed.errors import UsageError

ID_COLUMNS = ("point", "repetition", "seed", "measurement")
SCALARS = (str, int, float, bool, type(None))


def is_scalar(value: Any) -> bool:
    return isinstance(value, SCALARS)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not (
        isinstance(value, float) and math.isnan(value))


class Results:
    """A list of measurement rows with a few ways to slice them (what checks and plots use)."""

    def __init__(self, rows: Iterable[Mapping[str, Any]], params: Sequence[str] = ()):
        self.rows = [dict(r) for r in rows]
        self.params = list(params)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __repr__(self) -> str:
        return f"<Results {len(self.rows)} rows>"

    @property
    def columns(self) -> list[str]:
        """Every column, in first-seen order."""
        seen: dict[str, None] = {}
        for row in self.rows:
            seen.update(dict.fromkeys(row))
        return list(seen)

    @property
    def scalar_columns(self) -> list[str]:
        return [c for c in self.columns if all(is_scalar(r.get(c)) for r in self.rows)]

    @property
    def measured_columns(self) -> list[str]:
        """Numeric columns that are neither identifiers nor parameters."""
        skip = set(ID_COLUMNS) | set(self.params)
        return [c for c in self.scalar_columns if c not in skip
                and any(is_number(r.get(c)) for r in self.rows)
                and all(r.get(c) is None or is_number(r.get(c)) for r in self.rows)]

    def where(self, **equal: Any) -> "Results":
        """The rows whose columns equal the given values."""
        return Results([r for r in self.rows if all(r.get(k) == v for k, v in equal.items())], self.params)

    def values(self, column: str) -> list[Any]:
        """The column's values (rows without it are left out)."""
        return [r[column] for r in self.rows if column in r and r[column] is not None]

    def mean(self, column: str) -> float:
        values = self.values(column)
        if not values:
            raise KeyError(f"no values of {column!r} in {len(self.rows)} rows")
        return statistics.fmean(values)

    def std(self, column: str) -> float:
        values = self.values(column)
        return statistics.stdev(values) if len(values) > 1 else 0.0

    def unique(self, column: str) -> list[Any]:
        return list(dict.fromkeys(self.values(column)))

    def by(self, *columns: str) -> dict[Any, "Results"]:
        """Group rows by the value (or tuple of values) of some columns, in first-seen order."""
        groups: dict[Any, list[dict]] = {}
        for row in self.rows:
            key = tuple(row.get(c) for c in columns)
            groups.setdefault(key[0] if len(columns) == 1 else key, []).append(row)
        return {k: Results(v, self.params) for k, v in groups.items()}


# ------------------------------------------------------------------ files

def write_csv(path: str, results: Results) -> list[str]:
    """Write the scalar columns, one row per measurement; returns the columns written."""
    columns = results.scalar_columns
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in results.rows:
            writer.writerow({c: row.get(c) for c in columns})
    return columns


def write_json(path: str, data: Any) -> None:
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=False, default=str)
        f.write("\n")


def read_json(path: str) -> Any:
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist; is this a results folder of `testbed experiment`?") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from None


# ------------------------------------------------------------------ checks

Check = Callable[[Results], "tuple[bool, str]"]


@dataclass
class Verdict:
    name: str
    ok: bool
    message: str
    claim: str = ""

    def line(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'}  {self.name}: {self.message}"


def check_name(check: Check) -> str:
    return getattr(check, "__name__", type(check).__name__)


def run_checks(checks: Sequence[Check], results: Results) -> list[Verdict]:
    """Apply each check; one that raises or returns something else fails with the reason."""
    verdicts = []
    for check in checks:
        name = check_name(check)
        claim = ((getattr(check, "__doc__", None) or "").strip().splitlines() or [""])[0]
        try:
            outcome = check(results)
            ok, message = outcome
            verdicts.append(Verdict(name, bool(ok), str(message), claim))
        except Exception as exc:  # a broken check is a failed claim, with the reason shown
            verdicts.append(Verdict(name, False, f"the check raised {type(exc).__name__}: {exc}", claim))
    return verdicts


def verdicts_json(verdicts: Sequence[Verdict]) -> list[dict]:
    return [asdict(v) for v in verdicts]


# ------------------------------------------------------------------ plots and tables

@dataclass(frozen=True)
class Plot:
    """A plot of results: ``y`` (one column or several) against ``x``, one series per ``group``.

    Rows with equal x (and group) are repetitions: the plot shows their mean with error bars
    of one standard deviation. kind "bar" draws grouped bars, "line" lines with markers;
    "series" and "cdf" draw a list column of [t, value] pairs per row, over time in one
    panel per ``x`` value, or as distributions (testbed.lab.series_plot).
    ``where`` keeps only rows whose columns have the given values.
    """

    name: str
    y: str | tuple[str, ...]
    x: str
    group: str | None = None
    kind: str = "bar"
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    logy: bool = False
    logx: bool = False                     # line plots with numeric x only
    where: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ys(self) -> tuple[str, ...]:
        return (self.y,) if isinstance(self.y, str) else tuple(self.y)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def label_columns(results: Results, limit: int = 1) -> list[str]:
    """Text columns that tell apart the measurements of one run (e.g. "pair"), if there are several."""
    skip = set(ID_COLUMNS) | set(results.params)
    labels = []
    for column in results.scalar_columns:
        if column in skip or any(is_number(r.get(column)) or isinstance(r.get(column), bool) for r in results):
            continue
        per_run = results.by("point", "repetition")
        if any(len(g.unique(column)) > 1 for g in per_run.values()):
            labels.append(column)
        if len(labels) == limit:
            break
    return labels


def summary_table(results: Results, columns: Sequence[str] | None = None, max_columns: int = 6) -> str:
    """One line per grid point (and per measurement label): parameters, mean ± std of measured columns."""
    params = [p for p in results.params if len(results.unique(p)) > 1] or results.params[:2]
    labels = label_columns(results)
    measured = list(columns) if columns else results.measured_columns[:max_columns]
    header = ["point", *params, *labels, "runs", *measured]
    lines = [header]
    for _, group in results.by("point", *labels).items():
        first = group.rows[0]
        cells = [str(first["point"]), *(_fmt(first.get(p)) for p in [*params, *labels]), str(len(group))]
        for column in measured:
            values = [v for v in group.values(column) if is_number(v)]
            if not values:
                cells.append("-")
            elif len(values) == 1:
                cells.append(_fmt(values[0]))
            else:
                cells.append(f"{statistics.fmean(values):.4g} ± {statistics.stdev(values):.2g}")
        lines.append(cells)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in lines)
