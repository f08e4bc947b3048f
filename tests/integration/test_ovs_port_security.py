"""Port security on an Open vSwitch switch (OpenFlow flows): binding and MAC limits, counted drops."""
from __future__ import annotations

import re

import pytest
from l2util import build_shipped, needs_root, nothing_left, pings, port_of

from testbed import Network
from testbed.cli.main import main
from testbed.kernel import nft
from testbed.ovs import daemons as ovs
from testbed.ovs.records import switch_of

pytestmark = [needs_root, pytest.mark.skipif(bool(ovs.missing_tools()), reason="needs openvswitch-switch"),
              pytest.mark.timeout(60)]


def build(**params) -> Network:
    return build_shipped("port_security", backend="ovs", **params)


def test_ovs_binding_allows_the_bound_host_and_drops_spoofed_ip_and_mac():
    net = build()
    with nothing_left(net):
        with net:
            h1, h2 = net["h1"], net["h2"]
            port = port_of(net, "h1")
            assert pings(h1, h2.ip) == 3                                   # bound IP and MAC: allowed
            assert net.port_security_counters("s1")[port] == {"mac": 0, "ip": 0, "macs": 0}
            assert nft.tables(net["s1"].netns) == []                       # flows, not nftables
            h1.run("ip addr flush dev h1-eth0 && ip addr add 10.0.0.99/24 dev h1-eth0", check=True)
            assert pings(h1, h2.ip) == 0                                   # spoofed source IP
            after_ip = net.port_security_counters("s1")[port]
            assert after_ip["ip"] >= 1 and after_ip["mac"] == 0
            h1.run("ip addr flush dev h1-eth0 && ip addr add 10.0.0.11/24 dev h1-eth0 && "
                   "ip link set dev h1-eth0 address 02:00:00:00:0e:0e", check=True)
            assert pings(h1, h2.ip) == 0                                   # spoofed source MAC
            assert net.port_security_counters("s1")[port]["mac"] >= 1
            h1.run("ip link set dev h1-eth0 address 02:00:00:00:01:01", check=True)
            assert pings(h1, h2.ip) == 3                                   # back to the binding: allowed
            assert pings(h2, net["phys"].ip) == 3                          # unbound ports unaffected


def test_ovs_one_mac_per_port_blocks_macvlan_children_until_relaxed(capsys):
    for relax in (False, True):
        net = build(relax=relax)
        with nothing_left(net):
            with net:
                phys, c1, c2, h2 = net["phys"], net["c1"], net["c2"], net["h2"]
                port = port_of(net, "phys")
                assert pings(phys, h2.ip) == 3                   # the first MAC on the port is learned
                got = pings(c1, h2.ip) + pings(c2, h2.ip)
                counters = net.port_security_counters("s1")
                ofport = switch_of(net.plan, "s1").port(port).ofport
                slots = re.findall(rf"table=5,.*reg4=0x(\d+),in_port={ofport} ", net.dpctl("s1"))
                if relax:                                        # three MACs allowed: all learned
                    assert got == 6 and counters[port]["macs"] == 0
                    assert sorted(slots) == ["1", "2", "3"]
                else:
                    assert got == 0 and counters[port]["macs"] >= 2     # c1's and c2's MACs: over the limit
                    assert slots == ["1"]
                    assert pings(phys, h2.ip) == 3                      # the learned MAC keeps working
                    learned = f"priority=100,in_port={ofport},dl_src={phys.plan.interfaces[0].mac}"
                    assert learned in net.dpctl("s1")                   # the learned (port, MAC) flow
                    assert main(["counters", net.run_id, "s1"]) == 0    # from another terminal
                    out = capsys.readouterr().out
                    shown = re.search(rf"s1 {port}: dropped mac 0, ip 0, macs (\d+)", out)
                    assert shown and int(shown.group(1)) >= counters[port]["macs"]   # c1/c2 may retry ARP
