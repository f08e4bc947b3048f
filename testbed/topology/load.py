"""Load a topology file: a module with ``topology(**params) -> networkx graph``.

Parameters arrive as strings (``--param n=200``) and are converted by the type of the
function's default value; unknown parameters are refused with the list of known ones.
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import sys
from typing import Any, Callable, Mapping

import networkx as nx

from testbed.errors import Problem, TopologyError, UsageError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_param_args(items: list[str] | None) -> dict[str, str]:
    """['n=3', 'kind=hub'] -> {'n': '3', 'kind': 'hub'}."""
    result: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--param {item!r}: expected KEY=VALUE, e.g. --param n=3")
        result[key.strip()] = value
    return result


def convert(value: str, default: Any, name: str) -> Any:
    """Convert a command-line string by the type of the parameter's default value."""
    if not isinstance(value, str):
        return value
    try:
        if isinstance(default, bool):
            low = value.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError("expected true/false/1/0")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError as exc:
        raise UsageError(f"--param {name}={value!r}: {exc} (default is {default!r})") from None
    return value


def import_file(path: str, label: str, module_prefix: str):
    """Import a Python file by path under a private module name (no side effects expected).

    ``label`` starts every error message ("topology file", "--custom"); the module is named
    ``module_prefix`` plus a digest of the absolute path, so one file is one module.
    """
    if not os.path.isfile(path):
        raise UsageError(f"{label} {path!r} does not exist: check the path")
    digest = hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:10]
    name = f"{module_prefix}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{label} {path!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file failed to import
        sys.modules.pop(name, None)
        raise UsageError(f"{label} {path}: importing it failed: {type(exc).__name__}: {exc}") from exc
    return module


def load_module(path: str):
    """Import a topology file by path under a private module name."""
    return import_file(path, "topology file", "testbed_topology")


def topology_function(module, path: str) -> Callable[..., nx.Graph]:
    func = getattr(module, "topology", None)
    if not callable(func):
        raise UsageError(f"{path}: no topology() function; define topology(**params) returning a networkx graph")
    return func


def known_params(func: Callable) -> dict[str, Any]:
    """Parameter name -> default of a topology function (inspect.Parameter.empty if none)."""
    return {p.name: p.default for p in inspect.signature(func).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def bind_params(func: Callable, raw: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Convert and check the given parameters against the function's signature."""
    known = known_params(func)
    problems = [Problem(f"--param {k}", f"unknown parameter for {path}",
                        f"known: {', '.join(known) or 'none'}") for k in raw if k not in known]
    missing = [k for k, d in known.items() if d is inspect.Parameter.empty and k not in raw]
    problems += [Problem(f"--param {k}", "required parameter not given", f"add --param {k}=VALUE")
                 for k in missing]
    if problems:
        raise TopologyError(problems, path)
    return {k: convert(v, known[k], k) for k, v in raw.items()}


def load(path: str, raw_params: Mapping[str, Any] | None = None) -> tuple[nx.Graph, dict[str, Any]]:
    """Build the graph of a topology file with the given parameters; returns (graph, params)."""
    func = topology_function(load_module(path), path)
    params = bind_params(func, raw_params or {}, path)
    called = f"{path}: topology({', '.join(f'{k}={v!r}' for k, v in params.items())})"
    try:
        graph = func(**params)
    except (TypeError, ValueError) as exc:  # the usual way to refuse a parameter: its message is for the user
        raise UsageError(f"{called} failed: {_text(exc)}") from exc
    except Exception as exc:                # a bug in the file: say what and where, not a traceback
        raise UsageError(f"{called} failed{_where(exc, path)}: {type(exc).__name__}: {_text(exc)}") from exc
    if not isinstance(graph, nx.Graph) or isinstance(graph, type):
        what = graph.__name__ if isinstance(graph, type) else type(graph).__name__
        raise UsageError(f"{path}: topology() returned {what}, not a networkx graph: "
                         "return an nx.Graph() or nx.MultiGraph() instance")
    full = {k: v for k, v in known_params(func).items() if v is not inspect.Parameter.empty}
    full.update(params)
    return graph, full


def _where(exc: BaseException, path: str) -> str:
    """' at FILE:LINE' of the deepest frame of the exception inside ``path`` (or anywhere)."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb)
        tb = tb.tb_next
    mine = [f for f in frames if os.path.abspath(f.tb_frame.f_code.co_filename) == os.path.abspath(path)]
    frame = (mine or frames or [None])[-1]
    return f" at {frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame is not None else ""


def _text(exc: BaseException) -> str:
    text = str(exc)
    return text[:300] + "..." if len(text) > 300 else text
