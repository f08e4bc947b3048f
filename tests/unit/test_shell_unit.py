"""The shell's parsing, name substitution, completion and error handling, over a fake network."""
from __future__ import annotations

import io

import pytest

from testbed.topology import load as loader
from testbed.planning import pipeline as planner
from testbed.cli import shell as shell_mod
from testbed.errors import UsageError


class FakeNode:
    def __init__(self, plan):
        self.plan, self.name, self.kind = plan, plan.name, plan.kind
        self.netns = f"tbfake-{plan.name}"


class FakeNet:
    """Enough of Network for the commands that read only the plan."""

    def __init__(self, path, params=None):
        graph, params = loader.load(path, params or {})
        self.plan = planner.plan(graph, path, params)
        self.nodes = {n.name: FakeNode(n) for n in self.plan.nodes}

    def __getitem__(self, name):
        if name not in self.nodes:
            raise UsageError(f"no node {name!r}; nodes: {', '.join(self.nodes)}")
        return self.nodes[name]

    @property
    def hosts(self):
        return [n for n in self.nodes.values() if n.kind == "host"]


@pytest.fixture
def sh():
    out = io.StringIO()
    return shell_mod.Shell(FakeNet("topologies/routed.py"), stdout=out, tty=False), out


def test_split_commands():
    assert shell_mod.split_commands("pingall; h1 ping -c1 h3") == ["pingall", "h1 ping -c1 h3"]
    assert shell_mod.split_commands("sh echo 'a;b' ; nodes;;") == ["sh echo 'a;b'", "nodes"]
    with pytest.raises(UsageError):
        shell_mod.split_commands("sh echo 'a")


def test_node_names_become_addresses_as_seen_from_the_node(sh):
    shell, _ = sh
    # routed: h1,h2 on LAN 1 (10.0.0.0/24), h3,h4 on LAN 2; r1 has one address on each side.
    assert shell.substitute("h1", "ping -c1  h3") == "ping -c1  10.0.1.2"
    assert shell.substitute("h1", "ping r1") == "ping 10.0.0.1"
    assert shell.substitute("h3", "ping r2") == "ping 10.0.1.1"
    assert shell.substitute("h1", "echo s1 h33 xh2") == "echo s1 h33 xh2"   # switches have no address


def test_plan_only_commands(sh):
    shell, out = sh
    for line in ("nodes", "net", "intfs h1 r1", "dump h1", "ports", "py len(net.nodes)", "py h1.name",
                 "py x = 5", "time nodes", "help", "help pingall"):
        shell.run_line(line)
    text = out.getvalue()
    assert shell.failures == 0, text
    assert "available nodes are: \nh1 h2 h3 h4 r1 r2 s1 s2\n" in text          # sorted, as Mininet
    assert "h1 h1-eth0:s1-eth1" in text

    shell.stdout = out = io.StringIO()
    shell.run_line("net")
    assert [l.split()[0] for l in out.getvalue().splitlines()] == ["h1", "h2", "h3", "h4", "r1", "r2", "s1", "s2"]
    assert "r1: r1-eth0,r1-eth1" in text
    assert "<host h1: h1-eth0:10.0.0.2/24 netns=tbfake-h1>" in text
    assert "s1 s1-eth1:1 s1-eth2:2 s1-eth3:3" in text
    assert "\n8\n" in text and "\nh1\n" in text
    assert "*** Elapsed time:" in text
    assert "pingall [TIMEOUT]" in text and "<node> <command...>" in text


@pytest.mark.parametrize("line, message", [
    ("h9 ping h1", "unknown command or node 'h9'"),
    ("frobnicate", "unknown command or node 'frobnicate'"),
    ("h1", "give a command to run inside it"),
    ("intfs nosuch", "no node 'nosuch'"),
    ("py 1/0", "ZeroDivisionError: division by zero"),
    ("py raise SystemError('x')", "SystemError: x"),
    ("link h1 s1 sideways", "usage: link A B up|down"),
    ("iperf h1", "takes a client and a server"),
    ("iperfudp", "needs a rate"),
    ("pingpair h1", "takes two node names"),
    ("source /nonexistent/cmds", "No such file"),
    ("sh", "usage: sh CMD"),
])
def test_errors_print_one_line_and_count(sh, line, message):
    shell, out = sh
    assert shell.run_line(line) is False
    lines = [l for l in out.getvalue().splitlines() if l.startswith("*** Error")]
    assert len(lines) == 1 and message in lines[0], out.getvalue()
    assert "Traceback" not in out.getvalue()
    assert shell.failures == 1


def test_scripts_echo_and_stop_at_exit(sh, tmp_path):
    shell, out = sh
    cmds = tmp_path / "cmds"
    cmds.write_text("# a comment\nnodes\n\nintfs h2\n")
    failures = shell.run_script(io.StringIO(f"source {cmds}\nfoo\nexit\nnodes\n"))
    text = out.getvalue()
    assert failures == 1
    assert text.count("testbed> nodes") == 1          # the one in the sourced file; after exit nothing
    assert "testbed> intfs h2\nh2: h2-eth0" in text
    assert "testbed> exit" in text


def test_net_order_is_natural_hosts_then_switches():
    shell = shell_mod.Shell(FakeNet("topologies/single.py", {"n": "11"}), stdout=io.StringIO(), tty=False)
    shell.run_line("net")
    names = [l.split()[0] for l in shell.stdout.getvalue().splitlines()]
    assert names == [f"h{i}" for i in range(1, 12)] + ["s1"]                 # h2 before h10


def test_completion(sh):
    shell, _ = sh
    assert shell.completenames("pinga") == ["pingall", "pingallfull"]
    assert shell.completenames("h") == ["help", "h1", "h2", "h3", "h4"]
    assert shell.completedefault("r", "h1 ping r", 8, 9) == ["r1", "r2"]      # ping takes a host
    assert shell.completedefault("", "r1 ip link show ", 16, 16) == ["r1-eth0", "r1-eth1"]   # r1's only
    assert shell.completedefault("h", "r1 ip link show h", 16, 17) == []
    assert shell.completedefault("h1-", "h1 ping -I h1-", 11, 14) == ["h1-eth0"]
    assert shell.complete_link("r", "link r", 5, 6) == ["r1", "r2"]
    assert sorted(shell.complete_time("no", "time no", 5, 7)) == ["nodes", "noecho"]
    assert shell.complete_iperfudp("h", "iperfudp 10M h", 13, 14) == ["h1", "h2", "h3", "h4"]
