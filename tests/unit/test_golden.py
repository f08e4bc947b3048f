"""Golden plans: every shipped topology's plan, pinned byte for byte.

Regenerate after an intended change with ``pytest tests/unit --update-golden`` and review
the diff of tests/unit/golden/.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from testbed import load
from testbed import plan

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
TOPOLOGIES = sorted(p.stem for p in (ROOT / "topologies").glob("*.py"))
VARIANTS = [(name, {}) for name in TOPOLOGIES] + [
    ("three_hosts", {"bridge": "false"}),
    ("tree", {"depth": "2", "fanout": "3"}),
    ("routed", {"routers": "3"}),
]


def golden_name(name: str, params: dict[str, str]) -> str:
    suffix = "".join(f"__{k}={v}" for k, v in sorted(params.items()))
    return f"{name}{suffix}.json"


def plan_json(name: str, params: dict[str, str]) -> str:
    """The plan as `testbed plan topologies/NAME.py` prints it (run from the repository root)."""
    source = f"topologies/{name}.py"
    graph, full = load(str(ROOT / source), params)
    return plan(graph, source=source, params=full).to_json() + "\n"


def test_every_topology_has_a_golden_variant():
    assert TOPOLOGIES, "no topologies found"
    assert {"three_hosts", "single", "linear", "tree", "pair", "routed"} <= set(TOPOLOGIES)


@pytest.mark.parametrize("name, params", VARIANTS, ids=[golden_name(n, p)[:-5] for n, p in VARIANTS])
def test_golden_plan(name, params, update_golden):
    path = GOLDEN / golden_name(name, params)
    text = plan_json(name, params)
    if update_golden:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"{path} missing: run pytest tests/unit --update-golden"
    assert text == path.read_text(), f"plan of {name} {params} changed; review, then --update-golden"


def test_no_stale_golden_files():
    expected = {golden_name(n, p) for n, p in VARIANTS}
    assert {p.name for p in GOLDEN.glob("*.json")} <= expected


@pytest.mark.parametrize("name, params", [("three_hosts", {}), ("routed", {"routers": "3"})])
def test_cli_plan_prints_the_golden_plan(name, params):
    args = [sys.executable, "-m", "testbed.cli.main", "plan", f"topologies/{name}.py"]
    for k, v in params.items():
        args += ["--param", f"{k}={v}"]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    golden = (GOLDEN / golden_name(name, params)).read_text()
    from testbed.kernel import caps
    features = caps.features()
    if features is not None and "dummy" not in features:      # this kernel: in-node dummies are ifb devices
        golden = golden.replace('"kind": "dummy"', '"kind": "ifb"')
    assert done.stdout == golden


@pytest.mark.parametrize("name, params", VARIANTS)
def test_planning_twice_gives_identical_json(name, params):
    assert plan_json(name, params) == plan_json(name, params)


def test_plan_does_not_depend_on_hash_seed():
    """Node and link order come from the graph, never from set/dict hashing of strings."""
    code = ("import sys; from testbed import load, plan; "
            "g, p = load('topologies/tree.py', {'depth': '2', 'fanout': '3'}); "
            "sys.stdout.write(plan(g, 'topologies/tree.py', p).to_json())")
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        outputs.add(done.stdout)
    assert len(outputs) == 1
