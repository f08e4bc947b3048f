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
from testbed.lab.results import Results
from testbed.lab.tables import summary_table

SINGLE = os.path.join(os.path.dirname(__file__), "..", "..", "topologies", "single.py")   # h1..hn on s1

EXPERIMENT = '''
"""A made-up experiment over a fake network."""
import random
from testbed.lab.results import Plot

TOPOLOGY = {topology!r}
PARAMS = {{"n": 2, "rate": 10}}
GRID = {{"kind": ["hub", "bridge"], "size": [1, 2]}}
RUN_PARAMS = {{"rate": "a made-up rate", "size": "a made-up size"}}
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
    with pytest.raises(UsageError, match="did you mean 'kind'"):
        experiment.apply_overrides(exp, {"kinds": "hub"})
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


def test_interleave_runs_round_by_round_rebuilding_networks(files, tmp_path):
    body = EXPERIMENT.format(topology=SINGLE, second_ok=True, second_check="second").replace(
        "REPEAT = 2", "REPEAT = 2\nINTERLEAVE = True")
    outcome, _, _ = run(files(body=body), tmp_path)
    # round 1: hub 1, hub 2, bridge 1, bridge 2; round 2 again: a network per change of kind
    assert [n.params["kind"] for n in FakeNetwork.built] == ["hub", "bridge", "hub", "bridge"]
    assert all(n.started and n.stopped for n in FakeNetwork.built)
    calls = [(c["kind"], c["size"], rep) for n in FakeNetwork.built for c, rep in n.calls]
    assert calls == [("hub", 1, 0), ("hub", 2, 0), ("bridge", 1, 0), ("bridge", 2, 0),
                     ("hub", 1, 1), ("hub", 2, 1), ("bridge", 1, 1), ("bridge", 2, 1)]
    with open(os.path.join(outcome.folder, "meta.json")) as f:
        meta = json.load(f)
    assert meta["params"]["interleave"] is True
    # every run keeps the seed of its point and repetition, whatever the order
    seeds = {(r["point"], r["repetition"]): r["seed"] for r in meta["seeds"]["runs"]}
    assert seeds == {(p, r): experiment.run_seed(7, p, r) for p in range(4) for r in range(2)}
    assert experiment.schedule(2, 2) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert experiment.schedule(2, 2, interleave=True) == [(0, 0), (1, 0), (0, 1), (1, 1)]


def test_interleave_must_be_a_bool(files):
    body = EXPERIMENT.format(topology=SINGLE, second_ok=True, second_check="second").replace(
        "REPEAT = 2", "REPEAT = 2\nINTERLEAVE = 'yes'")
    with pytest.raises(UsageError, match="INTERLEAVE must be True or False"):
        experiment.load_experiment(files(body=body))


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
    assert sorted(os.listdir(folder)) == ["experiment.py", "meta.json", "plots", "report.html", "results.csv",
                                          "results.json", "topology.py"]
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


def test_provenance_records_topology_file_machine_and_host_settings(files, tmp_path):
    import hashlib
    outcome, _, _ = run(files(), tmp_path)
    meta = json.load(open(os.path.join(outcome.folder, "meta.json")))
    topology = meta["topology"]
    copy = os.path.join(outcome.folder, topology["copy"])
    assert open(copy).read() == open(SINGLE).read()
    assert topology["sha256"] == hashlib.sha256(open(SINGLE, "rb").read()).hexdigest()
    host = meta["host"]
    assert host["working_folder"] == os.getcwd()
    assert host["cpu_model"] and host["distribution"]
    assert len(host["load_average_start"]) == 3 and len(host["load_average_end"]) == 3
    sysctls = host["sysctls"]
    assert sysctls["net.ipv4.neigh.default.gc_thresh3"] == open("/proc/sys/net/ipv4/neigh/default/gc_thresh3").read().strip()
    assert "net.core.netdev_max_backlog" in sysctls and "net.ipv4.tcp_congestion_control" in sysctls
    assert {"ethtool", "nft"} <= set(meta["tools"])


def test_tools_used_follow_the_plan():
    from testbed.planning import pipeline as planner
    from testbed.topology import load as loader
    plan = lambda path, **p: planner.plan(loader.load(path, {k: str(v) for k, v in p.items()})[0], path, {})  # noqa: E731
    assert provenance.tools_used(plan("topologies/single.py")) == []
    assert provenance.tools_used(plan("topologies/single.py", backend="ovs")) == ["openvswitch"]
    assert provenance.tools_used(plan("topologies/dhcp.py")) == ["dnsmasq"]


def test_offloads_are_parsed_from_ethtool_and_read_per_link_end():
    from types import SimpleNamespace
    text = ("Features for h1-eth0:\nrx-checksumming: on\ntx-checksumming: off\n"
            "\ttx-checksum-ipv4: off [fixed]\nscatter-gather: on\ntcp-segmentation-offload: off\n"
            "generic-segmentation-offload: on\ngeneric-receive-offload: on\nlarge-receive-offload: off [fixed]\n")
    parsed = provenance.parse_offloads(text)
    assert parsed == {"rx-checksumming": "on", "tx-checksumming": "off", "scatter-gather": "on",
                      "tcp-segmentation-offload": "off", "generic-segmentation-offload": "on",
                      "generic-receive-offload": "on"}
    calls = []

    class Node:
        def __init__(self, name):
            self.name = name

        def run(self, argv, timeout):
            calls.append((self.name, argv))
            return SimpleNamespace(returncode=0, stdout=text)
    intf = lambda name, peer: SimpleNamespace(name=name, peer=peer)        # noqa: E731
    plan = SimpleNamespace(nodes=[SimpleNamespace(name="h1", interfaces=[intf("h1-eth0", ("h2", "h2-eth0")),
                                                                         intf("br0", None)]),
                                  SimpleNamespace(name="h2", interfaces=[intf("h2-eth0", ("h1", "h1-eth0"))])])
    nodes = {"h1": Node("h1"), "h2": Node("h2")}
    net = type("Net", (), {"plan": plan, "__getitem__": lambda self, n: nodes[n]})()
    found = provenance.link_offloads(net)
    assert set(found) == {"h1:h1-eth0", "h2:h2-eth0"} and found["h1:h1-eth0"] == parsed
    assert calls == [("h1", ["ethtool", "-k", "h1-eth0"]), ("h2", ["ethtool", "-k", "h2-eth0"])]
    assert provenance.link_offloads(net, limit=1)["(not read)"] == "1 more link ends"


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


def test_run_raising_prints_the_traceback_keeps_partial_results_and_exits_5(files, tmp_path, monkeypatch,
                                                                            capsys):
    body = EXPERIMENT.format(topology=SINGLE, second_ok=True, second_check="second")
    body = body.replace("    net.calls.append", "    if params.point == 1: 1 / 0\n    net.calls.append")
    path = files(body=body)
    with pytest.raises(experiment.ExperimentFailed, match="ZeroDivisionError") as raised:
        run(path, tmp_path)
    assert raised.value.exit_code == experiment.EXIT_RUN_ERROR == 5
    assert f"{path}:14" in str(raised.value) and "4 measurement(s)" in str(raised.value)
    assert all(n.stopped for n in FakeNetwork.built)
    folder = next(os.scandir(tmp_path / "out" / "demo")).path
    data = json.load(open(os.path.join(folder, "results.json")))
    assert len(data["rows"]) == 4                           # point 0, both repetitions
    error = json.load(open(os.path.join(folder, "meta.json")))["error"]
    assert error["type"] == "ZeroDivisionError" and error["file"] == path and error["line"] == 14
    assert error["point"] == 1 and 'File "' + path + '", line 14, in run' in error["traceback"]
    assert "_run_points" not in error["traceback"]           # the runner's own frames are left out
    # the command line: traceback on stderr with file and line, a distinct exit code, results kept
    monkeypatch.setattr(experiment, "default_network", FakeNetwork)
    capsys.readouterr()
    assert main(["experiment", path, "--out", str(tmp_path / "cli")]) == 5
    captured = capsys.readouterr()
    assert "Traceback (most recent call last)" in captured.err and f'"{path}", line 14, in run' in captured.err
    assert "ZeroDivisionError: division by zero" in captured.err
    assert "claims not checked" in captured.out and "PASS" not in captured.out
    kept = next(os.scandir(tmp_path / "cli" / "demo")).path
    assert len(json.load(open(os.path.join(kept, "results.json")))["rows"]) == 4


def test_failure_before_any_measurement_keeps_the_record(files, tmp_path):
    body = EXPERIMENT.format(topology=SINGLE, second_ok=True, second_check="second")
    body = body.replace("    net.calls.append", "    raise RuntimeError('early')\n    net.calls.append")
    with pytest.raises(experiment.ExperimentFailed, match="nothing was measured"):
        run(files(body=body), tmp_path)
    folder, = os.scandir(tmp_path / "out" / "demo")
    assert json.load(open(os.path.join(folder.path, "meta.json")))["error"]["message"] == "early"
    assert json.load(open(os.path.join(folder.path, "results.json")))["rows"] == []
    assert all(n.stopped for n in FakeNetwork.built)


def test_a_check_that_measured_nothing_is_skip_not_pass(files, tmp_path, monkeypatch, capsys):
    from testbed import skip
    results = Results([{"point": 0, "x": 1}])

    def nothing(res):
        """A claim about points this machine cannot measure."""
        return skip("not measured here")

    def holds(res):
        return True, "fine"
    skipped, passed = experiment.run_checks([nothing, holds], results)
    assert skipped.status == "skip" and not skipped.ok and skipped.line() == "SKIP  nothing: not measured here"
    assert passed.status == "pass" and passed.ok
    assert experiment.Outcome("f", results, [skipped, passed]).exit_code == 0
    assert experiment.Outcome("f", results, [skipped]).exit_code == experiment.EXIT_NOTHING_CHECKED == 4
    # end to end: every claim skipped -> exit 4, and the summary says it is not a pass
    body = EXPERIMENT.format(topology=SINGLE, second_ok=None, second_check="second")
    body = body.replace("return all(v > 0 for v in results.values(\"value\")), \"values checked\"",
                        "return None, \"no values measured\"")
    monkeypatch.setattr(experiment, "default_network", FakeNetwork)
    assert main(["experiment", files(body=body), "-r", "1", "--out", str(tmp_path / "cli")]) == 4
    out = capsys.readouterr().out
    assert "SKIP  values_positive: no values measured" in out and "SKIP  second" in out and "PASS" not in out
    assert "0 passed, 0 failed, 2 skipped: nothing was checked" in out and "not a pass" in out
    folder = next(os.scandir(tmp_path / "cli" / "demo")).path
    checks = json.load(open(os.path.join(folder, "results.json")))["checks"]
    assert [(c["status"], c["ok"]) for c in checks] == [("skip", None), ("skip", None)]


def test_grid_and_fixed_keys_must_be_used_by_the_topology_or_declared(files, tmp_path, monkeypatch, capsys):
    body = EXPERIMENT.format(topology=SINGLE, second_ok=True, second_check="second")
    typo = body.replace('GRID = {"kind": ["hub", "bridge"], "size": [1, 2]}',
                        'GRID = {"knd": ["hub", "bridge"], "size": [1, 2]}')
    with pytest.raises(UsageError) as raised:
        experiment.load_experiment(files(body=typo, name="typo.py"))
    message = str(raised.value)
    assert "GRID key 'knd'" in message and "did you mean 'kind'?" in message and "RUN_PARAMS" in message
    undeclared = body.replace('RUN_PARAMS = {"rate": "a made-up rate", "size": "a made-up size"}',
                              'RUN_PARAMS = {"size": "a made-up size"}')
    with pytest.raises(UsageError, match="PARAMS key 'rate'"):
        experiment.load_experiment(files(body=undeclared, name="undeclared.py"))
    monkeypatch.setattr(experiment, "default_network", FakeNetwork)
    assert main(["experiment", files(body=typo, name="typo.py"), "--out", str(tmp_path / "cli")]) == 2
    assert FakeNetwork.built == [] and not os.path.exists(tmp_path / "cli")


def test_did_you_mean_knows_abbreviations():
    assert experiment.did_you_mean("bandwidth", ["bw", "loss", "delay"]) == "bw"
    assert experiment.did_you_mean("dealy", ["bw", "loss", "delay"]) == "delay"
    assert experiment.did_you_mean("colour", ["bw", "loss"]) is None
    exp_keys = ["n", "kind", "backend"]
    assert experiment.did_you_mean("knid", exp_keys) == "kind"


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


def test_summary_table_shows_mean_and_spread():
    rows = [{"point": 0, "repetition": r, "kind": "hub", "v": float(r)} for r in range(3)]
    text = summary_table(Results(rows, ["kind"]))
    assert "1 ± 1" in text and "hub" in text and "mean ± 1 s.d." in text


def test_table_one_format_per_column_no_plus_minus_zero_no_repeated_columns():
    from testbed.lab import tables
    rows = []
    for point, (bw, bytes_) in enumerate([(1, 5_146_000), (10, 14), (100, 3_452)]):
        for rep in range(2):
            rows.append({"point": point, "repetition": rep, "bw": bw, "bytes": bytes_ + (2 * rep if point else 0),
                         "mbps": bw * 0.9564 + 0.001 * rep, "bound": 5.0, "configured": bw,
                         "same": bytes_ + (2 * rep if point else 0)})
    table = tables.build(Results(rows, ["bw"]), ["bytes", "mbps", "bound", "configured", "bytes", "same"])
    # "configured" only echoes the parameter bw, "bytes" is asked twice; "same" is measured: kept
    assert table.header == ["point", "bw", "runs", "bytes", "mbps", "bound", "same"]
    bytes_cells = [r[3] for r in table.rows]
    assert bytes_cells == ["5,146,000", "15 ± 1", "3,453 ± 1"]                     # constants: no "± 0"
    mbps = [r[4] for r in table.rows]
    decimals = {cell.split(" ± ")[0].split(".")[1].__len__() for cell in mbps}
    assert len(decimals) == 1, mbps                                                # one format per column
    assert all("±" in cell for cell in mbps)
    assert [r[5] for r in table.rows] == ["5", "5", "5"]
    assert table.note.count("±") == 1 and "s.d." in table.note                      # defined once
    assert sum(cell.count("±") for row in table.rows for cell in row) == 7


QUICK_EXPERIMENT = EXPERIMENT.replace('PARAMS = {{"n": 2, "rate": 10}}',
                                      'PARAMS = {{"n": 2, "rate": 10, "quick": False}}\n'
                                      'QUICK = {{"rate": 1, "size": [1]}}\nTOLERANCES = {{"value": 0.1, "noise": ("abs", 1)}}'
                                      ).replace('"size": "a made-up size"}}', '"size": "a made-up size", "quick": "fast"}}')


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
    assert meta["topology"]["sha256"] == provenance.file_record(SINGLE)["sha256"]
    assert open(os.path.join(outcome.folder, "topology.py")).read() == open(SINGLE).read()


@pytest.mark.parametrize("extra, problem", [
    ('QUICK = {{"rate": 1}}', 'QUICK needs "quick": False in PARAMS'),
    ('PARAMS["quick"] = False\nRUN_PARAMS["quick"] = ""\nQUICK = {{"bogus": 1}}', "QUICK sets bogus, which are neither"),
    ('PARAMS["quick"] = False\nRUN_PARAMS["quick"] = ""\nQUICK = {{"size": 3}}', "QUICK['size'] must be a non-empty list"),
    ('TOLERANCES = {{"value": "loose"}}', "TOLERANCES['value'] = 'loose'"),
    ('TOLERANCES = {{"value": ("rel", 2)}}', "TOLERANCES['value'] = ('rel', 2)"),
])
def test_quick_and_tolerances_are_checked(files, extra, problem):
    body = EXPERIMENT.replace("REPEAT = 2", "REPEAT = 2\n" + extra)
    with pytest.raises(UsageError, match=problem.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        experiment.load_experiment(files(body=body.format(topology=SINGLE, second_ok=True, second_check="second")))


def test_a_refusal_from_run_keeps_its_exit_code_and_reason(files, tmp_path):
    """run() raising a TestbedError (a kernel feature missing) is a refusal (exit 3), not a crash (exit 5)."""
    from testbed.errors import EnvironmentProblem
    body = EXPERIMENT.replace("def run(net, params):\n",
                              "def run(net, params):\n    from testbed.errors import EnvironmentProblem\n"
                              "    raise EnvironmentProblem('no widget here: use --vm')\n")
    path = files(body=body.format(topology=SINGLE, second_ok=True, second_check="second"))
    with pytest.raises(EnvironmentProblem, match="no widget here"):
        run(path, tmp_path)
    assert not os.listdir(os.path.join(str(tmp_path / "out"), "demo"))      # nothing measured, no folder kept
