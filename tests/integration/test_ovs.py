"""Open vSwitch switches for real: VLANs, MAC-based VLANs, hubs, fail modes, TCP, cleanup.

Needs root and Open vSwitch's tools; each test checks it leaves no namespace, interface,
OVS daemon, socket or database behind, and that the system's OVS (if any) is unchanged.
"""
import io
import json
import os
import signal
import subprocess
import sys
import time

import networkx as nx
import pytest

from itest import ROOT, cli_argv

from testbed import load
from testbed.cli.shell import Shell
from testbed.errors import EnvironmentProblem
from testbed.kernel.journal import run_dir
from testbed.kernel import ethtool
from testbed.ovs import daemons as ovs
from testbed.run import traffic
from testbed.ovs.records import switch_of
from testbed.run.network import Network

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(bool(ovs.missing_tools()), reason="needs openvswitch-switch"),
    pytest.mark.timeout(60),
]
SYSTEM_DB = "/var/run/openvswitch/db.sock"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _system_ovs() -> str | None:
    """The system OVS's configuration, or None when it is not running."""
    if not os.path.exists(SYSTEM_DB):
        return None
    return subprocess.run(["ovs-vsctl", f"--db=unix:{SYSTEM_DB}", "--timeout=5", "show"],
                          capture_output=True, text=True).stdout


def _our_daemons(run_id: str) -> list[int]:
    """Live (non-zombie) processes whose command line names the run's folder."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
        except OSError:
            continue
        if run_dir(run_id) in cmdline:
            found.append(int(pid))
    return found


def _root_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


@pytest.fixture
def clean_check():
    """Yields a list to append run ids to; afterwards checks nothing of them is left."""
    system_before, links_before = _system_ovs(), _root_links()
    runs: list[str] = []
    yield runs
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for run_id in runs:
        assert _our_daemons(run_id) == [], f"OVS daemons of {run_id} left"
        assert not os.path.exists(run_dir(run_id)), f"{run_dir(run_id)} left (database, sockets)"
        assert f"{run_id}-" not in netns, f"namespaces of {run_id} left"
    # A device left in a namespace reaches the root namespace only when the kernel has
    # finished deleting that namespace, a moment after teardown returns: watch for 2 s.
    for _ in range(20):
        assert not (_root_links() - links_before), "interfaces left in the root namespace"
        time.sleep(0.1)
    assert _system_ovs() == system_before, "the system's Open vSwitch changed"


def _start(topology: str, params: dict, runs: list, **kwargs) -> Network:
    graph, params = load(os.path.join(ROOT, "topologies", topology), params)
    net = Network(graph, source=topology, params=params, **kwargs)
    runs.append(net.run_id)
    return net


def _pairs(result) -> dict:
    return {(p.src, p.dst): p for p in result.pairs}


def test_vlans_matrix_same_vlan_reaches_across_the_trunk_cross_vlan_never(clean_check):
    with _start("vlans.py", {}, clean_check) as net:
        result = net.pingall(count=2)
        assert result.ok, result.matrix()
        pairs = _pairs(result)
        vlan = {"h1": 10, "h2": 20, "h3": 10, "h4": 20}
        for (a, b), p in pairs.items():
            if vlan[a] == vlan[b]:
                assert p.expected and p.received == p.sent == 2, result.matrix()
            else:
                assert not p.expected and p.received == 0, result.matrix()
        assert "NORMAL" in net.dpctl("s1")
        out = io.StringIO()
        Shell(net, stdout=out, tty=False).onecmd("dpctl")      # the shell's Mininet-style command
        assert "*** s1" in out.getvalue() and "*** s2" in out.getvalue() and "actions=NORMAL" in out.getvalue()


def test_vlans_with_40_hosts_pingall_is_exact(clean_check):
    """1560 pairs through two userspace datapaths and a trunk: nothing lost, nothing leaks."""
    with _start("vlans.py", {"n": "10"}, clean_check) as net:
        result = net.pingall()
        assert result.ok, result.matrix()
        assert sum(p.expected for p in result.pairs) == 760


def _move_h1_to_its_spare_port(net: Network) -> None:
    """Unplug h1 from s1-eth1, plug it into s1-eth9: same MAC, same address, another port."""
    h1 = net["h1"]
    mac, ip = h1.plan.interface("h1-eth0").mac, h1.plan.interface("h1-eth0").addresses[0]
    net.link_down("h1", "s1")                       # both of h1's cables down...
    h1.run(f"ip addr flush dev h1-eth0 && ip addr flush dev h1-eth1 && "
           f"ip link set h1-eth1 address {mac} && ip addr add {ip} dev h1-eth1", check=True)
    spare = next(l for l in net.plan.links if l.a == ("h1", "h1-eth1") or l.b == ("h1", "h1-eth1"))
    for node, intf in (spare.a, spare.b):           # ...and only the spare one back up
        net[node].set_link_state(intf, True)


def test_mac_based_vlan_follows_the_host_to_another_port(clean_check):
    with _start("mac_vlan.py", {}, clean_check) as net:
        result = net.pingall()
        assert result.ok, result.matrix()
        _move_h1_to_its_spare_port(net)
        h1 = net["h1"]
        for peer in ("h3", "h5"):                   # VLAN 10: same switch, and across the trunk
            out = h1.cmd(f"ping -c2 -W1 -i0.2 {net[peer].ip}")
            assert " 0% packet loss" in out, out
        for peer in ("h2", "h4", "h6"):             # VLAN 20: never
            out = h1.cmd(f"ping -c2 -W1 -i0.2 {net[peer].ip}")
            assert "100% packet loss" in out, out
        spare_port = switch_of(net.plan, "s1").port("s1-eth9").ofport
        flows = net.dpctl("s1")
        learned = [l for l in flows.splitlines() if "table=2" in l and "dl_dst=02:00:00:00:0a:01" in l]
        assert learned and f"load:{hex(spare_port)}->NXM_NX_REG1" in learned[0], flows


def test_ovs_standalone_pingall_and_tcp_through_the_userspace_datapath(clean_check):
    with _start("single.py", {"n": "3"}, clean_check, switch="ovs") as net:
        assert net.plan.node("s1").interfaces[0].kind == "ovs"
        result = net.pingall()
        assert result.ok and all(p.expected for p in result.pairs), result.matrix()
        if ovs.datapath_type("auto") == "netdev":
            assert not net.worker.run_inside(net["h1"].netns, ethtool.tx_checksum, "h1-eth0")
            assert not net.worker.run_inside(net["s1"].netns, ethtool.tx_checksum, "s1-eth1")
        server = net["h2"].popen(["iperf3", "-s", "-1", "-B", net["h2"].ip],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        traffic.wait_listening(net["h2"], 5201, proc=server)
        out = net["h1"].run(["iperf3", "-c", net["h2"].ip, "-t", "2", "-J"], timeout=20)
        server.wait(timeout=5)
        report = json.loads(out.stdout)
        bps = report["end"]["sum_received"]["bits_per_second"]
        assert bps > 20e6, f"TCP through OVS: {bps / 1e6:.1f} Mbit/s"
        assert "in_port" in net.dpctl("s1", datapath=True)      # the datapath cached the flows


def test_ovs_hub_floods_and_secure_mode_forwards_nothing_without_flows(clean_check):
    g = nx.Graph()
    g.add_node("hub", kind="hub", backend="ovs")
    g.add_node("sec", kind="switch", backend="ovs", fail_mode="secure")
    g.add_node("ctl", kind="switch", backend="ovs", fail_mode="secure", controller="testcontroller")
    for h, sw in (("h1", "hub"), ("h2", "hub"), ("h3", "hub"), ("h4", "sec"), ("h5", "sec"),
                  ("h6", "ctl"), ("h7", "ctl")):
        g.add_node(h, kind="host")
        g.add_edge(h, sw)
    net = Network(g, source="hub+secure")
    clean_check.append(net.run_id)
    with net:
        assert "actions=FLOOD" in net.dpctl("hub")
        assert net["h1"].cmd(f"ping -c3 -i0.2 -W1 {net['h2'].ip}").count("bytes from") == 3
        counters = net["h3"].counters()["h3-eth0"]
        assert counters["rx_packets"] >= 6, counters    # h3 saw h1<->h2's unicast: a hub
        assert "actions=" not in net.dpctl("sec")       # secure, no controller: empty table
        assert "100% packet loss" in net["h4"].cmd(f"ping -c1 -W1 {net['h5'].ip}")
        net.ofctl("sec", "add-flow", "sec", "priority=1,actions=NORMAL")
        assert " 0% packet loss" in net["h4"].cmd(f"ping -c2 -i0.2 -W1 {net['h5'].ip}")
        # the run's own controller (secure mode: nothing moves unless it says so)
        assert " 0% packet loss" in net["h6"].cmd(f"ping -c3 -i0.2 -W1 {net['h7'].ip}")
        flows = net.dpctl("ctl")
        assert "actions=CONTROLLER" in flows and "dl_dst=" in flows, flows   # it installed flows
        assert "controller.sock" in net["ctl"].cmd("ovs-vsctl get-controller ctl")  # the private DB


def test_clean_stops_the_daemons_after_the_owner_is_killed(clean_check):
    script = (
        "import sys, time\n"
        "from testbed import load\n"
        "from testbed.run.network import Network\n"
        f"g, p = load({os.path.join(ROOT, 'topologies', 'vlans.py')!r}, {{}})\n"
        "net = Network(g).start()\n"
        "print(net.run_id, flush=True)\n"
        "time.sleep(120)\n")
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    run_id = owner.stdout.readline().strip()
    assert run_id, "the owner did not build its network"
    clean_check.append(run_id)
    assert len(_our_daemons(run_id)) == 4                # two switches, two daemons each
    dump = subprocess.run(cli_argv("dpctl", "s1", "--run", run_id), capture_output=True, text=True, timeout=30,
                          cwd=ROOT)
    assert dump.returncode == 0 and "actions=NORMAL" in dump.stdout, dump.stderr
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    done = subprocess.run(cli_argv("clean", run_id), capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "stopped 4 processes" in done.stdout, done.stdout


@pytest.mark.skipif(ovs.kernel_datapath(), reason="the openvswitch kernel module is loaded here")
def test_kernel_datapath_without_the_module_is_refused_and_rolled_back(clean_check):
    g = nx.Graph()
    g.add_node("s1", kind="switch", backend="ovs", datapath="system")
    g.add_node("h1", kind="host")
    g.add_edge("h1", "s1")
    net = Network(g, source="kernel-datapath")
    clean_check.append(net.run_id)
    with pytest.raises(EnvironmentProblem, match="openvswitch kernel module"):
        net.start()


def test_shaping_holds_on_the_switch_ends_of_ovs_links(clean_check):
    """Open vSwitch resets the qdiscs of ports with no QoS of their own: the switch-side shaping of
    a link (what the switch sends to the host) must survive it, at build and for a link added later."""
    g = nx.Graph()
    g.add_node("s1", kind="switch", backend="ovs")
    for h in ("h1", "h2", "h3"):
        g.add_node(h, kind="host")
    g.add_edge("h1", "s1", bw={"s1": 5})         # only s1 -> h1 is shaped
    g.add_edge("h2", "s1")
    net = Network(g, source="ovs-switch-end-shaping")
    clean_check.append(net.run_id)
    with net:
        assert "htb" in net["s1"].cmd(["tc", "qdisc", "show", "dev", "s1-eth1"])
        towards_h1 = traffic.iperf3(net["h2"], net["h1"], duration=2)
        assert 3.5 < towards_h1.mbps < 5.5, towards_h1.summary("h2", "h1")
        net.add_link("h3", "s1", bw={"s1": 5})
        (end,) = [i.name for i in net.plan.node("s1").interfaces if i.peer and i.peer[0] == "h3"]
        assert "htb" in net["s1"].cmd(["tc", "qdisc", "show", "dev", end])
        towards_h3 = traffic.iperf3(net["h2"], net["h3"], duration=2)
        assert 3.5 < towards_h3.mbps < 5.5, towards_h3.summary("h2", "h3")
