"""`--test ping/iperf` measure the first and the last host (as the shell's iperf and Mininet), or --pair."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from testbed.cli import main as cli
from testbed.errors import UsageError


class Net:
    def __init__(self, names):
        self.nodes = {n: SimpleNamespace(name=n, kind="host" if n.startswith("h") else "switch") for n in names}

    @property
    def hosts(self):
        return [n for n in self.nodes.values() if n.kind == "host"]


def test_default_is_first_and_last_host():
    assert cli.test_pair(Net(["h1", "h2", "h3", "s1"]), "iperf", None) == ("h1", "h3")
    assert cli.test_pair(Net(["h1", "h2"]), "ping", None) == ("h1", "h2")


def test_pair_names_two_nodes():
    net = Net(["h1", "h2", "h3", "s1"])
    assert cli.test_pair(net, "iperf", "h3,h2") == ("h3", "h2")
    assert cli.test_pair(net, "iperf", " h1 , h2 ") == ("h1", "h2")
    with pytest.raises(UsageError, match="no node 'h9'"):
        cli.test_pair(net, "iperf", "h1,h9")
    with pytest.raises(UsageError, match="two different nodes"):
        cli.test_pair(net, "ping", "h1,h1")
    with pytest.raises(UsageError, match="give two nodes as A,B"):
        cli.test_pair(net, "ping", "h1")
    with pytest.raises(UsageError, match="needs two hosts"):
        cli.test_pair(Net(["h1", "s1"]), "iperf", None)


def test_pair_with_another_test_is_refused_before_building(monkeypatch, capsys):
    monkeypatch.setattr("testbed.run.network.Network.start", lambda *a: pytest.fail("built"))
    assert cli.main(["run", "topologies/single.py", "--test", "pingall", "--pair", "h1,h2"]) == 2
    assert "only --test ping and --test iperf take a pair" in capsys.readouterr().err


def test_shell_iperf_and_run_iperf_agree():
    """The shell's iperf with no arguments takes the same two hosts as --test iperf."""
    from testbed.cli.shell_commands import NetworkCommands
    commands = NetworkCommands()
    commands.net = Net(["h1", "h2", "h3", "s1"])
    commands.iperf_seconds = 5.0
    client, server, _ = commands._traffic_args([], "iperf")
    assert (client, server) == cli.test_pair(commands.net, "iperf", None)
