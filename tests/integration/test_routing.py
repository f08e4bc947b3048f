"""FRR in routers, for real: adjacencies, routes installed, reachability, failures, teardown.

Every test waits for conditions (convergence, sessions up), never for a fixed time, and
checks that no FRR daemon, socket or file of its run is left.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import networkx as nx
import pytest

from itest import ROOT, cli_argv, load_network, run_cli
from testbed import Network

pytestmark = pytest.mark.skipif(not os.access("/usr/lib/frr/zebra", os.X_OK), reason="FRR is not installed")


def frr_processes(run_id: str) -> list[int]:
    """PIDs of FRR daemons whose command line names this run's folder."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace")
        except OSError:
            continue
        if f"/run/testbed/{run_id}/frr/" in argv:
            found.append(int(name))
    return found


def _status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def _blocks_sigterm(pid: int) -> bool:
    return bool(int(_status(pid).get("SigBlk", "0"), 16) & (1 << (signal.SIGTERM - 1)))


def assert_takes_sigterm(pid: int, timeout: float = 20.0) -> None:
    """The daemon's main thread does not keep SIGTERM blocked. FRR blocks every signal for the
    moment it starts each of its threads, so one look can catch it mid-way: a mask still
    blocking SIGTERM after ``timeout`` s is the fault (one handed down by the spawner)."""
    deadline = time.monotonic() + timeout
    while _blocks_sigterm(pid):
        assert time.monotonic() < deadline, f"daemon {pid} kept SIGTERM blocked for {timeout:.0f} s"
        time.sleep(0.01)


class Routed:
    """A network that must leave no FRR daemon or file behind."""

    def __init__(self, net: Network):
        self.net = net

    def __enter__(self) -> Network:
        self.net.start()
        try:
            daemons = frr_processes(self.net.run_id)
            assert daemons, "no FRR daemon of the run is running"
            for pid in daemons:              # SIGTERM reaches them (teardown need not kill them)
                assert_takes_sigterm(pid)
        except BaseException:
            self.net.stop()                  # a failed check leaves nothing behind either
            raise
        return self.net

    def __exit__(self, *exc) -> None:
        run_id = self.net.run_id
        self.net.stop()
        assert frr_processes(run_id) == [], "FRR daemons survived the teardown"
        assert not os.path.exists(f"/run/testbed/{run_id}")


def vtysh_json(net, node: str, command: str):
    return json.loads(net[node].cmd(["vtysh", "-c", command + " json"]))


def kernel_route(net, node: str, prefix: str) -> set[str]:
    """The gateways of ``node``'s kernel route to ``prefix`` (empty: no such route)."""
    out = net[node].cmd(["ip", "-4", "route", "show", prefix])
    return set(re.findall(r"via (\S+)", out))


def lan(net, host: str) -> str:
    import ipaddress
    return str(ipaddress.ip_interface(net.plan.node(host).addresses[0]).network)


def address(net, node: str, peer: str) -> str:
    for intf in net.plan.node(node).interfaces:
        if intf.peer and intf.peer[0] == peer:
            return intf.addresses[0].split("/")[0]
    raise KeyError((node, peer))


def test_ospf_ring_adjacencies_ecmp_and_failover():
    with Routed(load_network("ospf_ring", n=4)) as net:
        seconds = net.converge()
        assert seconds < 60
        neighbours = vtysh_json(net, "r1", "show ip ospf neighbor")["neighbors"]
        states = {n: [x["nbrState"] for x in entries] for n, entries in neighbours.items()}
        assert states == {"10.255.0.2": ["Full/-"], "10.255.0.4": ["Full/-"]}, states
        assert kernel_route(net, "r1", lan(net, "h3")) == {address(net, "r2", "r1"), address(net, "r4", "r1")}
        result = net.pingall()
        assert result.ok, result.matrix()
        net.link_down("r1", "r2")
        net.converge()
        assert kernel_route(net, "r1", lan(net, "h2")) == {address(net, "r4", "r1")}
        result = net.pingall()                        # the long way round
        assert result.ok, result.matrix()
        net.link_up("r1", "r2")
        net.converge()
        assert kernel_route(net, "r1", lan(net, "h2")) == {address(net, "r2", "r1")}


def test_bgp_leaf_spine_sessions_and_ecmp():
    with Routed(load_network("leaf_spine", spines=2, leaves=2, hosts=1)) as net:
        net.converge()
        peers = vtysh_json(net, "l1", "show bgp ipv4 unicast summary")["peers"]
        assert {p: v["state"] for p, v in peers.items()} == {address(net, "sp1", "l1"): "Established",
                                                             address(net, "sp2", "l1"): "Established"}
        assert kernel_route(net, "l1", lan(net, "h2")) == {address(net, "sp1", "l1"), address(net, "sp2", "l1")}
        result = net.pingall()
        assert result.ok, result.matrix()


def test_bgp_as_path_changes_when_the_peering_fails():
    with Routed(load_network("bgp_as")) as net:
        net.converge()
        prefix = lan(net, "h2")
        best = vtysh_json(net, "r1", f"show bgp ipv4 unicast {prefix} bestpath")["paths"][0]
        assert best["aspath"]["string"] == "65003"
        net.link_down("r1", "r4")
        net.converge()
        best = vtysh_json(net, "r1", f"show bgp ipv4 unicast {prefix} bestpath")["paths"][0]
        assert best["aspath"]["string"] == "65002 65003"
        hops = net["h1"].cmd(["traceroute", "-n", "-N", "1", "-q", "1", "-w", "2", net["h2"].ip])
        assert address(net, "r2", "r1") in hops and address(net, "r3", "r4") not in hops, hops
        result = net.pingall()
        assert result.ok, result.matrix()


def chain(protocol: str, n: int = 3, **link) -> nx.Graph:
    g = nx.Graph()
    for i in range(1, n + 1):
        g.add_node(f"r{i}", kind="router", routing={protocol: {}})
        g.add_node(f"h{i}", kind="host")
        g.add_edge(f"h{i}", f"r{i}")
        if i > 1:
            g.add_edge(f"r{i - 1}", f"r{i}", **link)
    return g


@pytest.mark.parametrize("protocol", ["rip", "isis"])
def test_rip_and_isis_converge_and_route(protocol):
    with Routed(Network(chain(protocol), source=protocol)) as net:
        net.converge()
        assert kernel_route(net, "r1", lan(net, "h3")) == {address(net, "r2", "r1")}
        proto = net["r1"].cmd(["ip", "-4", "route", "show", lan(net, "h3")])
        assert f"proto {protocol}" in proto, proto
        result = net.pingall()
        assert result.ok, result.matrix()


def test_bfd_sessions_come_up_with_ospf():
    g = chain("ospf", bfd=True)
    with Routed(Network(g, source="bfd")) as net:
        net.converge()                                 # includes the BFD sessions being up
        peers = vtysh_json(net, "r2", "show bfd peers")
        assert sorted((p["peer"], p["status"]) for p in peers) == sorted(
            [(address(net, "r1", "r2"), "up"), (address(net, "r3", "r2"), "up")])
        assert {(p["transmit-interval"], p["receive-interval"], p["detect-multiplier"]) for p in peers} == \
            {(200, 200, 3)}, peers                          # the profile's timers, not bfdd's defaults


def test_routers_on_an_open_vswitch_lan_with_a_shaped_link():
    g = nx.Graph()
    g.add_node("s1", kind="switch", backend="ovs")
    for r in ("r1", "r2", "r3"):
        g.add_node(r, kind="router", routing={"ospf": {}})
        g.add_node("h" + r[1:], kind="host")
        g.add_edge("h" + r[1:], r)
    g.add_edge("r1", "s1", bw=50)
    g.add_edge("r2", "s1")
    g.add_edge("r3", "s1")
    with Routed(Network(g, source="ovs-lan")) as net:
        net.converge()
        result = net.pingall()
        assert result.ok, result.matrix()
        assert "qdisc htb" in net["r1"].cmd(["tc", "qdisc", "show", "dev", "r1-eth1"])


def test_a_nat_running_ospf_still_masquerades():
    """The NAT kind with routing: OSPF announces its outside LAN inside, the NAT concern still
    masquerades what leaves (web has no route to h1's LAN: h1's pings come back only so) and
    drops what is opened from outside."""
    g = nx.Graph()
    g.add_node("inet", kind="switch")
    g.add_node("r1", kind="router", routing={"ospf": {}})
    g.add_node("nat", kind="nat", outside="inet", routing={"ospf": {}})
    g.add_node("h1", kind="host")
    g.add_node("web", kind="host", ip="203.0.113.80/24")
    g.add_edge("h1", "r1")
    g.add_edge("r1", "nat")
    g.add_edge("nat", "inet", ip={"nat": "203.0.113.1/24"})
    g.add_edge("web", "inet")
    with Routed(Network(g, source="nat-ospf")) as net:
        net.converge()
        assert kernel_route(net, "r1", "203.0.113.0/24") == {address(net, "nat", "r1")}
        assert net.reachability.expected("h1", "web") is True and net.reachability.expected("web", "h1") is False
        result = net.pingall()
        assert result.ok, result.matrix()


def test_the_shell_reaches_each_routers_own_daemons(owned):
    done = run_cli(owned, "run", "topologies/ospf_ring.py", "--param", "n=3",
                   "-c", "pingall; r1 vtysh -c 'show ip route ospf'; r2 vtysh -c 'show ip ospf neighbor'")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"O>\* 10\.255\.0\.2/32 .* via ", done.stdout), done.stdout
    assert done.stdout.count("Full/-") == 2, done.stdout


def test_cli_test_converged(owned):
    done = run_cli(owned, "run", "topologies/bgp_as.py", "--test", "converged")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"routing converged in \d+\.\d\d s", done.stderr), done.stderr
    assert "0 wrong" in done.stdout


def test_an_error_in_frr_config_points_at_its_line(owned, tmp_path):
    topo = tmp_path / "bad.py"
    topo.write_text("import networkx as nx\n"
                    "def topology():\n"
                    "    g = nx.Graph()\n"
                    "    g.add_node('r1', kind='router', routing='ospf', frr_config='router ospf\\n no-such thing\\n')\n"
                    "    g.add_node('r2', kind='router', routing='ospf')\n"
                    "    g.add_edge('r1', 'r2')\n"
                    "    return g\n")
    done = run_cli(owned, "run", str(topo), "--test", "none")
    assert done.returncode == 2, done.stderr
    assert "node 'r1' frr_config line 2: % Unknown command: no-such thing" in done.stderr, done.stderr


def test_clean_stops_the_daemons_of_a_killed_run(background):
    run = background("topologies/ospf_ring.py", "--param", "n=3")
    run_id = run.wait_until_up()
    daemons = frr_processes(run_id)
    assert len(daemons) == 6, daemons                  # zebra and ospfd in each of 3 routers
    os.kill(run.proc.pid, signal.SIGKILL)
    run.finish()
    assert frr_processes(run_id) == daemons            # nothing stopped them
    done = subprocess.run(cli_argv("clean", run_id), cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert frr_processes(run_id) == []
    assert not os.path.exists(f"/run/testbed/{run_id}")


def test_a_silent_failure_is_noticed_by_bfd_and_routed_around():
    with Routed(load_network("ospf_ring", n=4, bfd=True)) as net:
        net.converge()
        net.link_down("r1", "r2", silent=True)
        end = next(i.name for i in net.plan.node("r1").interfaces if i.peer and i.peer[0] == "r2")
        assert "state UP" in net["r1"].cmd(["ip", "link", "show", end])       # carrier kept: nobody is told
        net.converge()                                   # BFD (or the dead interval) found it
        assert kernel_route(net, "r1", lan(net, "h2")) == {address(net, "r4", "r1")}
        result = net.pingall()
        assert result.ok, result.matrix()
        net.link_up("r1", "r2")
        net.converge()
        assert kernel_route(net, "r1", lan(net, "h2")) == {address(net, "r2", "r1")}


def kernel_route6(net, node: str, prefix: str) -> set[str]:
    """The devices of ``node``'s IPv6 route to ``prefix`` (OSPFv3's next hops are link-local)."""
    out = net[node].cmd(["ip", "-6", "route", "show", prefix])
    assert "fe80::" in out or not out.strip(), out
    return set(re.findall(r"via fe80::\S+ dev (\S+)", out))


def towards(net, node: str, peer: str) -> str:
    return next(i.name for i in net.plan.node(node).interfaces if i.peer and i.peer[0] == peer)


def test_ospfv3_ring_adjacencies_ecmp_bfd_and_failover():
    with Routed(load_network("ospf_ring", n=4, ipv6=True, bfd=True)) as net:
        net.converge()                                   # IPv6 routes and BFD sessions as the model says
        neighbours = vtysh_json(net, "r1", "show ipv6 ospf6 neighbor")["neighbors"]
        assert sorted((n["neighborId"], n["state"]) for n in neighbours) == [("10.255.0.2", "Full"),
                                                                             ("10.255.0.4", "Full")], neighbours
        assert kernel_route6(net, "r1", lan(net, "h3")) == {towards(net, "r1", "r2"), towards(net, "r1", "r4")}
        assert net["r1"].cmd(["sysctl", "-n", "net.ipv6.conf.all.forwarding"]).strip() == "1"
        sessions = vtysh_json(net, "r1", "show bfd peers")      # OSPFv3's, at the link's 200 ms, not bfdd's 300
        assert sorted((p["interface"], p["status"], p["transmit-interval"], p["detect-multiplier"])
                      for p in sessions) == [("r1-eth0", "up", 200, 3), ("r1-eth1", "up", 200, 3)], sessions
        usable(net, ["h1", "h2", "h3", "h4"])            # duplicate address detection over on the hosts
        for host in ("h2", "h3", "h4"):                  # the hosts' IPv6 addresses, across the ring
            assert ping6(net, "h1", host), host
        result = net.pingall(count=2)                    # every pair, over ICMPv6 (no IPv4 anywhere)
        assert result.ok and {p.dst_ip.count(":") > 0 for p in result.pairs} == {True}, result.matrix()
        net.link_down("r1", "r2", silent=True)           # carrier kept: BFD must notice
        net.converge()
        assert kernel_route6(net, "r1", lan(net, "h2")) == {towards(net, "r1", "r4")}
        assert ping6(net, "h1", "h2")                    # the long way round
        net.link_down("r1", "r2")                        # its carrier lost too, then back: addresses kept
        net.link_up("r1", "r2")
        net.converge()
        assert kernel_route6(net, "r1", lan(net, "h2")) == {towards(net, "r1", "r2")}
        assert ping6(net, "h1", "h2")


def usable(net, nodes: list[str], timeout: float = 30.0) -> None:
    """Wait until no IPv6 address of ``nodes`` is tentative (duplicate address detection)."""
    deadline = time.monotonic() + timeout
    while True:
        shown = {n: net[n].cmd(["ip", "-6", "-o", "addr", "show", "tentative"]).strip() for n in nodes}
        tentative = {n: out for n, out in shown.items() if out}
        if not tentative:
            return
        assert time.monotonic() < deadline, f"IPv6 addresses still tentative after {timeout:.0f} s: {tentative}"
        time.sleep(0.1)


def ping6(net, src: str, dst: str) -> bool:
    """One of three pings of ``dst``'s IPv6 address answered."""
    target = net[dst].ip
    assert ":" in target, target
    return net[src].run(["ping", "-6", "-n", "-c", "3", "-i", "0.2", "-W", "2", target]).returncode == 0
