"""`testbed experiment --rerun` on a fake network: recorded files, parameters and seeds; the comparison."""
import io
import json
import os

import pytest

from testbed.cli.main import main
from testbed.errors import UsageError
from testbed.lab import experiment, provenance, rerun
from testbed.lab.results import Results

SINGLE = os.path.join(os.path.dirname(__file__), "..", "..", "topologies", "single.py")

EXPERIMENT = '''
"""Values drawn from the run's seed, scaled by the fake network's bias."""
import random

TOPOLOGY = {topology!r}
PARAMS = {{"n": 2, "scale": 10.0}}
RUN_PARAMS = {{"scale": "a made-up scale"}}
GRID = {{"kind": ["hub", "bridge"]}}
REPEAT = {repeat}
INTERLEAVE = {interleave}
SEED = 3
TOLERANCES = {tolerances}

def run(net, params):
    return [{{"label": "a", "value": params["scale"] * random.random() * net.bias, "fixed": 5}},
            {{"label": "b", "value": 1.0 * net.bias, "fixed": 5}}]

def positive(results):
    """Every value is positive."""
    return all(v > 0 for v in results.values("value")), "checked"

CHECKS = [positive]
'''


class FakeNetwork:
    bias = 1.0

    def __init__(self, graph, source, params):
        self.run_id = "fake"

    def start(self):
        return self

    def stop(self):
        pass


@pytest.fixture
def stored(tmp_path, monkeypatch):
    """Run the experiment once (bias 1) and return (its folder, a rerun function)."""
    FakeNetwork.bias = 1.0
    monkeypatch.setattr(provenance, "git_commit", lambda path=None: {"commit": "a" * 40, "dirty": False})

    def make(repeat=2, tolerances="{}", interleave=False):
        path = tmp_path / "exp.py"
        path.write_text(EXPERIMENT.format(topology=os.path.abspath(SINGLE), repeat=repeat, tolerances=tolerances,
                                          interleave=interleave))
        exp = experiment.load_experiment(str(path))
        outcome = experiment.run_experiment(exp, out=str(tmp_path / "out"), factory=FakeNetwork, log=io.StringIO(),
                                            stdout=io.StringIO(), overrides={"scale": "20"})
        path.write_text("raise SystemExit('the file as it is now must not be used')\n")   # a rerun uses the copy
        return outcome.folder

    def again(folder, **kwargs):
        log, out = io.StringIO(), io.StringIO()
        result = rerun.rerun(folder, out=str(tmp_path / "again"), factory=FakeNetwork, log=log, stdout=out, **kwargs)
        return result, log.getvalue(), out.getvalue()
    return make, again


def test_rerun_reproduces_a_seeded_run_exactly(stored):
    make, again = stored
    folder = make()
    result, log, out = again(folder)
    assert result.exit_code == 0, out
    assert "environment: the same kernel" in log and "2 point(s) x 2 repetition(s), base seed 3" in log
    value = next(c for c in result.comparison.columns if c.column == "value")
    assert value.ok is True and all(c.difference == 0 for c in value.cells)
    assert {c.label for c in value.cells} == {"kind=hub a", "kind=hub b", "kind=bridge a", "kind=bridge b"}
    assert "value (tolerance: spread of repetitions): within tolerance" in out and "PASS  rerun" in out
    data = json.load(open(os.path.join(result.outcome.folder, "rerun.json")))
    assert data["comparison"]["ok"] is True and data["stored"] == os.path.abspath(folder)
    meta = json.load(open(os.path.join(result.outcome.folder, "meta.json")))
    assert meta["params"]["fixed"]["scale"] == 20.0           # the recorded override, not the file's default


def test_rerun_of_an_interleaved_run_keeps_its_order_and_seeds(stored):
    make, again = stored
    folder = make(interleave=True)
    result, log, out = again(folder)
    assert result.exit_code == 0, out
    assert "recorded seeds are not" not in log
    value = next(c for c in result.comparison.columns if c.column == "value")
    assert value.ok is True and all(c.difference == 0 for c in value.cells)
    meta = json.load(open(os.path.join(result.outcome.folder, "meta.json")))
    assert [(r["point"], r["repetition"]) for r in meta["seeds"]["runs"]] == [(0, 0), (1, 0), (0, 1), (1, 1)]


def test_a_drift_beyond_the_spread_fails_and_says_where(stored):
    make, again = stored
    folder = make()
    FakeNetwork.bias = 1.5
    result, _, out = again(folder)
    assert result.exit_code == 1
    value = next(c for c in result.comparison.columns if c.column == "value")
    assert value.ok is False and "FAIL  rerun: 1 of 2 judged column(s) outside tolerance: value" in out
    assert "DIFFERS" in out and "fixed (tolerance: spread of repetitions): within tolerance" in out


def test_declared_tolerances_are_used(stored):
    make, again = stored
    folder = make(tolerances='{"value": 0.6}')
    FakeNetwork.bias = 1.5
    result, _, out = again(folder)
    assert result.exit_code == 0, out
    assert "value (tolerance: declared 60 % of the stored value): within tolerance" in out


def test_one_repetition_without_tolerances_is_not_judged(stored):
    make, again = stored
    folder = make(repeat=1)
    FakeNetwork.bias = 1.01
    result, _, out = again(folder)
    value = next(c for c in result.comparison.columns if c.column == "value")
    assert value.ok is None and "no spread" in out
    assert result.exit_code == 0 and "1 column(s) within tolerance, 1 not judged" in out    # "fixed" is equal


def test_refuses_another_commit_unless_allowed(stored, monkeypatch):
    make, again = stored
    folder = make()
    monkeypatch.setattr(provenance, "git_commit", lambda path=None: {"commit": "b" * 40, "dirty": True})
    with pytest.raises(UsageError, match="measured at testbed commit aaaaaaaaaaaa, this checkout is at bbbbbbbbbbbb"):
        again(folder)
    result, log, _ = again(folder, allow_commit=True)
    assert result.exit_code == 0 and "--allow-commit" in log and "current checkout had uncommitted changes" in log


def test_refuses_edited_files(stored):
    make, again = stored
    folder = make()
    with open(os.path.join(folder, "topology.py"), "a") as f:
        f.write("\n# edited\n")
    with pytest.raises(UsageError, match="is not the topology file that produced"):
        again(folder)
    with open(os.path.join(folder, "experiment.py"), "a") as f:
        f.write("\n# edited\n")
    with pytest.raises(UsageError, match="was changed after the run"):
        again(folder)


def test_environment_differences_are_named():
    a = {"kernel": {"release": "6.1.0-57-amd64"}, "tools": {"iperf3": "iperf 3.12"}, "packages": {"numpy": "2"},
         "python": {"version": "3.11.7"}, "host": {"cpu_count": 2, "cpu_model": "X", "hostname": "h"}}
    b = {"kernel": {"release": "6.18"}, "tools": {"iperf3": "iperf 3.16"}, "packages": {"numpy": "2"},
         "python": {"version": "3.11.7"}, "host": {"cpu_count": 4, "cpu_model": "Y", "hostname": "h"}}
    assert rerun.environment_differences(a, b) == [
        "kernel: stored '6.1.0-57-amd64', now '6.18'", "tool iperf3: stored 'iperf 3.12', now 'iperf 3.16'",
        "CPU count: stored 2, now 4", "CPU: stored 'X', now 'Y'"]
    assert rerun.environment_differences(a, a) == []


def test_compare_reports_columns_and_rows_present_in_one_run_only():
    stored = Results([{"point": 0, "repetition": 0, "measurement": 0, "k": 1, "x": 1.0, "old": 2.0}], ["k"])
    new = Results([{"point": 0, "repetition": 0, "measurement": 0, "k": 1, "x": 1.0, "fresh": 3.0},
                   {"point": 1, "repetition": 0, "measurement": 0, "k": 2, "x": 4.0}], ["k"])
    comparison = rerun.compare(stored, new)
    assert comparison.only_stored == ["old"] and comparison.only_new == ["fresh"]
    assert comparison.unmatched == ["point 1 (new only)"] and not comparison.ok
    text = rerun.format_comparison(comparison)
    assert "columns only in the stored run: old" in text and "rows in one run only: point 1 (new only)" in text


def test_cli_rerun_takes_nothing_else(tmp_path):
    assert main(["experiment", "--rerun", str(tmp_path), "--param", "x=1"]) == 2
    assert main(["experiment"]) == 2
