"""Experiments: a topology, a parameter grid, repetitions, measurements, checks and plots.

An experiment file is a Python module (nothing may run at import) with these names:

    TOPOLOGY = "topologies/single.py"    # required: the topology file, relative to the working
                                          # folder, the experiment's folder or its parent
    PARAMS = {"n": 4, "duration": 2}     # fixed parameters (optional)
    GRID = {"kind": ["hub", "bridge"]}   # swept parameters, every combination (optional)
    RUN_PARAMS = {"duration": "seconds of each flow"}   # parameters only run() reads (optional)
    REPEAT = 3                           # runs per grid point (optional, default 1)
    INTERLEAVE = True                    # repetitions round by round: every point once, then
                                          # again (optional, default False: a point's repetitions
                                          # one after another)
    SEED = 0                             # base of the per-run random seeds (optional)
    TABLE = ["rx_bytes"]                 # columns of the printed table (optional)
    QUICK = {"duration": 1, "kind": ["hub"]}   # what --param quick=true stands for (optional;
                                          # needs "quick": False in PARAMS)
    TOLERANCES = {"rx_bytes": 0.05}      # how far `--rerun` may find a column from the stored
                                          # one: a fraction of it (0.05), or ("abs", 2000)

    def run(net, params):                # required: drive traffic on the running network
        ...                              # and return one measurement (a dict) or several
        return {"rx_bytes": 1234, "mbps": 940.0}

    def bridge_is_quiet(results):        # a check: the claim, as an assertion over every result
        '''A learning bridge keeps unicast away from a bystander.'''
        rx = results.where(kind="bridge").mean("rx_bytes")
        return rx < 10_000, f"bystander received {rx:.0f} bytes on average"

    CHECKS = [bridge_is_quiet]
    PLOTS = [Plot("bystander", y="rx_bytes", x="kind", ylabel="bytes")]

Parameters. A parameter the topology function accepts (``topology(n=3, kind="switch")``)
is a topology parameter; every other key of PARAMS and GRID must be declared in
RUN_PARAMS (a dict name -> what it means, or a list of names): it is for ``run`` only.
A key that is neither is refused (exit 2, with a did-you-mean), so that a misspelt
topology parameter (``bandwidth`` for ``bw``) never silently leaves the topology at its
default. Each grid point is PARAMS
plus one combination of GRID values; ``--param KEY=VALUE`` replaces a fixed value or
sweeps a grid key over ``VALUE1,VALUE2`` (converted by the type of the value it replaces).
Grid points with the same topology parameters run one after another on one network;
a change of topology parameters builds a fresh network (the previous one is torn down).
With ``INTERLEAVE = True`` the repetitions go round by round (point 1, point 2, ...,
then point 1 again), so that a drift of the machine's load over the run affects every
point alike when points are compared with each other; a network is then built each
time the topology parameters change.

``run(net, params)`` gets the running network and a dict of the point's parameters with
attributes ``point``, ``repetition``, ``seed`` and ``artifact(name)`` (a path in the run's
folder for files such as packet captures). Python's ``random`` is seeded with ``seed``
before each call. A measurement's values are scalars (str, int, float, bool, None) or,
for results.json only, lists and dicts (e.g. per-interval series).

``--param quick=true`` (the tests' variant) applies QUICK: each of its parameters takes
that value (a GRID key: that list) unless ``--param`` sets it too.

Plots: see testbed.lab.plotspec (kinds bar, line, timeseries, cdf; units, labels, claim
bands, references, ratios); every plot is written as PNG (200 dpi), SVG and PDF.

Checks take a :class:`testbed.lab.results.Results` (``where``, ``by``, ``mean``, ``values``...)
and return ``(ok, message)``; the first line of the docstring states the claim. A check
with nothing to judge (its points were not measured on this machine) returns
``testbed.skip("why")``: it is reported SKIP, never PASS. Plots are
:class:`testbed.lab.results.Plot` specs; repetitions become error bars.

``testbed experiment FILE`` writes ``OUT/<experiment>/<UTC timestamp>/`` with results.csv
(scalar columns, one row per measurement), results.json (every field, and the verdicts),
meta.json (provenance), a copy of the experiment file, plots/*.png and artifacts/; prints
a table and the verdicts. Exit codes: 0 every claim that was checked holds; 1 a claim
failed; 2 bad input (nothing was run); 3 the machine cannot do it; 4 nothing was checked
(every claim was skipped: not a pass); 5 run() raised (the traceback is printed with the
file and line, and what was measured before it is kept in the run's folder).
``testbed report DIR`` re-plots and re-checks a stored run without a network.
"""
from __future__ import annotations

import difflib
import hashlib
import importlib.util
import itertools
import os
import random
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence, TextIO

from testbed.topology import load as loader
from testbed.lab import provenance
from testbed.errors import TestbedError, UsageError
from testbed.lab.results import (ID_COLUMNS, SKIP, Check, Plot, Results, Verdict, read_json, run_checks,
                                verdict_summary, verdicts_json, write_csv, write_json)
from testbed.lab.tables import summary_table

__all__ = ["Experiment", "ExperimentFailed", "Plot", "Results", "RunParams", "load_experiment",
           "expand_grid", "run_experiment", "report"]

EXIT_OK, EXIT_CHECK, EXIT_NOTHING_CHECKED, EXIT_RUN_ERROR = 0, 1, 4, 5
NetworkFactory = Callable[[Any, str, Mapping[str, Any]], Any]


class ExperimentFailed(TestbedError):
    """run() raised: the traceback was printed, the partial results written, the network torn down."""

    exit_code = EXIT_RUN_ERROR


class _RunRaised(Exception):
    """Carries an exception out of the experiment's run() with the run it happened in."""

    def __init__(self, error: BaseException, point: int, repetition: int):
        super().__init__(str(error))
        self.error, self.point, self.repetition = error, point, repetition


# ------------------------------------------------------------------ the experiment file

@dataclass
class Experiment:
    name: str
    path: str
    source_sha256: str
    topology: str                        # resolved path of the topology file
    topology_keys: tuple[str, ...]       # parameters the topology function accepts
    params: dict[str, Any]
    grid: dict[str, list[Any]]
    repeat: int
    seed: int
    run: Callable[..., Any]
    run_params: dict[str, str] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    table: list[str] | None = None
    description: str = ""
    quick: dict[str, Any] = field(default_factory=dict)
    tolerances: dict[str, Any] = field(default_factory=dict)
    interleave: bool = False


def _import(path: str):
    if not os.path.isfile(path):
        raise UsageError(f"experiment file {path!r} does not exist")
    name = "testbed_experiment_" + hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:10]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{path!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file failed to import
        raise UsageError(f"{path}: importing it failed: {type(exc).__name__}: {exc}") from exc
    return module


def resolve_topology(topology: str, experiment_path: str) -> str | None:
    """The topology file: as given, or next to the experiment, or in the experiment folder's parent."""
    here = os.path.dirname(os.path.abspath(experiment_path))
    candidates = [topology, os.path.join(here, topology), os.path.join(os.path.dirname(here), topology)]
    return next((os.path.abspath(c) for c in candidates if os.path.isfile(c)), None)


def load_experiment(path: str, topology_required: bool = True) -> Experiment:
    """Import an experiment file and check its names; every problem is reported at once."""
    module = _import(path)
    problems: list[str] = []
    topology = getattr(module, "TOPOLOGY", None)
    resolved, keys = None, ()
    if not isinstance(topology, str):
        problems.append("TOPOLOGY must be the path of a topology file, e.g. TOPOLOGY = \"topologies/single.py\"")
    else:
        resolved = resolve_topology(topology, path)
        if resolved is not None:
            keys = tuple(loader.known_params(loader.topology_function(loader.load_module(resolved), resolved)))
        elif topology_required:
            problems.append(f"TOPOLOGY {topology!r} not found (looked in the working folder, "
                            "next to the experiment and in its parent folder)")
    params = getattr(module, "PARAMS", {})
    grid = getattr(module, "GRID", {})
    repeat = getattr(module, "REPEAT", 1)
    interleave = getattr(module, "INTERLEAVE", False)
    seed = getattr(module, "SEED", 0)
    run = getattr(module, "run", None)
    checks = list(getattr(module, "CHECKS", []))
    plots = list(getattr(module, "PLOTS", []))
    table = getattr(module, "TABLE", None)
    quick = getattr(module, "QUICK", {})
    tolerances = getattr(module, "TOLERANCES", {})
    run_params = getattr(module, "RUN_PARAMS", {})
    if isinstance(run_params, (list, tuple)) and all(isinstance(k, str) for k in run_params):
        run_params = {k: "" for k in run_params}
    if not isinstance(run_params, dict) or not all(isinstance(k, str) for k in run_params):
        problems.append("RUN_PARAMS must be a dict of parameter -> what it means (or a list of names)")
        run_params = {}
    if not isinstance(params, dict):
        problems.append("PARAMS must be a dict of parameter -> value")
        params = {}
    if not isinstance(grid, dict) or not all(isinstance(v, (list, tuple)) and v for v in grid.values()):
        problems.append("GRID must be a dict of parameter -> non-empty list of values")
        grid = {}
    both = sorted(set(params) & set(grid))
    if both:
        problems.append(f"{', '.join(both)} in both PARAMS and GRID; keep each parameter in one")
    if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
        problems.append(f"REPEAT must be a positive integer, not {repeat!r}")
    if not isinstance(interleave, bool):
        problems.append(f"INTERLEAVE must be True or False, not {interleave!r}")
    if not isinstance(seed, int):
        problems.append(f"SEED must be an integer, not {seed!r}")
    if not callable(run):
        problems.append("no run(net, params) function")
    problems += [f"CHECKS[{i}] is not a function" for i, c in enumerate(checks) if not callable(c)]
    problems += [f"PLOTS[{i}] is not a Plot" for i, p in enumerate(plots) if not isinstance(p, Plot)]
    if table is not None and not (isinstance(table, (list, tuple)) and all(isinstance(c, str) for c in table)):
        problems.append("TABLE must be a list of column names")
    if not isinstance(quick, dict):
        problems.append("QUICK must be a dict of parameter -> value (a list for a GRID key)")
        quick = {}
    elif quick and "quick" not in params:
        problems.append('QUICK needs "quick": False in PARAMS (--param quick=true applies it)')
    unknown = sorted(set(quick) - set(params) - set(grid) - set(keys))
    if unknown:
        problems.append(f"QUICK sets {', '.join(unknown)}, which are neither in PARAMS, GRID nor the topology's")
    problems += [f"QUICK[{k!r}] must be a non-empty list (it replaces a GRID key)"
                 for k in quick if k in grid and not (isinstance(quick[k], (list, tuple)) and quick[k])]
    problems += tolerance_problems(tolerances)
    reserved = sorted((set(params) | set(grid)) & set(ID_COLUMNS))
    if reserved:
        problems.append(f"parameter names {', '.join(reserved)} are reserved for result columns")
    if resolved is not None and topology_required:     # re-reporting stored results builds nothing
        problems += unused_keys(params, grid, keys, run_params)
    if problems:
        raise UsageError(f"{path}: {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems))
    with open(path) as f:
        source = f.read()
    doc = (module.__doc__ or "").strip()
    return Experiment(
        name=os.path.splitext(os.path.basename(path))[0], path=os.path.abspath(path),
        source_sha256=provenance.sha256_text(source), topology=resolved or str(topology),
        topology_keys=keys, params=dict(params), grid={k: list(v) for k, v in grid.items()},
        repeat=repeat, seed=seed, run=run, run_params={k: str(v) for k, v in run_params.items()},
        checks=checks, plots=plots,
        table=list(table) if table else None, description=doc.splitlines()[0] if doc else "",
        quick=dict(quick), tolerances=dict(tolerances) if isinstance(tolerances, dict) else {},
        interleave=interleave)


def tolerance_problems(tolerances: Any) -> list[str]:
    """What is wrong with a TOLERANCES dict: column -> fraction, or ("abs", amount)."""
    if not isinstance(tolerances, dict):
        return ["TOLERANCES must be a dict of column -> a fraction (0.05) or (\"abs\", amount)"]
    problems = []
    for column, value in tolerances.items():
        number = value[1] if isinstance(value, (tuple, list)) and len(value) == 2 and value[0] == "abs" else value
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number < 0:
            problems.append(f"TOLERANCES[{column!r}] = {value!r}: give a fraction (0.05) or (\"abs\", amount)")
    return problems


def did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    """The choice ``word`` most likely meant: a close spelling, or an abbreviation either way (bw, bandwidth)."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if close:
        return close[0]

    def abbreviates(short: str, long: str) -> bool:
        letters = iter(long)
        return bool(short) and short[0] == long[0] and all(c in letters for c in short)

    for choice in choices:
        if abbreviates(choice, word) or abbreviates(word, choice):
            return choice
    return None


def unused_keys(params: Mapping[str, Any], grid: Mapping[str, Any], topology_keys: Sequence[str],
                run_params: Mapping[str, str]) -> list[str]:
    """A problem for each PARAMS/GRID key that neither the topology takes nor RUN_PARAMS declares."""
    known = [*topology_keys, *run_params]
    problems = []
    for where, keys in (("PARAMS", params), ("GRID", grid)):
        for key in keys:
            if key in topology_keys or key in run_params:
                continue
            guess = did_you_mean(key, known)
            hint = f"did you mean {guess!r}? " if guess else ""
            problems.append(f"{where} key {key!r} is not a parameter of the topology and not declared in "
                            f"RUN_PARAMS: {hint}the topology takes {', '.join(topology_keys) or 'none'}; "
                            f"declare run-only parameters as RUN_PARAMS = {{{key!r}: \"what it means\"}}")
    return problems


# ------------------------------------------------------------------ grid

def apply_overrides(exp: Experiment, raw: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """PARAMS and GRID with --param values applied (converted by the type of what they replace)."""
    params, grid = dict(exp.params), {k: list(v) for k, v in exp.grid.items()}
    topology_defaults: dict[str, Any] = {}
    if exp.topology_keys and os.path.isfile(exp.topology):
        func = loader.topology_function(loader.load_module(exp.topology), exp.topology)
        topology_defaults = loader.known_params(func)
    for key, value in raw.items():
        if key in grid:
            grid[key] = [loader.convert(v, grid[key][0], key) for v in value.split(",")]
        elif key in params:
            params[key] = loader.convert(value, params[key], key)
        elif key in exp.topology_keys:
            params[key] = loader.convert(value, topology_defaults.get(key), key)
        elif key in exp.run_params:              # declared, with no default to convert by: a string
            params[key] = value
        else:
            known = sorted(set(params) | set(grid) | set(exp.topology_keys) | set(exp.run_params))
            guess = did_you_mean(key, known)
            hint = f"did you mean {guess!r}? " if guess else ""
            raise UsageError(f"--param {key}: not a parameter of {exp.name}; {hint}known: {', '.join(known)}")
    if params.get("quick") is True and exp.quick:
        for key, value in exp.quick.items():
            if key in raw:
                continue
            if key in grid:
                grid[key] = list(value)
            else:
                params[key] = value
    return params, grid


def expand_grid(params: Mapping[str, Any], grid: Mapping[str, Sequence[Any]],
                topology_keys: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every combination of the grid's values on top of the fixed parameters.

    Points are ordered so that those sharing topology parameters are adjacent (their
    first appearance decides), which lets one network serve them all.
    """
    keys = list(grid)
    points = [dict(params, **dict(zip(keys, combo))) for combo in itertools.product(*(grid[k] for k in keys))]
    order: dict[tuple, int] = {}
    for p in points:
        order.setdefault(topology_part(p, topology_keys), len(order))
    return sorted(points, key=lambda p: order[topology_part(p, topology_keys)])


def topology_part(point: Mapping[str, Any], topology_keys: Sequence[str]) -> tuple:
    return tuple((k, repr(point[k])) for k in topology_keys if k in point)


def run_seed(base: int, point: int, repetition: int) -> int:
    """A deterministic 32-bit seed per (base seed, grid point, repetition)."""
    digest = hashlib.sha256(f"{base}:{point}:{repetition}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


class RunParams(dict):
    """The parameters of one run, with the run's identity and a place for its files."""

    def __init__(self, values: Mapping[str, Any], point: int, repetition: int, seed: int, folder: str):
        super().__init__(values)
        self.point, self.repetition, self.seed = point, repetition, seed
        self._folder = folder

    def artifact(self, name: str) -> str:
        """A path under the run's artifacts/ folder for a file of this run (e.g. a pcap)."""
        folder = os.path.join(self._folder, "artifacts")
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, f"p{self.point}-r{self.repetition}-{name}")


# ------------------------------------------------------------------ running

class ProgressBar:
    """One line per finished run on stderr, with a bar of runs done."""

    def __init__(self, total: int, stream: TextIO, width: int = 20):
        self.total, self.stream, self.width, self.done = total, stream, width, 0

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def step(self, text: str) -> None:
        self.done += 1
        filled = round(self.width * self.done / self.total)
        self.say(f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} {text}")


def default_network(graph: Any, source: str, params: Mapping[str, Any]) -> Any:
    from testbed.run.network import Network
    return Network(graph, source=source, params=params)


def measurements(value: Any, where: str) -> list[dict[str, Any]]:
    """run()'s return value as a list of measurement dicts."""
    items = [value] if isinstance(value, Mapping) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(m, Mapping) for m in items):
        raise UsageError(f"{where}: run() must return a dict or a list of dicts, not {type(value).__name__}")
    for m in items:
        bad = [k for k in m if not isinstance(k, str)]
        if bad:
            raise UsageError(f"{where}: measurement keys must be strings, not {bad!r}")
    return [dict(m) for m in items]


def new_run_folder(out: str, name: str, now: datetime) -> str:
    base = os.path.join(out, name, now.strftime("%Y%m%dT%H%M%SZ"))
    folder, n = base, 1
    while os.path.exists(folder):
        n += 1
        folder = f"{base}-{n}"
    os.makedirs(folder)
    return folder


@dataclass
class Outcome:
    folder: str
    results: Results
    verdicts: list[Verdict]

    @property
    def exit_code(self) -> int:
        if any(v.failed for v in self.verdicts):
            return EXIT_CHECK
        if self.verdicts and all(v.status == SKIP for v in self.verdicts):
            return EXIT_NOTHING_CHECKED
        return EXIT_OK


def run_experiment(exp: Experiment, *, repeat: int | None = None, overrides: Mapping[str, str] | None = None,
                   out: str = "results", factory: NetworkFactory | None = None,
                   log: TextIO | None = None, stdout: TextIO | None = None, argv: Sequence[str] = (),
                   formats: Sequence[str] | None = None) -> Outcome:
    """Run every grid point ``repeat`` times, write the run's folder, print table and verdicts."""
    log, stdout = log or sys.stderr, stdout or sys.stdout
    if repeat is not None and repeat < 1:
        raise UsageError(f"--repeat {repeat}: must be at least 1")
    repeat = repeat or exp.repeat
    factory = factory or default_network
    params, grid = apply_overrides(exp, overrides or {})
    points = expand_grid(params, grid, exp.topology_keys)
    param_columns = list(dict.fromkeys([*params, *grid]))
    started = datetime.now(timezone.utc)
    folder = new_run_folder(out, exp.name, started)
    shutil.copyfile(exp.path, os.path.join(folder, "experiment.py"))
    topology_copy = {}
    if os.path.isfile(exp.topology):
        shutil.copyfile(exp.topology, os.path.join(folder, "topology.py"))
        topology_copy = {"copy": "topology.py", **provenance.file_record(exp.topology)}
    bar = ProgressBar(len(points) * repeat, log)
    bar.say(f"*** {exp.name}: {len(points)} grid point(s) x {repeat} repetition(s) -> {folder}")
    meta: dict[str, Any] = {
        "experiment": {"name": exp.name, "file": exp.path, "sha256": exp.source_sha256,
                       "description": exp.description, "argv": list(argv)},
        "topology": {"file": exp.topology, **topology_copy, "keys": list(exp.topology_keys), "networks": []},
        "params": {"fixed": params, "grid": grid, "overrides": dict(overrides or {}), "repeat": repeat,
                   "interleave": exp.interleave, "points": points, "run_only": dict(exp.run_params)},
        "seeds": {"base": exp.seed, "runs": []},
        "start": started.isoformat(), "end": None, "error": None,
        **provenance.environment(),
    }
    rows: list[dict[str, Any]] = []
    try:
        _run_points(exp, points, repeat, factory, folder, rows, meta, bar, list(grid) or list(params))
    except _RunRaised as raised:
        meta["error"] = error_record(raised.error, exp.path, raised.point, raised.repetition)
        meta["end"] = datetime.now(timezone.utc).isoformat()
        _write(folder, exp, rows, param_columns, [], meta)
        results = Results(rows, param_columns)
        print(meta["error"]["traceback"], end="", file=log)
        _plot(exp, results, folder, log, formats)
        _report_html(folder, exp, results, [], meta, meta["error"])
        show(exp, results, [], stdout, error=meta["error"])
        where = f"{len(rows)} measurement(s) made before it kept in {folder}" if rows else \
            f"nothing was measured; the run's record is in {folder}"
        raise ExperimentFailed(f"{exp.name}: run() raised {meta['error']['type']}: {meta['error']['message']} "
                               f"at {meta['error']['file']}:{meta['error']['line']} (point {raised.point}, "
                               f"repetition {raised.repetition}); claims not checked; {where}") from raised.error
    except BaseException as exc:
        meta["error"] = {"type": type(exc).__name__, "message": str(exc), "in": "the runner"}
        if rows:
            _write(folder, exp, rows, param_columns, [], meta)
            bar.say(f"*** stopped: {type(exc).__name__}: {exc}; partial results in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
            bar.say(f"*** stopped before any measurement: {type(exc).__name__}: {exc}")
        raise
    results = Results(rows, param_columns)
    verdicts = run_checks(exp.checks, results)
    meta["end"] = datetime.now(timezone.utc).isoformat()
    meta["host"]["load_average_end"] = provenance.load_average()
    _write(folder, exp, rows, param_columns, verdicts, meta)
    _plot(exp, results, folder, log, formats)
    _report_html(folder, exp, results, verdicts, meta)
    print(f"*** report: {os.path.join(folder, 'report.html')}", file=log)
    show(exp, results, verdicts, stdout)
    return Outcome(folder, results, verdicts)


def error_record(error: BaseException, experiment_path: str, point: int, repetition: int) -> dict[str, Any]:
    """What meta.json keeps of an exception from run(): type, message, where, and its traceback.

    The traceback starts at the experiment file's first frame (the runner's own frames
    above it tell a reader nothing); ``file`` and ``line`` are the experiment file's last frame.
    """
    tb = traceback.TracebackException.from_exception(error)
    frames = list(tb.stack)
    mine = [i for i, f in enumerate(frames) if os.path.abspath(f.filename) == experiment_path]
    if mine:
        tb.stack = traceback.StackSummary.from_list(frames[mine[0]:])
    last = frames[mine[-1]] if mine else (frames[-1] if frames else None)
    return {"type": type(error).__name__, "message": str(error), "in": "run()",
            "point": point, "repetition": repetition,
            "file": last.filename if last else experiment_path, "line": last.lineno if last else None,
            "traceback": "".join(tb.format())}


def schedule(points: int, repeat: int, interleave: bool = False) -> list[tuple[int, int]]:
    """(point index, repetition) in the order they run: a point's repetitions together, or round by round."""
    if interleave:
        return [(index, rep) for rep in range(repeat) for index in range(points)]
    return [(index, rep) for index in range(points) for rep in range(repeat)]


def _run_points(exp: Experiment, points: list[dict], repeat: int, factory: NetworkFactory, folder: str,
                rows: list[dict], meta: dict, bar: ProgressBar, label_keys: Sequence[str]) -> None:
    net, net_key = None, None
    try:
        for index, rep in schedule(len(points), repeat, exp.interleave):
            point = points[index]
            key = topology_part(point, exp.topology_keys)
            if net is None or key != net_key:
                if net is not None:
                    _stop(net, meta)
                    net = None
                net = _build(exp, point, factory, meta, bar)
                net_key = key
            seed = run_seed(exp.seed, index, rep)
            run_params = RunParams(point, index, rep, seed, folder)
            label = provenance.describe_params({k: point[k] for k in label_keys}) + f" rep {rep + 1}/{repeat}"
            random.seed(seed)
            t0 = time.time()
            try:
                value = exp.run(net, run_params)
            except TestbedError:               # a refusal with its reason (e.g. a kernel feature missing)
                raise
            except Exception as exc:           # the experiment's own code: reported with its traceback
                raise _RunRaised(exc, index, rep) from exc
            t1 = time.time()
            meta["seeds"]["runs"].append({"point": index, "repetition": rep, "seed": seed,
                                          "start": t0, "end": t1})
            for m_index, m in enumerate(measurements(value, f"{exp.name} point {index} rep {rep}")):
                clash = sorted(set(m) & (set(point) | set(ID_COLUMNS)))
                if clash:
                    raise UsageError(f"{exp.name}: run() returned {', '.join(clash)}, which name "
                                     "parameters or identifying columns; rename them")
                rows.append({"point": index, "repetition": rep, "seed": seed, "measurement": m_index,
                             **point, **m})
            bar.step(f"{label} ({t1 - t0:.1f} s)")
    finally:
        if net is not None:
            _stop(net, meta)


def _stop(net: Any, meta: dict) -> None:
    """Record the link offloads as run() left them, then tear the network down."""
    if getattr(net, "plan", None) is not None and meta["topology"]["networks"]:
        meta["topology"]["networks"][-1]["offloads_after"] = provenance.link_offloads(net)
    net.stop()


def _build(exp: Experiment, point: Mapping[str, Any], factory: NetworkFactory, meta: dict, bar: ProgressBar):
    topo_params = {k: point[k] for k in exp.topology_keys if k in point}
    graph, full = loader.load(exp.topology, topo_params)
    t0 = time.time()
    net = factory(graph, exp.topology, full)
    net.start()
    record = {"params": provenance.jsonable(full), "graph_sha256": provenance.graph_hash(graph),
              "nodes": graph.number_of_nodes(), "edges": graph.number_of_edges(),
              "run_id": getattr(net, "run_id", None)}
    plan = getattr(net, "plan", None)
    if plan is not None:
        used = provenance.tools_used(plan)
        record["tools_used"] = used
        new = [t for t in used if t not in meta["tools"]]
        meta["tools"].update(provenance.tool_versions({t: provenance.TOOLS_WHEN_USED[t] for t in new}))
        record["offloads"] = provenance.link_offloads(net)
    meta["topology"]["networks"].append(record)
    bar.say(f"*** network {provenance.describe_params(full)} built in {time.time() - t0:.2f} s")
    return net


def _write(folder: str, exp: Experiment, rows: list[dict], params: list[str], verdicts: list[Verdict],
           meta: dict) -> None:
    results = Results(rows, params)
    columns = write_csv(os.path.join(folder, "results.csv"), results)
    write_json(os.path.join(folder, "results.json"),
               {"experiment": exp.name, "params": params, "csv_columns": columns, "rows": rows,
                "checks": verdicts_json(verdicts)})
    write_json(os.path.join(folder, "meta.json"), provenance.jsonable(meta))


def _plot(exp: Experiment, results: Results, folder: str, log: TextIO,
          formats: Sequence[str] | None = None) -> list[str]:
    if not exp.plots or not results.rows:
        return []
    from testbed.lab import plot
    return plot.render(exp.plots, results, os.path.join(folder, "plots"), log, formats or plot.FORMATS)


def _columns(exp: Experiment, results: Results) -> list[str] | None:
    return [c for c in exp.table if c in results.columns] if exp.table else None


def _report_html(folder: str, exp: Experiment, results: Results, verdicts: Sequence[Verdict], meta: Mapping,
                 error: Mapping[str, Any] | None = None) -> str:
    from testbed.lab import report_html, tables
    table = tables.build(results, _columns(exp, results)) if results.rows else None
    return report_html.write(folder, name=exp.name, description=exp.description, verdicts=verdicts, table=table,
                             plots=exp.plots, meta=meta, error=error, results=results)


def show(exp: Experiment, results: Results, verdicts: Sequence[Verdict], stdout: TextIO,
         error: Mapping[str, Any] | None = None) -> None:
    """Print the summary table, the verdicts and a line that sums them up."""
    print(f"{exp.name}: {exp.description}" if exp.description else exp.name, file=stdout)
    if results.rows:
        print(summary_table(results, _columns(exp, results)), file=stdout)
    for verdict in verdicts:
        print(verdict.line(), file=stdout)
    if error is not None:
        print(f"*** claims not checked: run() raised {error['type']} at {error['file']}:{error['line']}",
              file=stdout)
    elif not verdicts:
        print("(no checks)", file=stdout)
    else:
        print(f"*** {verdict_summary(verdicts)}", file=stdout)


# ------------------------------------------------------------------ report

def find_run_folder(path: str) -> str:
    """A run folder: the path itself, or the newest run under an experiment's folder."""
    if os.path.isfile(os.path.join(path, "results.json")):
        return path
    if os.path.isdir(path):
        runs = sorted(d for d in os.listdir(path) if os.path.isfile(os.path.join(path, d, "results.json")))
        if runs:
            return os.path.join(path, runs[-1])
    raise UsageError(f"{path}: no results.json here or in its subfolders; give a folder written by "
                     "`testbed experiment` (OUT/<experiment>/<timestamp>)")


def report(path: str, experiment_file: str | None = None, log: TextIO | None = None,
           stdout: TextIO | None = None, formats: Sequence[str] | None = None) -> Outcome:
    """Re-plot and re-check a stored run with the experiment's checks and plots (no network)."""
    log, stdout = log or sys.stderr, stdout or sys.stdout
    folder = find_run_folder(path)
    data = read_json(os.path.join(folder, "results.json"))
    meta = read_json(os.path.join(folder, "meta.json"))
    source = experiment_file or os.path.join(folder, "experiment.py")
    exp = load_experiment(source, topology_required=False)
    exp.name = data.get("experiment", exp.name)
    recorded = meta.get("experiment", {}).get("sha256")
    if experiment_file and recorded and recorded != exp.source_sha256:
        print(f"*** note: {experiment_file} differs from the file that produced {folder}", file=log)
    if not isinstance(data.get("rows"), list):
        raise UsageError(f"{folder}/results.json has no list of rows")
    results = Results(data["rows"], data.get("params", []))
    verdicts = run_checks(exp.checks, results)
    print(f"*** {folder}: {len(results)} measurement(s) from {meta.get('start', '?')}", file=log)
    _plot(exp, results, folder, log, formats)
    error = meta.get("error")
    _report_html(folder, exp, results, verdicts, meta,
                 error if isinstance(error, dict) and error.get("in") == "run()" else None)
    print(f"*** report: {os.path.join(folder, 'report.html')}", file=log)
    show(exp, results, verdicts, stdout)
    return Outcome(folder, results, verdicts)
