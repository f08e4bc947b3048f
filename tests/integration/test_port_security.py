"""Port security on a Linux bridge: IP-MAC binding and MAC limits, with counted drops."""
from __future__ import annotations

from l2util import build_shipped, needs_root, nothing_left, pings, port_of

from testbed import Network
from testbed.cli.main import main
from testbed.concerns import status_of as node_counters
from testbed.kernel import nft

pytestmark = needs_root


def build(**params) -> Network:
    return build_shipped("port_security", **params)


def test_binding_allows_the_bound_host_and_drops_spoofed_ip_and_mac():
    net = build()
    with nothing_left(net):
        with net:
            h1, h2 = net["h1"], net["h2"]
            port = port_of(net, "h1")
            assert pings(h1, h2.ip) == 3                                   # bound IP and MAC: allowed
            assert net.port_security_counters("s1")[port] == {"mac": 0, "ip": 0, "macs": 0, "rogue": 0,
                                                               "unbound": 0}
            # a spoofed source IP (h1 takes another address) is dropped and counted
            h1.run("ip addr flush dev h1-eth0 && ip addr add 10.0.0.99/24 dev h1-eth0", check=True)
            assert pings(h1, h2.ip) == 0
            assert net.port_security_counters("s1")[port]["ip"] >= 1
            # a spoofed source MAC with the right IP is dropped and counted too
            h1.run("ip addr flush dev h1-eth0 && ip addr add 10.0.0.11/24 dev h1-eth0 && "
                   "ip link set dev h1-eth0 address 02:00:00:00:0e:0e", check=True)
            assert pings(h1, h2.ip) == 0
            assert net.port_security_counters("s1")[port]["mac"] >= 1
            # h2's port has no binding: still fine
            assert pings(h2, net["phys"].ip) == 3
            assert ("bridge", "testbed_l2") in nft.tables(net["s1"].netns)


def test_one_mac_per_port_blocks_macvlan_children_until_relaxed():
    for relax in (False, True):
        net = build(relax=relax)
        with nothing_left(net):
            with net:
                phys, c1, c2, h2 = net["phys"], net["c1"], net["c2"], net["h2"]
                port = port_of(net, "phys")
                assert pings(phys, h2.ip) == 3                   # the first MAC on the port is learned
                got = pings(c1, h2.ip) + pings(c2, h2.ip)
                dropped = net.port_security_counters("s1")[port]["macs"]
                if relax:
                    assert got == 6 and dropped == 0
                else:
                    assert got == 0 and dropped >= 2             # c1's and c2's MACs are over the limit
                    assert pings(phys, h2.ip) == 3               # the learned MAC keeps working
                    # `testbed counters RUN NODE` reads the same counters from nft alone
                    assert main(["counters", "s1", "--run", net.run_id]) == 0
                    assert node_counters(net["s1"].netns)["ports"][port]["macs"] == dropped
                    # in-thread (libnftables in the worker) and through the nft tool: the same
                    assert node_counters(net["s1"].netns, net.worker) == node_counters(net["s1"].netns)
