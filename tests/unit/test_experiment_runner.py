"""The experiment runner on a fake network: grid, repetitions, files, provenance, checks, exit codes."""
import csv
import io
import json
import os

import networkx as nx
import pytest

from testbed.lab import experiment
from testbed.lab import provenance
from testbed.cli.main import main
from testbed.errors import UsageError
from testbed.lab.results import Plot, Results, summary_table

SINGLE = os.path.join(os.path.dirname(__file__), "..", "..", "topologies", "single.py")   # h1..hn on s1

EXPERIMENT = '''
"""A made-up experiment over a fake network."""
import random
from testbed.lab.results import Plot

TOPOLOGY = {topology!r}
PARAMS = {{"n": 2, "rate": 10}}
GRID = {{"kind": ["hub", "bridge"], "size": [1, 2]}}
REPEAT = 2
SEED = 7

def run(net, params):
    net.calls.append((dict(params), params.repetition))
    return [{{"value": params["size"] * params["rate"], "noise": random.random(), "series": [1, 2, 3],
              "label": "a"}},
            {{"value": 0.5, "noise": random.random(), "series": [], "label": "b"}}]

def values_positive(results):
    """Every value is positive."""
    return all(v > 0 for v in results.values("value")), "values checked"

def {second_check}(results):
    """A claim that may fail."""
    return {second_ok}, "second claim"

CHECKS = [values_positive, {second_check}]
PLOTS = [Plot("value", y="value", x="size", group="kind", kind="line", where={{"label": "a"}}),
         Plot("missing", y="nope", x="size")]
'''


class FakeNetwork:
    """Stands in for testbed.run.network.Network: records what the runner does with it."""

    built: list["FakeNetwork"] = []

    def __init__(self, graph, source, params):
        self.graph, self.source, self.params = graph, source, dict(params)
        self.started = self.stopped = False
        self.calls = []
        self.run_id = f"fake{len(FakeNetwork.built)}"
        FakeNetwork.built.append(self)

    def start(self):
        self.started = True
        return self

    def stop(self):
        self.stopped = True


@pytest.fixture
def files(tmp_path):
    FakeNetwork.built = []

    def write(second_ok=True, second_check="second", body=None, name="demo.py"):
        path = tmp_path / name
        path.write_text(body or EXPERIMENT.format(topology=SINGLE, second_ok=second_ok, second_check=second_check))
        return str(path)
    return write


def run(path, tmp_path, **kwargs):
    exp = experiment.load_experiment(path)
    log, out = io.StringIO(), io.StringIO()
    outcome = experiment.run_experiment(exp, out=str(tmp_path / "out"), factory=FakeNetwork, log=log, stdout=out,
                                        **kwargs)
    return outcome, log.getvalue(), out.getvalue()


def test_grid_expansion_groups_points_by_topology():
    points = experiment.expand_grid({"n": 2}, {"size": [1, 2], "kind": ["hub", "bridge"]}, ["n", "kind"])
    assert len(points) == 4
    assert [(p["kind"], p["size"]) for p in points] == [("hub", 1), ("hub", 2), ("bridge", 1), ("bridge", 2)]
    assert all(p["n"] == 2 for p in points)
    assert experiment.expand_grid({"a": 1}, {}) == [{"a": 1}]


def test_overrides_convert_and_sweep(files):
    exp = experiment.load_experiment(files())
    params, grid = experiment.apply_overrides(exp, {"rate": "20", "kind": "hub", "size": "3,4", "n": "5"})
    assert params == {"n": 5, "rate": 20} and grid == {"kind": ["hub"], "size": [3, 4]}
    with pytest.raises(UsageError, match="not a parameter"):
        experiment.apply_overrides(exp, {"bogus": "1"})
    with pytest.raises(UsageError, match="rate"):
        experiment.apply_overrides(exp, {"rate": "fast"})


def test_runs_every_point_and_repetition_reusing_networks(files, tmp_path):
    outcome, log, out = run(files(), tmp_path)
    # 2 kinds x 2 sizes x 2 repetitions; one network per kind (size is not a topology parameter)
    assert len(FakeNetwork.built) == 2
    assert [n.params["kind"] for n in FakeNetwork.built] == ["hub", "bridge"]
    assert all(n.started and n.stopped for n in FakeNetwork.built)
    calls = [c for n in FakeNetwork.built for c in n.calls]
    assert len(calls) == 8
    assert [rep for _, rep in calls] == [0, 1] * 4
    assert len(outcome.results) == 16                      # two measurements per run
    assert outcome.exit_code == 0
    assert "[####################] 8/8" in log and "network" in log
    assert "PASS  values_positive" in out and "PASS  second" in out


def test_repeat_option_overrides_file(files, tmp_path):
    outcome, _, _ = run(files(), tmp_path, repeat=1, overrides={"kind": "hub"})
    assert len(FakeNetwork.built) == 1
    assert sorted({r["repetition"] for r in outcome.results}) == [0]
    assert len(outcome.results) == 4
    with pytest.raises(UsageError):
        run(files(), tmp_path, repeat=0)


def test_csv_and_json_schema(files, tmp_path):
    outcome, _, _ = run(files(), tmp_path)
    folder = outcome.folder
    assert sorted(os.listdir(folder)) == ["experiment.py", "meta.json", "plots", "results.csv", "results.json", "topology.py"]
    with open(os.path.join(folder, "results.csv")) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 16
    header = list(rows[0])
    assert header[:4] == ["point", "repetition", "seed", "measurement"]
    assert {"n", "rate", "kind", "size", "value", "noise", "label"} <= set(header)
    assert "series" not in header                           # lists go to results.json only
    data = json.load(open(os.path.join(folder, "results.json")))
    assert data["experiment"] == "demo" and data["params"] == ["n", "rate", "kind", "size"]
    assert data["csv_columns"] == header
    assert data["rows"][0]["series"] == [1, 2, 3]
    assert [c["name"] for c in data["checks"]] == ["values_positive", "second"]
    assert all(c["ok"] for c in data["checks"]) and data["checks"][0]["claim"] == "Every value is positive."
    first = data["rows"][0]
    assert first["value"] == first["size"] * first["rate"]


def test_provenance_fields(files, tmp_path):
    outcome, _, _ = run(files(), tmp_path)
    meta = json.load(open(os.path.join(outcome.folder, "meta.json")))
    assert meta["experiment"]["name"] == "demo" and len(meta["experiment"]["sha256"]) == 64
    assert meta["kernel"]["release"] == os.uname().release
    assert set(meta["tools"]) >= {"ip", "iperf3", "ping"}
    assert meta["testbed"]["version"] and "commit" in meta["testbed"]
    assert meta["python"]["version"] and meta["packages"]["networkx"] == nx.__version__
    assert meta["host"]["cpu_count"] == os.cpu_count()
    assert "euid" in meta["capabilities"]
    nets = meta["topology"]["networks"]
    assert [n["params"] for n in nets] == [{"n": 2, "kind": "hub", "backend": ""}, {"n": 2, "kind": "bridge", "backend": ""}]
    assert all(len(n["graph_sha256"]) == 64 for n in nets) and nets[0]["graph_sha256"] != nets[1]["graph_sha256"]
    assert meta["params"]["repeat"] == 2 and meta["params"]["grid"]["size"] == [1, 2]
    assert meta["seeds"]["base"] == 7 and len(meta["seeds"]["runs"]) == 8
    assert meta["start"] < meta["end"] and meta["error"] is None


def test_seeds_are_deterministic_and_seed_random(files, tmp_path):
    first, _, _ = run(files(), tmp_path)
    second, _, _ = run(files(), tmp_path)
    assert first.folder != second.folder
    noise = lambda o: [r["noise"] for r in o.results]            # noqa: E731
    assert noise(first) == noise(second)
    seeds = {(r["point"], r["repetition"]): r["seed"] for r in first.results}
    assert len(set(seeds.values())) == 8


def test_failed_claim_exits_1(files, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(experiment, "default_network", FakeNetwork)
    path = files(second_ok=False)
    code = main(["experiment", path, "--repeat", "1", "--out", str(tmp_path / "cli")])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  second: second claim" in out and "PASS  values_positive" in out


def test_all_claims_hold_exits_0(files, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(experiment, "default_network", FakeNetwork)
    assert main(["experiment", files(), "-r", "1", "-p", "kind=hub", "--out", str(tmp_path / "cli")]) == 0


def test_bad_input_exits_2(files, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(experiment, "default_network", FakeNetwork)
    out = str(tmp_path / "cli")
    assert main(["experiment", str(tmp_path / "nope.py"), "--out", out]) == 2
    assert main(["experiment", files(), "--param", "bogus=1", "--out", out]) == 2
    broken = files(body="TOPOLOGY = 'no/such.py'\nGRID = {'a': []}\nREPEAT = 0\n", name="broken.py")
    assert main(["experiment", broken, "--out", out]) == 2
    err = capsys.readouterr().err
    assert "no/such.py" in err and "GRID" in err and "REPEAT" in err and "run(net, params)" in err
    assert FakeNetwork.built == []


def test_a_raising_check_fails_with_its_reason(files, tmp_path):
    results = Results([{"point": 0, "x": 1}])

    def broken(res):
        return res.mean("missing") > 0, "never"
    verdict, = experiment.run_checks([broken], results)
    assert not verdict.ok and "KeyError" in verdict.message


def test_run_raising_keeps_partial_results_and_stops_the_network(files, tmp_path):
    body = EXPERIMENT.format(topology=SINGLE, second_ok=True, second_check="second")
    body = body.replace("    net.calls.append", "    if params.point == 1: raise RuntimeError('boom')\n    net.calls.append")
    with pytest.raises(experiment.ExperimentFailed, match="boom"):
        run(files(body=body), tmp_path)
    assert all(n.stopped for n in FakeNetwork.built)
    folder = next(os.scandir(tmp_path / "out" / "demo")).path
    data = json.load(open(os.path.join(folder, "results.json")))
    assert len(data["rows"]) == 4                           # point 0, both repetitions
    assert "boom" in json.load(open(os.path.join(folder, "meta.json")))["error"]


def test_failure_before_any_measurement_leaves_no_folder(files, tmp_path):
    body = EXPERIMENT.format(topology=SINGLE, second_ok=True, second_check="second")
    body = body.replace("    net.calls.append", "    raise RuntimeError('early')\n    net.calls.append")
    with pytest.raises(experiment.ExperimentFailed, match="no results written"):
        run(files(body=body), tmp_path)
    assert os.listdir(tmp_path / "out" / "demo") == []
    assert all(n.stopped for n in FakeNetwork.built)


def test_run_must_return_measurements(files, tmp_path):
    body = EXPERIMENT.format(topology=SINGLE, second_ok=True, second_check="second")
    body = body.replace("    net.calls.append", "    return 42\n    net.calls.append")
    with pytest.raises(UsageError, match="dict or a list of dicts"):
        run(files(body=body), tmp_path)


def test_report_rechecks_and_replots_without_a_network(files, tmp_path, capsys):
    outcome, _, _ = run(files(), tmp_path)
    png = os.path.join(outcome.folder, "plots", "value.png")
    os.remove(png)
    capsys.readouterr()
    assert main(["report", outcome.folder]) == 0
    captured = capsys.readouterr()
    assert "PASS  second" in captured.out and "no column nope" in captured.err
    assert os.path.getsize(png) > 1000
    assert main(["report", str(tmp_path / "out" / "demo")]) == 0          # the newest run of the experiment
    failing = files(second_ok=False, name="demo_fail.py")
    assert main(["report", outcome.folder, "--experiment", failing]) == 1
    assert "FAIL  second" in capsys.readouterr().out
    assert main(["report", str(tmp_path)]) == 2


def test_graph_hash_ignores_insertion_order():
    a = nx.Graph()
    a.add_node("h1", kind="host")
    a.add_node("s1", kind="hub")
    a.add_edge("h1", "s1", ip={"h1": "10.0.0.1/24"})
    b = nx.Graph()
    b.add_node("s1", kind="hub")
    b.add_node("h1", kind="host")
    b.add_edge("s1", "h1", ip={"h1": "10.0.0.1/24"})
    assert provenance.graph_hash(a) == provenance.graph_hash(b)
    b.nodes["s1"]["kind"] = "bridge"
    assert provenance.graph_hash(a) != provenance.graph_hash(b)


def test_plot_png_with_error_bars(tmp_path):
    from testbed.lab import plot
    rows = [{"point": p, "repetition": r, "kind": k, "x": x, "y": x * (1 + r)}
            for p, (k, x) in enumerate([("hub", 1), ("hub", 2), ("bridge", 1)]) for r in range(3)]
    results = Results(rows, ["kind", "x"])
    xs, data = plot.series(Plot("p", y="y", x="x", group="kind"), results)
    assert xs == [1, 2]
    means, stds = data["hub"]
    assert means == [2.0, 4.0] and stds[0] == pytest.approx(1.0)
    written = plot.render([Plot("bars", y="y", x="kind"), Plot("lines", y="y", x="x", group="kind", kind="line")],
                          results, str(tmp_path / "plots"), io.StringIO())
    assert [os.path.basename(p) for p in written] == ["bars.png", "lines.png"]
    for path in written:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_summary_table_shows_mean_and_spread():
    rows = [{"point": 0, "repetition": r, "kind": "hub", "v": float(r)} for r in range(3)]
    text = summary_table(Results(rows, ["kind"]))
    assert "1 ± 1" in text and "hub" in text


QUICK_EXPERIMENT = EXPERIMENT.replace('PARAMS = {{"n": 2, "rate": 10}}',
                                      'PARAMS = {{"n": 2, "rate": 10, "quick": False}}\n'
                                      'QUICK = {{"rate": 1, "size": [1]}}\nTOLERANCES = {{"value": 0.1, "noise": ("abs", 1)}}')


def test_quick_applies_its_values_unless_given(files, tmp_path):
    path = files(body=QUICK_EXPERIMENT.format(topology=SINGLE, second_ok=True, second_check="second"))
    exp = experiment.load_experiment(path)
    assert exp.quick == {"rate": 1, "size": [1]} and exp.tolerances == {"value": 0.1, "noise": ("abs", 1)}
    assert experiment.apply_overrides(exp, {}) == ({"n": 2, "rate": 10, "quick": False},
                                                  {"kind": ["hub", "bridge"], "size": [1, 2]})
    params, grid = experiment.apply_overrides(exp, {"quick": "true"})
    assert params == {"n": 2, "rate": 1, "quick": True} and grid == {"kind": ["hub", "bridge"], "size": [1]}
    params, grid = experiment.apply_overrides(exp, {"quick": "true", "size": "2", "rate": "5"})
    assert params["rate"] == 5 and grid["size"] == [2]
    outcome, _, _ = run(path, tmp_path, overrides={"quick": "true"})
    assert len(outcome.results) == 2 * 1 * 2 * 2                  # kinds x sizes x repetitions x measurements
    meta = json.load(open(os.path.join(outcome.folder, "meta.json")))
    assert meta["params"]["grid"]["size"] == [1] and meta["params"]["overrides"] == {"quick": "true"}
    assert meta["topology"]["sha256"] == provenance.file_sha256(SINGLE)
    assert open(os.path.join(outcome.folder, "topology.py")).read() == open(SINGLE).read()


@pytest.mark.parametrize("extra, problem", [
    ('QUICK = {{"rate": 1}}', 'QUICK needs "quick": False in PARAMS'),
    ('PARAMS["quick"] = False\nQUICK = {{"bogus": 1}}', "QUICK sets bogus, which are neither"),
    ('PARAMS["quick"] = False\nQUICK = {{"size": 3}}', "QUICK['size'] must be a non-empty list"),
    ('TOLERANCES = {{"value": "loose"}}', "TOLERANCES['value'] = 'loose'"),
    ('TOLERANCES = {{"value": ("rel", 2)}}', "TOLERANCES['value'] = ('rel', 2)"),
])
def test_quick_and_tolerances_are_checked(files, extra, problem):
    body = EXPERIMENT.replace("REPEAT = 2", "REPEAT = 2\n" + extra)
    with pytest.raises(UsageError, match=problem.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        experiment.load_experiment(files(body=body.format(topology=SINGLE, second_ok=True, second_check="second")))
