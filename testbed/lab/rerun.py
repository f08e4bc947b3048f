"""``testbed experiment --rerun RESULT_DIR``: run a stored result again and compare every measured value.

The stored run folder holds what produced it: the experiment file (``experiment.py``), the
topology file (``topology.py``; older runs: the path in meta.json), and in meta.json the
parameters, the grid, the repetitions, the base seed and the testbed commit. A rerun uses
exactly those (not the files as they are now), writes a new run folder like any run, and
then compares the two:

- rows are matched by grid point and by their text columns (a measurement's label, e.g.
  "row"), and each numeric column is averaged over the repetitions (and measurements) of
  a match;
- the tolerance of a column is what the experiment declares in TOLERANCES (a fraction of
  the stored value, or ``("abs", amount)``); otherwise the spread of the repetitions (the
  larger of the stored and the new range). A column whose values vary but has neither is
  shown, not judged (one repetition: declare a tolerance or rerun with more);
- per column a table: stored, new, difference, tolerance, verdict; then one verdict.

It refuses when the testbed's commit differs from the recorded one (the code that measured
is not the code that would measure now) unless ``allow_commit``, and says what else
differs: kernel, tools, packages, Python, CPU.

Exit code: 1 when a judged column is outside its tolerance, none could be judged, or a grid
point is in one run only; otherwise the new run's own (0 when its claims hold).
"""
from __future__ import annotations

import dataclasses
import os
import statistics
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence, TextIO

from testbed.errors import UsageError
from testbed.lab import provenance
from testbed.lab.experiment import (EXIT_CHECK, Outcome, expand_grid, find_run_folder, load_experiment,
                                    run_experiment, run_seed, schedule)
from testbed.lab.results import ID_COLUMNS, Results, is_number, read_json, write_json
from testbed.topology import load as loader

__all__ = ["rerun", "compare", "environment_differences", "Comparison", "ColumnReport"]

RELATIVE_FLOOR = 1e-9                   # a relative tolerance of a stored 0 is this, not 0


# ------------------------------------------------------------------ comparing

@dataclass
class Cell:
    key: tuple                          # (point, text column values...)
    label: str                          # the point's parameters and labels, for people
    stored: float | None
    new: float | None
    tolerance: float | None
    ok: bool | None                     # None: not judged

    @property
    def difference(self) -> float | None:
        return None if self.stored is None or self.new is None else self.new - self.stored


@dataclass
class ColumnReport:
    column: str
    source: str                         # "declared 5 %", "declared +-2", "spread of repetitions"
    cells: list[Cell] = field(default_factory=list)

    @property
    def judged(self) -> list[Cell]:
        return [c for c in self.cells if c.ok is not None]

    @property
    def ok(self) -> bool | None:
        """True/False over the judged cells; None when none could be judged."""
        judged = self.judged
        return None if not judged else all(c.ok for c in judged)


@dataclass
class Comparison:
    columns: list[ColumnReport]
    only_stored: list[str]
    only_new: list[str]
    unmatched: list[str]                # row groups present in one run only

    @property
    def ok(self) -> bool:
        verdicts = [c.ok for c in self.columns]
        return any(v is True for v in verdicts) and not any(v is False for v in verdicts) and not self.unmatched


def _text_columns(results: Results) -> list[str]:
    skip = set(ID_COLUMNS) | set(results.params)
    return [c for c in results.scalar_columns if c not in skip
            and all(isinstance(r.get(c), str) or r.get(c) is None for r in results.rows)
            and any(isinstance(r.get(c), str) for r in results.rows)]


def _groups(results: Results, labels: Sequence[str]) -> dict[tuple, dict[int, list[dict]]]:
    """(point, labels...) -> repetition -> rows."""
    groups: dict[tuple, dict[int, list[dict]]] = {}
    for row in results.rows:
        key = (row.get("point"), *(row.get(c) for c in labels))
        groups.setdefault(key, {}).setdefault(row.get("repetition", 0), []).append(row)
    return groups


def _per_repetition(reps: Mapping[int, list[dict]], column: str) -> list[float]:
    values = []
    for rows in reps.values():
        numbers = [r[column] for r in rows if is_number(r.get(column))]
        if numbers:
            values.append(statistics.fmean(numbers))
    return values


def _tolerance(declared: Any, stored: float, spread: float) -> float:
    if declared is None:
        return spread
    if isinstance(declared, (list, tuple)):
        return float(declared[1])
    return max(abs(stored) * float(declared), RELATIVE_FLOOR)


def _source(declared: Any) -> str:
    if declared is None:
        return "spread of repetitions"
    if isinstance(declared, (list, tuple)):
        return f"declared +-{declared[1]:g}"
    return f"declared {100 * float(declared):g} % of the stored value"


def compare(stored: Results, new: Results, tolerances: Mapping[str, Any] | None = None) -> Comparison:
    """Every numeric measured column of two runs of one grid, point by point."""
    tolerances = dict(tolerances or {})
    labels = sorted(set(_text_columns(stored)) & set(_text_columns(new)))
    a, b = _groups(stored, labels), _groups(new, labels)
    columns_a, columns_b = set(stored.measured_columns), set(new.measured_columns)
    shown_params = [p for p in stored.params if len(stored.unique(p)) > 1]
    reports = []
    for column in [c for c in stored.measured_columns if c in columns_b]:
        declared = tolerances.get(column)
        report = ColumnReport(column, _source(declared))
        for key in [k for k in a if k in b]:
            first = next(iter(a[key].values()))[0]
            label = " ".join([*(f"{p}={first.get(p)}" for p in shown_params), *(str(v) for v in key[1:])]) \
                or f"point {key[0]}"
            sa, sb = _per_repetition(a[key], column), _per_repetition(b[key], column)
            if not sa and not sb:
                continue
            ma = statistics.fmean(sa) if sa else None
            mb = statistics.fmean(sb) if sb else None
            if ma is None or mb is None:
                report.cells.append(Cell(key, label, ma, mb, None, False))
                continue
            spread = max(max(sa) - min(sa), max(sb) - min(sb))
            tol = _tolerance(declared, ma, spread)
            if declared is None and spread == 0 and len(sa) == 1 and len(sb) == 1 and ma != mb:
                ok = None                               # one repetition each: no spread to judge by
            else:
                ok = abs(mb - ma) <= tol + 1e-12 * max(1.0, abs(ma))
            report.cells.append(Cell(key, label, ma, mb, tol, ok))
        if report.cells:
            reports.append(report)
    unmatched = [f"point {k[0]} {' '.join(map(str, k[1:]))}".strip() + " (stored only)" for k in a if k not in b]
    unmatched += [f"point {k[0]} {' '.join(map(str, k[1:]))}".strip() + " (new only)" for k in b if k not in a]
    return Comparison(reports, sorted(columns_a - columns_b), sorted(columns_b - columns_a), unmatched)


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or 0.01 <= abs(value) < 1e6:
        return f"{value:.4g}"
    return f"{value:.3e}"


def format_comparison(comparison: Comparison) -> str:
    """One table per column (stored, new, difference, tolerance, verdict), then the column verdicts."""
    out: list[str] = []
    for report in comparison.columns:
        verdict = {True: "within tolerance", False: "OUTSIDE tolerance", None: "not judged"}[report.ok]
        out.append(f"{report.column} (tolerance: {report.source}): {verdict}")
        table = [["", "stored", "new", "difference", "tolerance", "verdict"]]
        for c in report.cells:
            table.append([c.label, _fmt(c.stored), _fmt(c.new), _fmt(c.difference), _fmt(c.tolerance),
                          {True: "ok", False: "DIFFERS", None: "no spread"}[c.ok]])
        widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
        out += ["  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                                 enumerate(zip(row, widths))) for row in table]
        out.append("")
    if comparison.only_stored:
        out.append(f"columns only in the stored run: {', '.join(comparison.only_stored)}")
    if comparison.only_new:
        out.append(f"columns only in the new run: {', '.join(comparison.only_new)}")
    if comparison.unmatched:
        out.append(f"rows in one run only: {'; '.join(comparison.unmatched)}")
    return "\n".join(out)


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    return {"ok": comparison.ok, "only_stored": comparison.only_stored, "only_new": comparison.only_new,
            "unmatched": comparison.unmatched,
            "columns": [{"column": r.column, "tolerance": r.source, "ok": r.ok,
                         "cells": [{**dataclasses.asdict(c), "key": list(c.key), "difference": c.difference}
                                   for c in r.cells]} for r in comparison.columns]}


# ------------------------------------------------------------------ environments

def environment_differences(stored: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """What differs between the recorded environment and this one, one line each (empty: nothing)."""
    lines = []

    def differ(what: str, a: Any, b: Any) -> None:
        if a != b:
            lines.append(f"{what}: stored {a!r}, now {b!r}")

    differ("kernel", stored.get("kernel", {}).get("release"), now.get("kernel", {}).get("release"))
    for name in sorted(set(stored.get("tools", {})) | set(now.get("tools", {}))):
        differ(f"tool {name}", stored.get("tools", {}).get(name), now.get("tools", {}).get(name))
    for name in sorted(set(stored.get("packages", {})) | set(now.get("packages", {}))):
        differ(f"package {name}", stored.get("packages", {}).get(name), now.get("packages", {}).get(name))
    differ("python", stored.get("python", {}).get("version"), now.get("python", {}).get("version"))
    differ("CPU count", stored.get("host", {}).get("cpu_count"), now.get("host", {}).get("cpu_count"))
    if stored.get("host", {}).get("cpu_model") is not None:
        differ("CPU", stored["host"]["cpu_model"], now.get("host", {}).get("cpu_model"))
    differ("host", stored.get("host", {}).get("hostname"), now.get("host", {}).get("hostname"))
    return lines


# ------------------------------------------------------------------ the command

@dataclass
class RerunOutcome:
    stored_folder: str
    outcome: Outcome
    comparison: Comparison

    @property
    def exit_code(self) -> int:
        """1 when the comparison fails, else the new run's own exit code (0 when its claims hold)."""
        return self.outcome.exit_code if self.comparison.ok else EXIT_CHECK


def recorded_commit_problem(stored: Mapping[str, Any], now: Mapping[str, Any]) -> str | None:
    """Why the recorded testbed commit does not pin the code that would run now (None: it does)."""
    a, b = stored.get("commit"), now.get("commit")
    if a is None:
        return "the stored result records no testbed commit"
    if a != b:
        return f"the stored result was measured at testbed commit {a[:12]}, this checkout is at {(b or 'none')[:12]}"
    return None


def _sha256(path: str) -> str | None:
    try:
        return provenance.file_record(path)["sha256"]
    except OSError:
        return None


def rerun(path: str, *, out: str = "results", allow_commit: bool = False, factory=None,
          log: TextIO | None = None, stdout: TextIO | None = None, argv: Sequence[str] = (),
          formats: Sequence[str] | None = None) -> RerunOutcome:
    """Run the stored result at ``path`` again with its recorded files, parameters and seeds; compare."""
    log, stdout = log or sys.stderr, stdout or sys.stdout
    folder = find_run_folder(path)
    meta = read_json(os.path.join(folder, "meta.json"))
    data = read_json(os.path.join(folder, "results.json"))
    now = provenance.environment()
    problem = recorded_commit_problem(meta.get("testbed", {}), now["testbed"])
    if problem and not allow_commit:
        raise UsageError(f"--rerun {folder}: {problem}, so a difference in the results could come from the code. "
                         "Check that commit out (e.g. `git worktree add ../at-that-commit COMMIT`) and rerun from "
                         "there, or pass --allow-commit to compare anyway")
    experiment_file = os.path.join(folder, "experiment.py")
    if not os.path.isfile(experiment_file):
        raise UsageError(f"{folder} has no experiment.py (the file that produced it); it cannot be rerun")
    recorded_sha = meta.get("experiment", {}).get("sha256")
    if recorded_sha and _sha256(experiment_file) != recorded_sha:
        raise UsageError(f"{experiment_file} was changed after the run (its sha256 is not the recorded one)")
    topology = os.path.join(folder, "topology.py")
    if not os.path.isfile(topology):
        topology = meta.get("topology", {}).get("file", "")
    topo_sha = meta.get("topology", {}).get("sha256")
    if not os.path.isfile(topology):
        raise UsageError(f"{folder}: the topology file {topology!r} is neither stored with the result nor there")
    if topo_sha and _sha256(topology) != topo_sha:
        raise UsageError(f"{topology} is not the topology file that produced {folder} (its sha256 differs)")
    exp = load_experiment(experiment_file, topology_required=False)
    func = loader.topology_function(loader.load_module(topology), topology)
    params = meta.get("params", {})
    exp = dataclasses.replace(exp, name=data.get("experiment", exp.name), topology=os.path.abspath(topology),
                              topology_keys=tuple(loader.known_params(func)), params=dict(params.get("fixed", {})),
                              grid={k: list(v) for k, v in params.get("grid", {}).items()},
                              seed=meta.get("seeds", {}).get("base", exp.seed),
                              interleave=bool(params.get("interleave", exp.interleave)))
    points = expand_grid(exp.params, exp.grid, exp.topology_keys)
    if params.get("points") is not None and provenance.jsonable(points) != params["points"]:
        raise UsageError(f"{folder}: the recorded grid does not expand to the recorded points; "
                         "the result was not made by this experiment runner")
    repeat = params.get("repeat", exp.repeat)
    seeds = [[r["point"], r["repetition"], r["seed"]] for r in meta.get("seeds", {}).get("runs", [])]
    expected = [[p, r, run_seed(exp.seed, p, r)] for p, r in schedule(len(points), repeat, exp.interleave)]
    if seeds and seeds != expected[:len(seeds)]:
        print("*** note: the recorded seeds are not the ones this runner derives from the base seed", file=log)
    say = [f"*** rerun of {folder} ({meta.get('start', '?')}): {len(points)} point(s) x {repeat} repetition(s), "
           f"base seed {exp.seed}"]
    if problem:
        say.append(f"*** --allow-commit: {problem}")
    for side, info in (("stored", meta.get("testbed", {})), ("current", now["testbed"])):
        if info.get("dirty"):
            say.append(f"*** note: the {side} checkout had uncommitted changes; its commit does not pin its code")
    differences = environment_differences(meta, now)
    say += [f"*** differs: {line}" for line in differences] or ["*** environment: the same kernel, tools, "
                                                                  "packages, Python and CPU"]
    print("\n".join(say), file=log)
    outcome = run_experiment(exp, repeat=repeat, overrides={}, out=out, factory=factory, log=log, stdout=stdout,
                             argv=argv, formats=formats)
    stored = Results(data.get("rows", []), data.get("params", []))
    comparison = compare(stored, outcome.results, exp.tolerances)
    write_json(os.path.join(outcome.folder, "rerun.json"),
               {"stored": os.path.abspath(folder), "new": os.path.abspath(outcome.folder),
                "commit_note": problem, "environment_differences": differences,
                "comparison": comparison_json(comparison)})
    print(f"\n*** comparison with {folder}\n" + format_comparison(comparison), file=stdout)
    judged = [c for c in comparison.columns if c.ok is not None]
    bad = [c.column for c in comparison.columns if c.ok is False]
    if bad:
        verdict = f"FAIL  rerun: {len(bad)} of {len(judged)} judged column(s) outside tolerance: {', '.join(bad)}"
    elif comparison.unmatched:
        verdict = f"FAIL  rerun: rows in one run only ({len(comparison.unmatched)})"
    elif not judged:
        verdict = ("FAIL  rerun: no column could be judged (one repetition and no TOLERANCES: declare them in "
                   "the experiment or run with --repeat 2 or more)")
    else:
        unjudged = len(comparison.columns) - len(judged)
        verdict = (f"PASS  rerun: {len(judged)} column(s) within tolerance"
                   + (f", {unjudged} not judged (no spread)" if unjudged else ""))
    print(verdict, file=stdout)
    return RerunOutcome(folder, outcome, comparison)

