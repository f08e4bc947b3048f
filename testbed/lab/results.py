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
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from testbed.errors import UsageError
from testbed.lab.plotspec import Plot  # noqa: F401  (re-exported: experiments write testbed.Plot)

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

Check = Callable[[Results], "tuple[bool | None, str]"]
PASS, FAIL, SKIP = "pass", "fail", "skip"


def skip(reason: str) -> tuple[None, str]:
    """What a check returns when it measured nothing to judge: ``return skip("no netem here")``."""
    return None, reason


@dataclass
class Verdict:
    """The outcome of one check: status pass, fail or skip (measured nothing), and why."""

    name: str
    status: str
    message: str
    claim: str = ""

    @property
    def ok(self) -> bool:
        return self.status == PASS

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    @property
    def skipped(self) -> bool:
        return self.status == SKIP

    def line(self) -> str:
        return f"{self.status.upper()}  {self.name}: {self.message}"


def check_name(check: Check) -> str:
    return getattr(check, "__name__", type(check).__name__)


def run_checks(checks: Sequence[Check], results: Results) -> list[Verdict]:
    """Apply each check: (True, why) passes, (False, why) fails, (None, why) is skipped.

    A check that raises or returns something else fails with the reason.
    """
    verdicts = []
    for check in checks:
        name = check_name(check)
        claim = ((getattr(check, "__doc__", None) or "").strip().splitlines() or [""])[0]
        try:
            ok, message = check(results)
            status = SKIP if ok is None else PASS if ok else FAIL
            verdicts.append(Verdict(name, status, str(message), claim))
        except Exception as exc:  # a broken check is a failed claim, with the reason shown
            verdicts.append(Verdict(name, FAIL, f"the check raised {type(exc).__name__}: {exc}", claim))
    return verdicts


def verdict_counts(verdicts: Sequence[Verdict]) -> dict[str, int]:
    return {status: sum(v.status == status for v in verdicts) for status in (PASS, FAIL, SKIP)}


def verdict_summary(verdicts: Sequence[Verdict]) -> str:
    """One line: how many claims held, failed and were skipped, and what that means."""
    counts = verdict_counts(verdicts)
    if not verdicts:
        return "no checks"
    text = f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped"
    if counts[FAIL]:
        return f"{text}: a claim failed"
    if counts[SKIP] == len(verdicts):
        return f"{text}: nothing was checked (every claim was skipped), so this is not a pass"
    if counts[SKIP]:
        return f"{text}: the claims that were measured hold"
    return f"{text}: every claim holds"


def verdicts_json(verdicts: Sequence[Verdict]) -> list[dict]:
    return [{"name": v.name, "status": v.status, "ok": None if v.skipped else v.ok, "message": v.message,
             "claim": v.claim} for v in verdicts]


# ------------------------------------------------------------------ tables

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
