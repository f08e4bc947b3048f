"""Two LANs joined by routers: static routes from the graph; TTL drops by one per router."""
from __future__ import annotations

import re

import pytest

from itest import load_network


def reply_ttl(output: str) -> int:
    found = re.findall(r"ttl=(\d+)", output)
    assert found, output
    return int(found[0])


@pytest.mark.parametrize("routers", [1, 2, 3])
def test_routed_lans(routers):
    with load_network("routed", routers=routers) as net:
        result = net.pingall()
        assert result.ok, result.matrix()
        assert all(p.expected and p.received == 1 for p in result.pairs), result.matrix()
        h3 = net.plan.node("h3").addresses[0].split("/")[0]
        # same LAN: no router in between
        assert reply_ttl(net["h1"].cmd("ping -c1 -W2 h2")) == 64
        # across: the reply was forwarded by every router on the way back
        assert reply_ttl(net["h1"].cmd(["ping", "-c1", "-W2", h3])) == 64 - routers
        # routers forward, hosts do not
        assert net["r1"].cmd("cat /proc/sys/net/ipv4/ip_forward").strip() == "1"
        assert net["h1"].cmd("cat /proc/sys/net/ipv4/ip_forward").strip() == "0"


def test_routes_are_installed_as_planned():
    with load_network("routed", routers=2) as net:
        table = net["r1"].cmd(["ip", "route", "show"])
        assert "10.0.1.0/24 via 10.0.2.2" in table, table
        assert "default via 10.0.0.1" in net["h1"].cmd(["ip", "route", "show"])


def test_link_down_cuts_the_far_lan_off():
    with load_network("routed", routers=2) as net:
        net.link_down("r1", "r2")
        result = net.pingall(timeout=0.5)
        lost = {(p.src, p.dst) for p in result.pairs if p.received == 0}
        assert lost == {(a, b) for a in ("h1", "h2") for b in ("h3", "h4")} | \
            {(b, a) for a in ("h1", "h2") for b in ("h3", "h4")}
        net.link_up("r1", "r2")
        result = net.pingall()
        assert result.ok, result.matrix()


def test_host_default_route_comes_back_after_link_up():
    with load_network("routed", routers=1) as net:
        net.link_down("h1", "s1")
        assert "default" not in net["h1"].cmd(["ip", "route", "show"])
        net.link_up("h1", "s1")
        assert "default via 10.0.0.1" in net["h1"].cmd(["ip", "route", "show"])
        result = net.pingall()
        assert result.ok, result.matrix()
