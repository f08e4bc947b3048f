"""The Mininet 2.3 API on testbed, in this process, group by group: Mininet semantics asserted.

The import hook is installed for each test (``mininet.net`` and the others are testbed's),
every network is stopped at the end, and the autouse ``no_leftovers`` fixture fails a test
whose run left a namespace, link, /etc/netns entry or run folder behind. Switches are
Linux bridges or OVSBridge where the switch does not matter, Open vSwitch with a
controller where it does.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import time

import pytest

from testbed import compat

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def mn(capfd):
    """The Mininet modules (testbed's) as a script gets them; Mininet's log to this test's stderr."""
    compat.install()
    import importlib
    import sys
    modules = {name: importlib.import_module(f"mininet.{name}")
               for name in ("net", "node", "link", "cli", "clean", "nodelib", "util", "topo", "topolib", "log")}
    modules["log"].setLogLevel("output")
    for handler in modules["log"].lg.handlers:
        handler.stream = sys.__stderr__
    yield type("Mininet", (), modules)
    from testbed.compat.engine import Engine
    Engine.stop_all()
    compat.uninstall()


def single(mn, n=2, **kwargs):
    kwargs.setdefault("switch", mn.nodelib.LinuxBridge)
    kwargs.setdefault("controller", None)
    return mn.net.Mininet(topo=mn.topo.SingleSwitchTopo(n), **kwargs)


def printed(capfd) -> str:
    """What Mininet printed (its log writes to stderr, print() to stdout)."""
    captured = capfd.readouterr()
    return captured.out + captured.err


def processes_in(netns: str) -> list[int]:
    inode = os.stat(f"/run/netns/{netns}").st_ino
    found = []
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.readlink(f"/proc/{pid}/ns/net") == f"net:[{inode}]":
                found.append(int(pid))
        except OSError:
            continue
    return found


# ---------------------------------------------------------------- the hook

def test_the_hook_maps_the_runtime_modules_and_keeps_the_pure_ones(mn):
    assert mn.net.__name__ == "testbed.compat.net"
    assert mn.node.Host.__module__ == "testbed.compat.node"
    assert mn.topo.__file__.endswith(os.path.join("mininet", "topo.py"))      # the real package
    assert mn.topolib.TreeNet(depth=1, fanout=1, build=False).__class__ is mn.net.Mininet


def test_without_the_hook_mininet_is_the_real_package():
    compat.uninstall()
    import mininet.net
    assert mininet.net.__name__ == "mininet.net" and "testbed" not in mininet.net.__file__


# ---------------------------------------------------------------- net

def test_a_topo_network_builds_pings_and_stops_like_mininet(mn, capfd):
    net = single(mn, 3)
    net.start()
    assert [h.name for h in net.hosts] == ["h1", "h2", "h3"] and [s.name for s in net.switches] == ["s1"]
    assert net.pingAll() == 0.0
    out = printed(capfd)
    assert "*** Ping: testing ping reachability" in out and "h1 -> h2 h3" in out
    assert "*** Results: 0% dropped (6/6 received)" in out
    assert net["h1"].IP() == "10.0.0.1" and net.get("h2").IP() == "10.0.0.2"
    assert net.getNodeByName("h1", "h3") == [net["h1"], net["h3"]]
    assert list(net) == ["h1", "h2", "h3", "s1"] and "h2" in net and "h9" not in net and len(net) == 4
    assert net.keys() == list(net) and dict(net.items())["s1"] is net["s1"]
    assert len(net.links) == 3
    netns = net["h1"].namespace
    net.stop()
    assert not os.path.exists(f"/run/netns/{netns}")


def test_ping_full_pair_and_loss_percentages(mn):
    net = single(mn, 2)
    net.start()
    full = net.pingPairFull()
    assert [(s.name, d.name) for s, d, _ in full] == [("h1", "h2"), ("h2", "h1")]
    sent, received, rttmin, rttavg, rttmax, rttdev = full[0][2]
    assert (sent, received) == (1, 1) and 0 < rttmin <= rttavg <= rttmax
    assert net.pingPair() == 0.0
    net.configLinkStatus("h2", "s1", "down")
    assert net.ping([net["h1"], net["h2"]], timeout=1) == 100.0
    net.configLinkStatus("h2", "s1", "up")
    deadline = time.monotonic() + 10
    while net.pingPair() != 0.0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert net.pingPair() == 0.0
    net.stop()


def test_the_mid_level_api_with_a_controller_and_open_vswitch(mn, capfd):
    net = mn.net.Mininet(controller=mn.node.Controller, waitConnected=True)
    c0 = net.addController("c0")
    h1 = net.addHost("h1", ip="10.0.0.1")
    h2 = net.addHost("h2", ip="10.0.0.2")
    s3 = net.addSwitch("s3")
    net.addLink(h1, s3)
    net.addLink(h2, s3)
    net.start()
    assert "Error" not in printed(capfd)                  # connecting to a controller is no error
    assert net.controllers == [c0] and s3.connected()
    assert s3.cmd("ovs-vsctl get-controller s3").strip() == "tcp:127.0.0.1:6653"
    assert h1.cmd("ping -c1 -W2 10.0.0.2").count("1 received") == 1
    assert "actions=" in s3.dpctl("dump-flows")
    assert int(s3.cmd("ovs-vsctl get Interface s3-eth2 ofport")) == s3.ports[s3.nameToIntf["s3-eth2"]] == 2
    net.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_remote_controller_on_this_machines_loopback_controls_the_switch(mn, capfd, tmp_path):
    """`--controller remote` with the user's controller on 127.0.0.1: the switch in its namespace
    reaches it through a relay, and it is the controller that forwards (fail mode secure)."""
    port, idle_port = _free_port(), _free_port()
    controller = subprocess.Popen(["ovs-testcontroller", f"--unixctl={tmp_path / 'ctl'}", f"ptcp:{port}:127.0.0.1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        net = single(mn, switch=mn.node.OVSSwitch,
                     controller=lambda name: mn.node.RemoteController(name, ip="127.0.0.1", port=port))
        net.start()
        s1 = net["s1"]
        assert net.waitConnected(timeout=60), "s1 never connected to the controller through the relay"
        assert s1.cmd("ovs-vsctl get-controller s1").strip().startswith("unix:/run/testbed/")
        assert "through a relay" in printed(capfd)
        assert net.pingAll(timeout=5) == 0.0                   # a first packet goes by the controller
        assert "actions=" in s1.dpctl("dump-flows")           # flows the controller installed
        net.stop()
        # the same with nothing listening: the secure switch forwards nothing
        net = single(mn, switch=mn.node.OVSSwitch,
                     controller=lambda name: mn.node.RemoteController(name, ip="127.0.0.1", port=idle_port))
        net.start()
        assert net.pingAll(timeout=1) == 100.0
        net.stop()
    finally:
        controller.terminate()
        controller.wait(timeout=30)


def test_a_remote_controller_inside_a_node_is_reached_in_its_namespace(mn, tmp_path):
    net = single(mn, n=3, switch=mn.node.OVSSwitch, controller=None)
    h1, h2, h3 = net["h1"], net["h2"], net["h3"]
    h3.cmd(f"ovs-testcontroller --unixctl={tmp_path / 'ctl'} ptcp:6653:{h3.IP()} &")      # dies with h3
    net.addController(mn.node.RemoteController("c0", ip=h3.IP(), port=6653))
    net.start()
    assert net.waitConnected(timeout=60), "s1 never connected to the controller inside h3"
    assert net.ping([h1, h2], timeout=5) == 0.0
    net.stop()


def test_iperf_returns_mininet_rate_strings(mn, capfd):
    net = single(mn, 2, link=mn.link.TCLink)
    net.start()
    rates = net.iperf(seconds=2)
    assert len(rates) == 2 and all(re.fullmatch(r"[\d.]+ [KMG]bits/sec", r) for r in rates), rates
    out = printed(capfd)
    assert "*** Iperf: testing TCP bandwidth between h1 and h2" in out and f"*** Results: {rates}" in out
    udp = net.iperf(l4Type="UDP", udpBw="5M", seconds=2)
    assert udp[0] == "5M" and float(udp[1].split()[0]) > 0
    net.stop()


def test_nodes_and_links_added_to_a_running_network(mn):
    net = single(mn, 2)
    net.start()
    h3 = net.addHost("h3")
    link = net.addLink(h3, net["s1"])
    h3.configDefault()
    assert h3.IP() == "10.0.0.3" and link.intf1.name == "h3-eth0" and link.intf2.name == "s1-eth3"
    assert "1 received" in net["h1"].cmd("ping -c1 -W2 10.0.0.3")
    assert net.ping([net["h1"], h3]) == 0.0
    net.delLink(link)
    assert net.ping([net["h1"], h3], timeout=1) == 100.0
    net.delHost(h3)
    assert "h3" not in net and "h3" not in net.network.nodes
    net.stop()


def test_static_arp_and_mac_options(mn):
    net = single(mn, 2, autoSetMacs=True, autoStaticArp=True)
    net.start()
    assert net["h1"].MAC() == "00:00:00:00:00:01" and net["h2"].MAC() == "00:00:00:00:00:02"
    neighbours = net["h1"].cmd("ip neigh show")
    assert "10.0.0.2" in neighbours and "PERMANENT" in neighbours and "00:00:00:00:00:02" in neighbours
    net.stop()


def test_cpu_limits_with_cgroups(mn):
    host = mn.util.custom(mn.node.CPULimitedHost, cpu=0.1)
    net = single(mn, 1, host=host)
    net.start()
    fractions = net.runCpuLimitTest(cpu=0.1, duration=2)
    assert len(fractions) == 2 and all(0 < f < 25 for f in fractions), fractions
    net.stop()


def test_a_nat_from_nodelib(mn):
    topo = mn.topo.Topo()
    topo.addSwitch("s0")
    topo.addHost("h0")
    topo.addLink("s0", "h0")
    topo.addNode("nat1", cls=mn.nodelib.NAT, subnet="192.168.1.0/24", inetIntf="nat1-eth0", localIntf="nat1-eth1")
    topo.addSwitch("s1")
    topo.addLink("nat1", "s0", intfName1="nat1-eth0")
    topo.addLink("nat1", "s1", intfName1="nat1-eth1", params1={"ip": "192.168.1.1/24"})
    topo.addHost("h1", ip="192.168.1.100/24", defaultRoute="via 192.168.1.1")
    topo.addLink("h1", "s1")
    net = mn.net.Mininet(topo=topo, switch=mn.nodelib.LinuxBridge, controller=None)
    net.start()
    assert "0% packet loss" in net["h1"].cmd("ping -c1 -W2", net["h0"].IP())
    assert "nreachable" in net["h0"].cmd("ping -c1 -W1 192.168.1.100")
    with pytest.raises(Exception, match="never builds"):
        net.addNAT()
    net.stop()


def test_a_link_to_the_root_namespace_is_refused_saying_why(mn):
    """sshd.py's connectToRootNS: a Node(inNamespace=False) linked to a switch of the network."""
    net = single(mn, 1)
    from testbed.errors import TestbedError
    root = mn.node.Node("root", inNamespace=False)
    with pytest.raises(TestbedError, match="root namespace.*never connects a network"):
        net.addLink(root, net["s1"])
    net.start()
    assert [n.name for n in net.hosts] == ["h1"] and len(net.links) == 1      # nothing was added
    net.stop()


# ---------------------------------------------------------------- node

def test_the_persistent_shell_keeps_directory_variables_and_jobs(mn):
    net = single(mn, 2)
    net.start()
    h1 = net["h1"]
    assert h1.cmd("cd /tmp") == ""
    assert h1.cmd("pwd").strip() == "/tmp"
    h1.cmd("export GREETING=hello")
    assert h1.cmd("echo $GREETING").strip() == "hello"
    started = time.monotonic()
    h1.cmd("sleep 60 &")
    assert time.monotonic() - started < 5 and isinstance(h1.lastPid, int)
    assert "sleep 60" in h1.cmd("jobs")
    h1.cmd("kill %sleep")
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{h1.lastPid}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{h1.lastPid}") or open(f"/proc/{h1.lastPid}/stat").read().split()[2] == "Z"
    net.stop()


def test_send_monitor_wait_and_interrupt(mn):
    net = single(mn, 2)
    net.start()
    h1 = net["h1"]
    h1.sendCmd("echo one; sleep 0.3; echo two")
    assert h1.waiting
    out = h1.waitOutput()
    assert "one" in out and "two" in out and not h1.waiting
    h1.sendCmd("sleep 100")
    started = time.monotonic()
    time.sleep(0.2)
    h1.sendInt()
    h1.waitOutput()
    assert time.monotonic() - started < 10 and not h1.waiting
    assert h1.cmd("echo still-here").strip() == "still-here"
    net.stop()


def test_popen_pexec_and_processes_stopped_with_the_network(mn):
    net = single(mn, 2)
    net.start()
    h1, h2 = net["h1"], net["h2"]
    out, err, code = h1.pexec(f"ping -c1 -W2 {h2.IP()}")
    assert code == 0 and "1 received" in out
    proc = h2.popen("sleep 300")
    h1.cmd("sleep 300 &")
    netns = h1.namespace
    assert processes_in(netns)
    net.stop()
    assert proc.wait(timeout=10) is not None
    assert not os.path.exists(f"/run/netns/{netns}")


def test_interface_and_address_methods(mn):
    net = single(mn, 2)
    net.start()
    h1, h2, s1 = net["h1"], net["h2"], net["s1"]
    assert h1.intfNames() == ["h1-eth0"] and s1.intfNames() == ["lo", "s1-eth1", "s1-eth2"]
    assert h1.defaultIntf() is h1.intf() is h1.intf("h1-eth0") and h1.intfList() == list(h1.intfs.values())
    assert [(a.name, b.name) for a, b in h1.connectionsTo(s1)] == [("h1-eth0", "s1-eth1")]
    assert re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", h1.MAC())
    h1.setIP("10.0.0.11/8")
    assert h1.IP() == "10.0.0.11" and "10.0.0.11/8" in h1.cmd("ip -4 addr show h1-eth0")
    h1.setMAC("02:aa:00:00:00:01")
    assert h1.MAC() == "02:aa:00:00:00:01" and "02:aa:00:00:00:01" in h1.cmd("ip link show h1-eth0")
    assert "1 received" in h2.cmd("ping -c1 -W2 10.0.0.11")
    h1.setARP("10.0.0.99", "02:bb:00:00:00:99")
    assert "02:bb:00:00:00:99" in h1.cmd("ip neigh show 10.0.0.99")
    h1.setDefaultRoute("via 10.0.0.2")
    assert "default via 10.0.0.2" in h1.cmd("ip route")
    h1.setHostRoute("10.0.0.2", "h1-eth0")
    assert "10.0.0.2 dev h1-eth0" in h1.cmd("ip route")
    assert h1.intfIsUp() and h1.params["ip"] == "10.0.0.1/8"
    net.stop()


def test_custom_subclasses_run_their_config_start_and_terminate(mn, tmp_path):
    calls = []
    marker = tmp_path / "forwarding"

    class LinuxRouter(mn.node.Node):
        def config(self, **params):
            calls.append("config")
            result = super().config(**params)
            self.cmd("sysctl net.ipv4.ip_forward=1")
            return result

        def terminate(self):
            calls.append("terminate")
            marker.write_text(self.cmd("sysctl -n net.ipv4.ip_forward").strip())
            super().terminate()

    class CountingSwitch(mn.nodelib.LinuxBridge):
        def start(self, controllers):
            calls.append(f"start {self.name}")
            return super().start(controllers)

    class RouterTopo(mn.topo.Topo):
        def build(self):
            router = self.addNode("r0", cls=LinuxRouter, ip="192.168.1.1/24")
            s1, s2 = self.addSwitch("s1"), self.addSwitch("s2")
            self.addLink(s1, router, intfName2="r0-eth1", params2={"ip": "192.168.1.1/24"})
            self.addLink(s2, router, intfName2="r0-eth2", params2={"ip": "172.16.0.1/12"})
            h1 = self.addHost("h1", ip="192.168.1.100/24", defaultRoute="via 192.168.1.1")
            h2 = self.addHost("h2", ip="172.16.0.100/12", defaultRoute="via 172.16.0.1")
            self.addLink(h1, s1)
            self.addLink(h2, s2)

    net = mn.net.Mininet(topo=RouterTopo(), switch=CountingSwitch, controller=None)
    assert calls.count("config") == 1                 # build() configures hosts
    net.start()
    assert "start s1" in calls and "start s2" in calls
    out = net["h1"].cmd("ping -c1 -W2 172.16.0.100")
    assert "1 received" in out and "ttl=63" in out
    net.stop()
    assert calls[-1] == "terminate" and marker.read_text() == "1"


def test_nodes_made_without_a_mininet_object(mn):
    h0, h1 = mn.node.Host("h0"), mn.node.Host("h1")
    switch = mn.node.Node("s0")
    mn.link.Link(h0, switch)
    mn.link.Link(h1, switch)
    h0.setIP("192.168.123.1/24")
    h1.setIP("192.168.123.2/24")
    switch.cmd("ip link add br0 type bridge && ip link set s0-eth0 master br0 && ip link set s0-eth1 master br0 "
               "&& ip link set br0 up")
    assert "1 received" in h0.cmd("ping -c1 -W2 192.168.123.2")
    netns = h0.namespace
    mn.clean.cleanup()
    assert not os.path.exists(f"/run/netns/{netns}")


# ---------------------------------------------------------------- link

def test_tclink_rate_and_intf_config_change_a_running_link(mn):
    topo = mn.topo.Topo()
    topo.addHost("h1")
    topo.addHost("h2")
    topo.addSwitch("s1")
    topo.addLink("h1", "s1", bw=10)
    topo.addLink("h2", "s1")
    net = mn.net.Mininet(topo=topo, link=mn.link.TCLink, switch=mn.nodelib.LinuxBridge, controller=None)
    net.start()
    rate = float(net.iperf(seconds=2)[0].split()[0])
    assert 8.5 <= rate <= 10.0, rate
    link = net.linksBetween(net["h1"], net["s1"])[0]
    link.intf1.config(bw=20)                     # what h1 sends: 20 Mbit/s now
    rate = float(net.iperf(seconds=2)[0].split()[0])
    assert 17.5 <= rate <= 20.0, rate
    assert "rate 20Mbit" in net["h1"].cmd("tc class show dev h1-eth0")
    link.intf1.config(loss=50)                   # as Mininet: the rate goes, the loss comes
    assert "htb" not in net["h1"].cmd("tc qdisc show dev h1-eth0")
    net.stop()


def test_what_the_kernel_lacks_is_refused_naming_the_vm(mn):
    topo = mn.topo.Topo()
    topo.addHost("h1")
    topo.addHost("h2")
    topo.addLink("h1", "h2", delay="5ms")
    net = mn.net.Mininet(topo=topo, link=mn.link.TCLink, controller=None, build=False)
    import testbed
    if "netem" in testbed.kernel_features():
        pytest.skip("this kernel has netem")
    with pytest.raises(testbed.EnvironmentProblem, match="--vm"):
        net.build()
    net.stop()


def test_link_and_intf_state_methods(mn):
    net = single(mn, 2)
    net.start()
    link = net.links[0]
    assert str(link) == "h1-eth0<->s1-eth1" and link.status() == "(OK OK)"
    intf = link.intf1
    assert intf.isUp()
    intf.ifconfig("down")
    assert not intf.isUp()
    assert intf.isUp(setUp=True) and intf.isUp()
    assert intf.updateIP() == "10.0.0.1" and intf.updateMAC() == intf.MAC()
    link.delete()
    assert net["h1"].intfNames() == [] and "h1-eth0" not in net["h1"].cmd("ip link")
    net.stop()


# ---------------------------------------------------------------- cli

def test_cli_script_runs_mininet_commands_with_mininet_output(mn, tmp_path, capfd):
    net = single(mn, 2)
    net.start()
    script = tmp_path / "cmds"
    script.write_text("nodes\nnet\nintfs\nlinks\npingall\nh1 cd /tmp\nh1 pwd\nh1 ping -c1 -W2 h2\n"
                      "link h1 s1 bw 5\npy h1.IP()\nx h1\nports\n")
    mn.cli.CLI(net, script=str(script))
    out = printed(capfd)
    assert "available nodes are: \nh1 h2 s1" in out
    assert "h1 h1-eth0:s1-eth1" in out and "s1 lo:  s1-eth1:h1-eth0 s1-eth2:h2-eth0" in out
    assert "h1: h1-eth0" in out and "s1: lo,s1-eth1,s1-eth2" in out
    assert "h1-eth0<->s1-eth1 (OK OK)" in out
    assert "*** Results: 0% dropped (2/2 received)" in out
    assert "/tmp" in out and "1 packets transmitted, 1 received" in out
    assert "*** h1 <-> s1: bw=5" in out and "rate 5Mbit" in net["h1"].cmd("tc class show dev h1-eth0")
    assert "10.0.0.1" in out and f"ip netns exec {net['h1'].namespace} bash" in out
    assert "s1 lo:0 s1-eth1:1 s1-eth2:2" in out
    net.stop()


# ---------------------------------------------------------------- util and clean

def test_util_helpers(mn, capfd):
    u = mn.util
    assert u.ipStr(0x0A000001) == "10.0.0.1" and u.ipParse("10.0.0.1") == 0x0A000001
    assert u.ipAdd(5, prefixLen=24, ipBaseNum=u.ipParse("192.168.1.0")) == "192.168.1.5"
    assert u.netParse("10.0.0.0/8") == (0x0A000000, 8) and u.macColonHex(1) == "00:00:00:00:00:01"
    assert list(u.irange(1, 3)) == [1, 2, 3] and u.makeNumeric("3") == 3 and u.makeNumeric("2.5") == 2.5
    assert sorted(["h10", "h2", "h1"], key=u.natural) == ["h1", "h2", "h10"]
    assert u.splitArgs("tree,2,fanout=3") == ("tree", [2], {"fanout": 3})
    assert u.quietRun("echo hi").strip() == "hi" and u.errRun("sh -c 'echo e >&2; exit 3'") == ("", "e\n", 3)
    with pytest.raises(Exception, match="exit code 3"):
        u.errFail("sh -c 'exit 3'")
    made = []
    maker = u.custom(lambda name, **params: made.append((name, params)), ip="10.0.0.77/8")
    maker("hz", mac="02:00:00:00:00:77")
    assert made == [("hz", {"ip": "10.0.0.77/8", "mac": "02:00:00:00:00:77"})]
    cls = u.customClass({"cfs": mn.node.CPULimitedHost}, "cfs,cpu=0.5")
    assert issubclass(cls, mn.node.CPULimitedHost)
    net = single(mn, 2)
    net.start()
    capfd.readouterr()
    u.dumpNodeConnections(net.hosts)
    assert printed(capfd) == "h1 h1-eth0:s1-eth1\nh2 h2-eth0:s1-eth2\n"
    server = net["h2"].popen("python3 -m http.server 8123 --bind 0.0.0.0")
    assert u.waitListening(net["h1"], net["h2"], 8123, timeout=10)
    assert not u.waitListening(net["h1"], net["h2"], 8124, timeout=0.5)
    popens = {h: h.popen(f"ping -c2 -i0.2 {net['h1'].IP()}") for h in net.hosts}
    lines = [(h.name, line) for h, line in u.pmonitor(popens, timeoutms=200) if h]
    assert {name for name, line in lines if "2 packets transmitted, 2 received" in line} == {"h1", "h2"}
    server.terminate()
    net.stop()


def test_cleanup_stops_this_process_networks(mn):
    net = single(mn, 2)
    net.start()
    netns = net["h1"].namespace
    mn.clean.cleanup()
    assert not os.path.exists(f"/run/netns/{netns}")
    with pytest.raises(Exception, match="by PID"):
        mn.clean.killprocs("ovs")


def test_ovs_tools_outside_the_switches_reach_the_switch_they_name(mn):
    net = mn.net.Mininet(topo=mn.topo.LinearTopo(2), switch=mn.node.OVSBridge, controller=None)
    net.start()
    out = subprocess.run(["ovs-vsctl", "list-ports", "s2"], capture_output=True, text=True).stdout
    assert out.split() == ["s2-eth1", "s2-eth2"]
    out = subprocess.run(["ovs-ofctl", "dump-flows", "s1"], capture_output=True, text=True).stdout
    assert "actions=NORMAL" in out
    bridges = subprocess.run(["ovs-vsctl", "list-br"], capture_output=True, text=True).stdout.split()
    assert bridges == ["s1", "s2"]
    shown = net["s2"].cmd("ovs-appctl dpctl/show")            # the switch's own ovs-vswitchd, by default
    assert "lookups:" in shown and ": s2-eth1" in shown and ": s2-eth2" in shown, shown
    net.stop()
