"""CLI exit codes: 0 ok, 2 bad input (with nothing built), 3 environment; usage errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from testbed.cli import main as cli


@pytest.fixture
def no_build(monkeypatch):
    """Fail the test if anything tries to build a network (or create a run)."""
    def refuse(*args, **kwargs):
        raise AssertionError("a network was started for invalid input")
    monkeypatch.setattr("testbed.run.network.Network.start", refuse)
    monkeypatch.setattr("testbed.kernel.journal.Journal.create", refuse)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "testbed.cli.main", *args], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("args, text", [
    (["run", "topologies/single.py", "--param", "n=x"], "--param n='x': invalid literal for int()"),
    (["run", "topologies/three_hosts.py", "--param", "bridge=maybe"], "expected true/false/1/0"),
    (["run", "topologies/single.py", "--param", "m=3"], "--param m: unknown parameter"),
    (["run", "topologies/single.py", "--param", "n"], "expected KEY=VALUE"),
    (["run", "topologies/single.py", "--param", "n=0"], "n must be at least 1"),
    (["run", "topologies/single.py", "--param", "kind=hubb"], "unknown kind 'hubb' (did you mean 'hub'?)"),
    (["run", "topologies/ring.py", "--param", "stp=false"], "L2 loop through s1, s2, s3"),
    (["run", "nope.py"], "topology file 'nope.py' does not exist"),
    (["run", "topologies/single.py", "--test", "bogus"], "--test 'bogus': unknown test"),
    (["plan", "topologies/ring.py", "--param", "stp=0"], "no STP on s1, s2, s3"),
    (["run", "topologies/pair.py", "--test", "pingall", "--count", "0"], "--count 0: give at least 1"),
])
def test_bad_input_exits_2_without_building(args, text, no_build, capsys):
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("testbed: ") and text in err


def test_invalid_topology_reports_every_problem(tmp_path, no_build, capsys):
    path = tmp_path / "bad.py"
    path.write_text(
        "import networkx as nx\n"
        "def topology():\n"
        "    g = nx.Graph()\n"
        "    g.add_node('h1', kind='hots')\n"
        "    g.add_node('h2', kind='host', ip='10.0.0.0/24')\n"
        "    g.add_edge('h2', 'h3')\n"
        "    return g\n")
    assert cli.main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"testbed: {path}: 3 problem(s):" in err
    assert "unknown kind 'hots'" in err and "network address" in err and "node 'h3'" in err


@pytest.mark.parametrize("args", [[], ["bogus"], ["run"], ["plan"], ["run", "x.py", "--count", "z"],
                                  ["clean"], ["clean", "x", "--all"]])
def test_usage_errors_exit_2(args):
    done = run_cli(*args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip()


def test_clean_unknown_or_malformed_run_id_exits_2(capsys):
    assert cli.main(["clean", "tbnosuchrun0"]) == 2
    assert cli.main(["clean", "../netns"]) == 2
    assert "no run '../netns'" in capsys.readouterr().err


def test_help_and_version_exit_0():
    assert run_cli("--help").returncode == 0
    done = run_cli("--version")
    assert done.returncode == 0 and done.stdout.startswith("testbed ")


def test_plan_prints_json_and_exits_0():
    done = run_cli("plan", "topologies/pair.py", "--param", "bw=10")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [n["name"] for n in data["nodes"]] == ["h1", "h2"]
    assert data["links"][0]["settings"] == [["bw", 10.0]]


def test_not_root_exits_3_with_a_way_out(monkeypatch, capsys):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setattr("testbed.kernel.journal.Journal.create",
                        lambda *a, **k: (_ for _ in ()).throw(AssertionError("journal made before root check")))
    assert cli.main(["run", "topologies/pair.py", "--test", "none"]) == 3
    assert "needs root" in capsys.readouterr().err


def test_missing_tool_names_the_package(monkeypatch):
    from testbed import tools
    from testbed.errors import EnvironmentProblem
    monkeypatch.setattr(tools.shutil, "which", lambda name, path=None: None)
    with pytest.raises(EnvironmentProblem, match=r"missing tool\(s\) iperf3, ping: apt-get install iperf3 iputils-ping"):
        tools.require_tools("iperf3", "ping")
    assert EnvironmentProblem.exit_code == 3


def test_plan_prints_what_this_kernel_cannot_build_with_a_warning(capsys, monkeypatch):
    from testbed.kernel import caps
    monkeypatch.setattr(caps, "features", lambda: frozenset({"veth", "bridge", "htb", "nft-netdev"}))
    assert cli.main(["plan", "topologies/pair.py", "--param", "delay=10ms"]) == 0
    captured = capsys.readouterr()
    assert '"kind": "netem"' in captured.out                       # planned for a kernel with netem
    assert "warning: this kernel cannot build it" in captured.err and "no netem" in captured.err
    monkeypatch.setattr(caps, "features", lambda: None)
    assert cli.main(["plan", "topologies/pair.py", "--param", "delay=10ms"]) == 0
    assert "warning" not in capsys.readouterr().err
