"""Loading topology files: parameters converted by the default's type, unknown ones refused."""
from __future__ import annotations

import pytest

from testbed import TopologyError, UsageError, load
from testbed.topology.load import convert, parse_param_args


@pytest.mark.parametrize("text, value", [
    ("true", True), ("True", True), ("1", True), ("yes", True), ("on", True),
    ("false", False), ("FALSE", False), ("0", False), ("no", False), ("off", False),
])
def test_bool_parameters(text, value):
    assert convert(text, True, "bridge") is value


def test_bad_bool_parameter():
    with pytest.raises(UsageError) as info:
        convert("maybe", True, "bridge")
    assert str(info.value) == "--param bridge='maybe': expected true/false/1/0 (default is True)"
    assert info.value.exit_code == 2


def test_int_and_float_parameters():
    assert convert("200", 3, "n") == 200
    assert convert("2.5", 0.0, "bw") == 2.5
    assert convert("hub", "switch", "kind") == "hub"


def test_bad_int_parameter():
    with pytest.raises(UsageError, match=r"^--param n='x': invalid literal for int\(\) with base 10: 'x' "
                                         r"\(default is 3\)$"):
        convert("x", 3, "n")


def test_parse_param_args():
    assert parse_param_args(["n=3", "kind=hub", "x=a=b"]) == {"n": "3", "kind": "hub", "x": "a=b"}
    with pytest.raises(UsageError, match="expected KEY=VALUE"):
        parse_param_args(["n"])
    with pytest.raises(UsageError, match="expected KEY=VALUE"):
        parse_param_args(["=3"])


def test_load_converts_by_default_type():
    graph, params = load("topologies/single.py", {"n": "5", "kind": "hub"})
    assert params == {"n": 5, "kind": "hub", "backend": ""}
    assert sorted(graph.nodes) == ["h1", "h2", "h3", "h4", "h5", "s1"]
    assert graph.nodes["s1"]["kind"] == "hub"


def test_load_fills_in_defaults():
    _, params = load("topologies/three_hosts.py", {})
    assert params == {"bridge": True}
    _, params = load("topologies/three_hosts.py", {"bridge": "0"})
    assert params == {"bridge": False}


def test_unknown_parameter_lists_the_known_ones():
    with pytest.raises(TopologyError) as info:
        load("topologies/single.py", {"m": "3", "size": "4"})
    assert [str(p) for p in info.value.problems] == [
        "--param m: unknown parameter for topologies/single.py (known: n, kind, backend)",
        "--param size: unknown parameter for topologies/single.py (known: n, kind, backend)",
    ]


def test_topology_function_refusing_its_parameters_is_a_usage_error():
    with pytest.raises(UsageError, match=r"topologies/single.py: topology\(n=0\) failed: n must be at least 1"):
        load("topologies/single.py", {"n": "0"})


def test_missing_file():
    with pytest.raises(UsageError, match="topology file 'nope.py' does not exist"):
        load("nope.py")


def test_file_without_topology_function(tmp_path):
    path = tmp_path / "empty.py"
    path.write_text("X = 1\n")
    with pytest.raises(UsageError, match="no topology\\(\\) function"):
        load(str(path))


def test_file_that_fails_to_import(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import nonexistent_module_xyz\n")
    with pytest.raises(UsageError, match="importing it failed: ModuleNotFoundError"):
        load(str(path))


def test_required_parameter(tmp_path):
    path = tmp_path / "req.py"
    path.write_text("import networkx as nx\ndef topology(n):\n    return nx.Graph()\n")
    with pytest.raises(TopologyError, match="--param n: required parameter not given"):
        load(str(path))
