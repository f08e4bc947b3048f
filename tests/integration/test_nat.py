"""NAT gateway: LAN hosts reach the emulated internet masqueraded; inbound only via forwards."""
from __future__ import annotations

from l2util import connect, needs_root, nothing_left, serve_http

from testbed import Network, load

pytestmark = needs_root


def test_nat_masquerades_out_and_blocks_inbound_except_forwards():
    graph, params = load("topologies/nat.py", {})
    net = Network(graph, source="nat", params=params)
    with nothing_left(net):
        with net:
            nat, web, h1, h2 = net["nat"], net["web"], net["h1"], net["h2"]
            result = net.pingall()
            assert result.ok, result.matrix()
            expected = {(p.src, p.dst): p.expected for p in result.pairs}
            assert expected[("h1", "web")] and not expected[("web", "h1")]
            assert any(p.received for p in result.pairs if p.src == "h2" and p.dst == "web")

            serve_http(web)
            serve_http(h1)
            # allowed: out through the NAT; web sees the NAT's outside address only
            assert connect(h2, "203.0.113.80", 80)
            assert nat_counter(net, "masqueraded") >= 1
            # allowed: the declared forward 8080 -> h1:80
            assert connect(web, "203.0.113.1", 8080)
            assert nat_counter(net, "forwarded_in") >= 1
            # blocked: an undeclared port (nothing forwarded: the NAT itself refuses)
            assert not connect(web, "203.0.113.1", 8081)
            # blocked: an outside host that routes straight at the LAN is dropped and counted
            web.run("ip route add 10.0.0.0/24 via 203.0.113.1", check=True)
            before = nat_counter(net, "inbound_blocked")
            assert not connect(web, "10.0.0.2", 80, timeout=1.0)
            assert nat_counter(net, "inbound_blocked") > before
            assert h2.cmd("ping -c1 -W1 10.0.0.2").count(" 0% packet loss") == 1   # LAN unaffected
            tables = nat.cmd(["nft", "list", "tables"])
            assert "testbed_nat" in tables
            run_ns = nat.netns
        assert run_ns not in subprocess_namespaces()


def nat_counter(net, name: str) -> int:
    return net.nat_counters("nat")[name]


def subprocess_namespaces() -> set[str]:
    from l2util import namespaces
    return namespaces()
