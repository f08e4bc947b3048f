"""The seed's three computers: A bridges B and C, or does not."""
from __future__ import annotations

import os

from itest import load_network, run_cli


def by_pair(result) -> dict[tuple[str, str], tuple[int, int, bool]]:
    return {(p.src, p.dst): (p.sent, p.received, p.expected) for p in result.pairs}


def test_with_bridge_everyone_reaches_everyone():
    with load_network("three_hosts") as net:
        result = net.pingall(count=2)
        assert result.ok, result.matrix()
        assert all(p.received == 2 and p.expected for p in result.pairs), result.matrix()
        assert len(result.pairs) == 6
        # B and C reach each other through A's br0 in A's namespace
        assert "2 received" in net["B"].cmd("ping -c2 -i0.2 -W1 10.0.0.3")
        # A's uplink stand-in: a dummy (or ifb where the kernel has no dummy driver), addressed
        assert "192.168.100.2/24" in net["A"].cmd(["ip", "-o", "addr", "show", "dev", "eth0"])
        ports = net["A"].cmd(["ip", "-o", "link", "show", "master", "br0"])
        assert "nic1" in ports and "nic2" in ports, ports


def test_without_bridge_b_and_c_are_cut_off():
    with load_network("three_hosts", bridge=False) as net:
        result = net.pingall(count=2)
        assert result.ok, result.matrix()
        pairs = by_pair(result)
        for a, b in (("A", "B"), ("B", "A"), ("A", "C"), ("C", "A")):
            assert pairs[(a, b)] == (2, 2, True), (a, b, result.matrix())
        assert pairs[("B", "C")][1:] == (0, False)
        assert pairs[("C", "B")][1:] == (0, False)
        assert "-" in result.matrix().splitlines()[2]      # B's row shows C as expected-unreachable
        # B has no route to C's subnet at all
        assert net["B"].run(["ping", "-c1", "-W1", "10.0.2.2"]).returncode != 0


def test_cli_pingall_exit_codes_and_matrix(owned):
    done = run_cli(owned, "run", "topologies/three_hosts.py", "--test", "pingall")
    assert done.returncode == 0, done.stderr
    assert "6 pairs, 6 expected to connect, 0 wrong" in done.stdout
    done = run_cli(owned, "run", "topologies/three_hosts.py", "--param", "bridge=false", "--test", "pingall")
    assert done.returncode == 0, done.stderr
    assert "6 pairs, 4 expected to connect, 0 wrong" in done.stdout
    assert len(owned.run_ids) == 2


def test_pingall_exits_1_when_an_expected_pair_fails(owned, tmp_path):
    """A host whose default route points nowhere: expected to reach, does not -> exit 1."""
    topo = tmp_path / "broken.py"
    topo.write_text(
        "import networkx as nx\n"
        "def topology():\n"
        "    g = nx.Graph()\n"
        "    g.add_node('h1', kind='host', ip='10.0.0.1/24')\n"
        "    g.add_node('h2', kind='host', ip='10.0.0.2/24', sysctls={'net.ipv4.icmp_echo_ignore_all': 1})\n"
        "    g.add_edge('h1', 'h2')\n"
        "    return g\n")
    done = run_cli(owned, "run", str(topo), "--test", "pingall")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "h1 -> h2 (10.0.0.2): 100% loss" in done.stdout
    assert os.path.basename(str(topo)) in done.stderr


def test_pingall_loss_counts_only_expected_pairs():
    with load_network("three_hosts", bridge=False) as net:
        result = net.pingall()
        assert result.loss == 0.0, result.matrix()
        assert "0 wrong, 0.0% of expected probes lost" in result.matrix()
