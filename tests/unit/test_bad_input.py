"""Bad input is a clear error (exit 2, naming the node or link and the fix), never a traceback,
and never reaches the kernel (no root is needed to see any of these)."""
from __future__ import annotations

import io

import networkx as nx
import pytest

from helpers import hosts_on, messages, pair
from testbed import TopologyError, UsageError, load, plan, validate
from testbed.cli.main import main
from testbed.kernel import nft
from testbed.run.pingall import PingallResult


def _file(tmp_path, body: str) -> str:
    path = tmp_path / "topo.py"
    path.write_text(body)
    return str(path)


@pytest.mark.parametrize("body, words", [
    ("def topology():\n    return {}['x']\n", "KeyError: 'x'"),
    ("def topology():\n    return 1 / 0\n", "ZeroDivisionError"),
    ("def topology():\n    return topology()\n", "RecursionError"),
    ("def topology():\n    open('/nonexistent/x')\n", "FileNotFoundError"),
])
def test_an_exception_in_topology_is_a_usage_error_naming_file_and_line(tmp_path, body, words):
    path = _file(tmp_path, body)
    with pytest.raises(UsageError) as info:
        load(path)
    assert words in str(info.value) and f"{path}:" in str(info.value)
    assert main(["plan", path]) == 2


@pytest.mark.parametrize("returned, name", [("None", "NoneType"), ("[]", "list"), ("{}", "dict"),
                                            ("'g'", "str"), ("nx.Graph", "Graph")])
def test_topology_returning_something_else_than_a_graph(tmp_path, returned, name):
    path = _file(tmp_path, f"import networkx as nx\ndef topology():\n    return {returned}\n")
    with pytest.raises(UsageError, match=f"returned {name}, not a networkx graph"):
        load(path)
    assert main(["draw", path, "-o", str(tmp_path / "x.png")]) == 2


def test_values_that_used_to_reach_the_planner_or_the_kernel():
    g = pair()
    g.nodes["h1"]["kind"] = ["host"]
    assert "unknown kind ['host']" in messages(g)[0]
    assert "default_route 10 is neither an IP address nor a router's name" in messages(pair(default_route=10))[0]
    for bad in (0, True, ["r1"]):
        assert any("default_route" in m for m in messages(pair(default_route=bad))), bad
    assert "expected a finite number, got nan" in messages(hosts_on(ageing=float("nan")))[0]
    assert "expected a finite number, got inf" in messages(hosts_on(stp=True, forward_delay=float("inf")))[0]


@pytest.mark.parametrize("name", ["all", "default", "eth0\n", "lo"])
def test_interface_names_the_kernel_refuses(name):
    g = pair()
    g.edges["h1", "h2"]["intf"] = {"h1": name}
    assert messages(g) and messages(g)[0].startswith("node 'h1': interface name")


@pytest.mark.parametrize("value", [{"h1": 5}, None, ["eth0"]])
def test_a_wrong_typed_intf_is_reported(value):
    g = pair()
    g.edges["h1", "h2"]["intf"] = value
    assert any("intf" in m for m in messages(g)), value


@pytest.mark.parametrize("address, words", [("224.0.0.1/24", "multicast"), ("10.0.0.1/0", "prefix length 0"),
                                            ("0.0.0.1/8", "'this network'"), ("127.0.0.2/8", "loopback")])
def test_addresses_no_interface_can_own(address, words):
    assert words in messages(pair(ip=address))[0]


@pytest.mark.parametrize("sysctls, words", [
    ({"net.ipv4.ip_forward": [1]}, "is not a number, a boolean or one line of text"),
    ({"net.": 1}, "not a per-namespace sysctl name"),
    ({"net//x": 1}, "not a per-namespace sysctl name"),
    ({"net.core.somaxconn": 10}, "net.core.* settings are (partly) shared by the whole machine"),
    ({"kernel.pid_max": 10}, "not a per-namespace sysctl name"),
    ({"net.ipv4.ip_forward": "1\n2"}, "one line of text"),
])
def test_sysctls_are_per_namespace_scalars(sysctls, words):
    found = messages(pair(sysctls=sysctls))
    assert any(words in m and "node 'h1'" in m for m in found), found


def test_an_explicit_default_route_and_default_route_are_two_default_routes():
    g = pair(routes=[{"dst": "0.0.0.0/0", "via": "10.0.0.2"}])
    assert [(r.dst, r.via) for r in plan(g).node("h1").routes] == [("0.0.0.0/0", "10.0.0.2")]   # no second one
    g = pair(routes=[{"dst": "0.0.0.0/0", "via": "10.0.0.2"}], default_route="10.0.0.2")
    assert any("two default routes" in m for m in messages(g))
    g = pair(routes=[{"dst": "10.9.0.0/24", "via": "10.0.0.2"}, {"dst": "10.9.0.0/24", "via": "10.0.0.3"}])
    assert any("a second route to 10.9.0.0/24" in m for m in messages(g))


def test_a_route_via_the_nodes_own_address_is_refused():
    # a router whose default_route names itself: the kernel takes it as "everything is on this
    # link", answers then come through ARP replies for addresses of other links, and the
    # predicted reachability is wrong
    g = nx.Graph()
    g.add_node("r2", kind="router", default_route="r2")
    g.add_node("h1", kind="host")
    g.add_node("h4", kind="host")
    g.add_edge("h1", "r2")
    g.add_edge("r2", "h4")
    found = messages(g)
    assert any("node 'r2' route default via" in m and "the node's own address (default_route 'r2' names the "
               "node itself)" in m for m in found), found
    g.nodes["r2"]["default_route"] = "10.0.0.1"                      # its own first address, given as an IP
    assert any("the gateway is the node's own address:" in m for m in messages(g)), messages(g)
    g = pair(routes=[{"dst": "10.9.0.0/24", "via": "10.0.0.1"}])      # h1's own address
    assert any("node 'h1' route 10.9.0.0/24 via 10.0.0.1" in m and "own address" in m for m in messages(g))


def _dhcp(**server) -> nx.Graph:
    g = nx.Graph()
    g.add_node("srv", kind="host", ip="10.0.0.1/24", dhcp_server=server)
    g.add_node("h1", kind="host", ip="dhcp")
    g.add_node("s1", kind="switch")
    g.add_edge("srv", "s1")
    g.add_edge("h1", "s1")
    return g


@pytest.mark.parametrize("server, words", [
    ({"router": 5}, "dhcp_server router 5 is neither an IPv4 address nor a router's name"),
    ({"router": "nosuch"}, "dhcp_server router 'nosuch' is not a router or NAT of this topology"),
    ({"lease": 10**12}, "must be an integer of seconds"),
    ({"range": "10.0.0.1,10.0.0.1"}, "has no address left to lease"),
])
def test_dhcp_settings_refused_before_anything_runs(server, words):
    found = messages(_dhcp(**server))
    assert any(words in m for m in found), found


def test_loss_of_100_percent_plans_a_drop_of_every_frame_and_predicts_it():
    from testbed.planning.reach import Reachability
    assert "numgen" not in nft.ingress_drop_rules("h2-eth0", 100.0) and "counter drop" in nft.ingress_drop_rules(
        "h2-eth0", 100.0)
    g = pair()
    g.edges["h1", "h2"]["loss"] = {"h1": 100}
    p = plan(g, features=frozenset({"htb", "nft-netdev"}))
    assert Reachability(p).expected("h1", "h2") is False


def test_open_vswitch_settings_checked():
    g = hosts_on(backend="ovs", controller="tcp:10.0.0.9:99999")
    assert any("port 99999 is not a TCP port" in m for m in messages(g))
    g = hosts_on(kind="nat")
    assert validate(g)


def test_falsy_forwards_are_not_silently_accepted():
    g = nx.Graph()
    g.add_node("nat", kind="nat", outside="out", forwards=0)
    g.add_node("out", kind="host")
    g.add_node("h1", kind="host")
    g.add_edge("nat", "h1")
    g.add_edge("nat", "out")
    assert any("'forwards' must be a list" in m for m in messages(g))


@pytest.mark.parametrize("topo", ["tree,depth=-1", "linear,0", "single,0", "tree,2,fanout=0"])
def test_mininet_sizes_below_one_are_refused(topo):
    assert main(["plan", "--topo", topo]) == 2


def test_an_empty_graph_is_refused():
    assert messages(nx.Graph()) == ["topology: has no nodes (add hosts and switches to the graph)"]
    with pytest.raises(TopologyError):
        plan(nx.Graph())


def test_a_pingall_of_no_hosts_is_an_empty_result():
    result = PingallResult([], [])
    assert result.ok and "0 pairs" in result.matrix()


@pytest.mark.parametrize("args", [["--test", "iperf", "--time", "nan"], ["--test", "iperf", "--time", "inf"],
                                  ["--test", "ping", "--count", "1000000000"], ["--test", "iperf", "--time", "0"]])
def test_test_options_out_of_range_exit_2_before_building(args):
    assert main(["run", "topologies/pair.py", *args]) == 2


class _Net:
    """Just enough of a running network for the shell's argument checks."""

    def __init__(self):
        from testbed import load as load_topology
        graph, params = load_topology("topologies/single.py", {"n": "2"})
        self.plan = plan(graph, "single", params)
        self.nodes = {n.name: n for n in self.plan.nodes}
        self.hosts = [self.nodes["h1"], self.nodes["h2"]]

    def __getitem__(self, name):
        if name not in self.nodes:
            raise UsageError(f"no node {name!r}")
        return self.nodes[name]

    def pingall(self, **kwargs):
        raise AssertionError("must not run")


@pytest.mark.parametrize("line, words", [
    ("pingall inf", "must be a number of seconds"),
    ("pingall -1", "is outside"),
    ("iperf h1 h2 nan", "must be a number of seconds"),
    ("iperfudp abc h1 h2", "write bits per second"),
    ("iperfudp -5M h1 h2", "write bits per second"),
    ("iperfudp 1e99 h1 h2", "write bits per second"),
    ("iperfudp 1000G h1 h2", "outside 1 bit/s .. 100G"),
    ("pingpair h1 h1", "both nodes are 'h1'"),
    ("source /dev/zero", "not a regular file"),
    ("EOF anything", "unknown command 'EOF'"),
])
def test_shell_arguments_are_checked(line, words):
    from testbed.cli.shell import Shell
    out = io.StringIO()
    shell = Shell(_Net(), stdout=out, tty=False)
    left = shell.run_line(line)
    assert not left and shell.failures == 1 and words in out.getvalue(), out.getvalue()


def test_a_secure_open_vswitch_without_controller_or_flows_connects_nobody():
    from testbed.planning.reach import Reachability
    g = hosts_on(n=3, backend="ovs", fail_mode="secure")
    reach = Reachability(plan(g))
    assert not any(reach.expected(a, b) for a in ("h1", "h2", "h3") for b in ("h1", "h2", "h3") if a != b)
    g = hosts_on(n=2, backend="ovs", fail_mode="secure", controller="testcontroller")
    assert Reachability(plan(g)).expected("h1", "h2") is True
    # two switches, only one dead: h1 and h2 on the live one still talk, h3 behind the dead one does not
    g = hosts_on(n=2)
    g.add_node("s2", kind="switch", backend="ovs", fail_mode="secure")
    g.add_node("h3", kind="host")
    g.add_edge("s1", "s2")
    g.add_edge("h3", "s2")
    reach = Reachability(plan(g))
    assert reach.expected("h1", "h2") is True and reach.expected("h1", "h3") is False


def test_a_host_with_two_interfaces_on_one_lan_is_not_judged():
    from testbed.planning.reach import Reachability
    g = nx.MultiGraph(hosts_on(n=2))
    g.add_edge("h1", "s1")
    reach = Reachability(plan(g))
    assert reach.expected("h1", "h2") is None and reach.expected("h2", "h1") is None



def test_one_nodes_two_lans_with_one_subnet_are_not_judged():
    # found by the generated-topology test: h1 has 10.0.0.1/24 towards h2 and 10.0.0.2/24 towards
    # h3, on two LANs; the kernel sends all of 10.0.0.0/24 through one of them (route order)
    g = nx.Graph()
    g.add_node("h1", kind="host", ip="10.0.0.1/24")
    g.add_node("h2", kind="host", ip="10.0.0.11/24")
    g.add_node("h3", kind="host", ip="10.0.0.12/24")
    g.add_edge("h1", "h2")
    g.add_edge("h1", "h3")
    from testbed.planning.reach import Reachability
    p = plan(g)
    assert p.node("h1").addresses == ["10.0.0.1/24", "10.0.0.2/24"]      # never one address twice
    reach = Reachability(p)
    assert all(reach.expected(a, b) is None for a, b in (("h1", "h2"), ("h2", "h1"), ("h3", "h1")))
    assert reach.expected("h2", "h3") is False                          # no router between the LANs
