"""DHCP: dnsmasq and dhclient started and stopped by the run; snooping binds, blocks spoofers and rogues."""
from __future__ import annotations

import ipaddress
import json
import os
import sys

from l2util import alive, build_shipped, needs_root, nothing_left, pings

from testbed import Network

pytestmark = needs_root


def build(**params) -> Network:
    return build_shipped("dhcp", **params)


def offers(node, ifname: str) -> set[str]:
    """The DHCP servers whose OFFERs reach ``node``."""
    out = node.run([sys.executable, "-m", "testbed.concerns.dhcp.probe", ifname, "--wait", "1"],
                   timeout=20, check=True).stdout
    return {o["server"] for o in json.loads(out)}


def service_pids(net: Network) -> dict[str, int]:
    folder = f"/run/testbed/{net.run_id}"
    return {name: int(open(os.path.join(folder, name)).read()) for name in os.listdir(folder)
            if name.endswith(".pid")}


def test_hosts_get_leases_and_snooping_blocks_a_static_ip_it_never_gave():
    net = build(hosts=2, snooping=True)
    with nothing_left(net):
        with net:
            h1, h2, srv = net["h1"], net["h2"], net["srv"]
            pool = [ipaddress.ip_address(a) for a in ("10.0.0.100", "10.0.0.200")]
            assert set(net.leases) == {("h1", "h1-eth0"), ("h2", "h2-eth0")}
            for cidr in net.leases.values():
                assert pool[0] <= ipaddress.ip_interface(cidr).ip <= pool[1]
            assert net.plan.node("h1").addresses == []           # planned without an address
            result = net.pingall()                               # expected reachability uses the leases
            assert result.ok and all(p.expected for p in result.pairs), result.matrix()
            bound = {tuple(e["elem"]["val"]["concat"]) for e in net.dhcp_bindings("s1")}
            assert bound == {(net.link(h, "s1")[0].other(h)[1], net.plan.node(h).interfaces[0].mac,
                              net[h].ip) for h in ("h1", "h2")}
            # a host that sets an address the server never gave it is cut off, and counted
            h1_port = net.link("h1", "s1")[0].other("h1")[1]
            h1.run("ip addr flush dev h1-eth0 && ip addr add 10.0.0.77/24 dev h1-eth0", check=True)
            assert pings(h1, srv.ip) == 0
            assert net.port_security_counters("s1")[h1_port]["unbound"] >= 1
            assert pings(h2, srv.ip) == 3                        # the bound neighbour is unaffected
            pids = service_pids(net)
            assert {"dnsmasq-srv.pid", "dhclient-h1.pid", "dhclient-h2.pid"} <= set(pids)
            assert all(alive(pid) for pid in pids.values())
            folder = f"/run/testbed/{net.run_id}"
            assert os.path.getsize(os.path.join(folder, "dnsmasq-srv.leases")) > 0
    assert not any(alive(pid) for pid in pids.values())          # stopped by PID at teardown
    assert not os.path.exists(folder)


def test_rogue_dhcp_server_on_an_untrusted_port_is_blocked_only_with_snooping():
    for snooping in (False, True):
        net = build(hosts=1, snooping=snooping, rogue=True)
        with nothing_left(net):
            with net:
                heard = offers(net["h1"], "h1-eth0")
                if snooping:
                    assert heard == {"10.0.0.1"}
                    rogue_port = net.link("rogue", "s1")[0].other("rogue")[1]
                    assert net.port_security_counters("s1")[rogue_port]["rogue"] >= 1
                    lease = ipaddress.ip_interface(net.leases[("h1", "h1-eth0")]).ip
                    assert ipaddress.ip_address("10.0.0.100") <= lease <= ipaddress.ip_address("10.0.0.200")
                else:
                    assert heard == {"10.0.0.1", "10.0.0.250"}   # the rogue's offers get through
                pids = service_pids(net)
        assert not any(alive(pid) for pid in pids.values())


CRASHER = """
import sys, time
from testbed import Network, load
graph, params = load("topologies/dhcp.py", {"hosts": "1"})
net = Network(graph, source="dhcp", params=params).start()
print(net.run_id, flush=True)
time.sleep(600)
"""


def test_testbed_clean_stops_dhcp_daemons_of_a_killed_run():
    import signal
    import subprocess
    import time

    from testbed.cli.main import main
    from testbed.kernel.journal import run_dir

    proc = subprocess.Popen([sys.executable, "-c", CRASHER], stdout=subprocess.PIPE, text=True)
    try:
        run_id = proc.stdout.readline().strip()
        assert run_id, "the network did not start"
        pids = {name: int(open(os.path.join(run_dir(run_id), name)).read())
                for name in os.listdir(run_dir(run_id)) if name.endswith(".pid")}
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert set(pids) == {"dnsmasq-srv.pid", "dhclient-h1.pid"}
    assert all(alive(pid) for pid in pids.values())              # orphaned by the crash
    assert main(["clean", run_id]) == 0
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in pids.values())
    assert not os.path.exists(run_dir(run_id))
    from l2util import namespaces
    assert not {n for n in namespaces() if n.startswith(run_id + "-")}
