"""Router advertisements and SLAAC: ``ra=True`` on a router, ``ip6="slaac"`` on a host.

Graph convention: ``g.add_node("r1", kind="router", ipv6=True, ra=True)`` advertises the
router's IPv6 prefixes on every interface that has one, and ``g.add_node("h1",
kind="host", ip6="slaac")`` takes its IPv6 address and IPv6 default route from those
advertisements (stateless address autoconfiguration) instead of from the build.

The plan still says which address that is: the LAN's /64 and the modified EUI-64 interface
id of the host's planned MAC, so hosts files, neighbour entries, pingall and the expected
reachability know it beforehand. The run starts one dnsmasq per advertising router (router
advertisements only: no DHCP, no DNS), journaled by PID with its files in the run's folder,
and waits until every SLAAC host has its planned address, usable, and a default route from
an advertisement; an address other than the planned one (another ``addr_gen_mode`` in the
host's sysctls) is an error that says so. A SLAAC host solicits advertisements whenever its
link comes up, so it has its address back when ``link_up`` returns.

Every other IPv6 node ignores advertisements (``accept_ra=0``): its addresses and routes are
the plan's.
"""
from __future__ import annotations

import ipaddress
import shutil
from dataclasses import dataclass
from typing import Any

from testbed.concerns.base import Concern
from testbed.errors import DeployError, EnvironmentProblem, Problem
from testbed.model import values
from testbed.model.schema import attr, table

INTERVAL = 10                    # seconds between unsolicited advertisements
ROUTER_LIFETIME = 1800           # seconds a host keeps the advertised default route
SLAAC_TIMEOUT = 30.0             # seconds for every SLAAC host to have its address and route


@dataclass(frozen=True)
class Advertiser:
    node: str
    interfaces: tuple[tuple[str, str], ...]     # (ifname, prefix) it advertises on


@dataclass(frozen=True)
class SlaacHost:
    node: str
    interface: str
    address: str                                 # the CIDR autoconfiguration gives it (EUI-64 of its MAC)
    router: str                                  # the advertising router its default route goes to


@dataclass(frozen=True)
class RaSetup:
    routers: tuple[Advertiser, ...] = ()
    hosts: tuple[SlaacHost, ...] = ()


class RouterAdvertisements(Concern):
    name = "ra"
    node_attrs = table(attr("ra", values.boolean, "send IPv6 router advertisements (dnsmasq) with the router's "
                            "prefixes on every interface that has one, for hosts with ip6='slaac'", type="bool",
                            default="False", example="ra=True"))

    def accepts(self, kind: Any) -> bool:
        return kind.forwards and kind.ipv6

    def problems(self, topo) -> list[Problem]:
        found = []
        for node in topo.nodes:
            where = f"node {node.name!r}"
            if node.get("ra") is True and not node.ipv6:
                found.append(Problem(where, "has ra=True but IPv6 is off in it", "give it ipv6=True (or the "
                                     "graph's ipv6=True)"))
            if node.get("ip6") != "slaac":
                continue
            if node.kind.forwards:
                found.append(Problem(where, "ip6='slaac' is for hosts: a router forwards and ignores router "
                                     "advertisements", "give the router an IPv6 address, or let it be numbered"))
            elif not node.ipv6:
                found.append(Problem(where, "has ip6='slaac' but IPv6 is off in it (ipv6=False)",
                                     "remove ipv6=False, or the ip6"))
            elif node.first is None:
                found.append(Problem(where, "has ip6='slaac' but no link to take an address on",
                                     "link it to a LAN with an advertising router (ra=True)"))
            six = [dst for dst, via in node.get("routes") or () if ":" in via]
            if six:
                found.append(Problem(where, f"has ip6='slaac' and IPv6 routes ({', '.join(six)}): its IPv6 address "
                                     "comes from router advertisements after the build, so those cannot be "
                                     "installed", "give the host a static ip6, or route through the "
                                     "advertising router"))
        return found

    def plan(self, planned) -> RaSetup | None:
        topo = planned.topo
        routers = []
        for node in topo.nodes:
            if node.get("ra") is True and node.ipv6:
                ifaces = tuple((ifname, str(ipaddress.ip_interface(planned.addresses6[(node.name, ifname)]).network))
                               for ifname in node.ifnames if (node.name, ifname) in planned.addresses6)
                if not ifaces:
                    planned.problems.append(Problem(f"node {node.name!r}", "has ra=True but no IPv6 address to "
                                                    "advertise a prefix of", "link it to a LAN with IPv6"))
                    continue
                routers.append(Advertiser(node.name, ifaces))
        hosts = []
        for node in topo.nodes:
            if node.get("ip6") != "slaac" or not node.ipv6 or node.kind.forwards or node.first is None:
                continue
            host = self._host(planned, node, routers)
            if host is not None:
                hosts.append(host)
        return RaSetup(tuple(routers), tuple(hosts)) if routers or hosts else None

    def _host(self, planned, node, routers) -> SlaacHost | None:
        where = f"node {node.name!r}"
        key = node.first.key
        segment = planned.segment_of(key)
        prefix = segment.network6 if segment is not None else None
        if prefix is None or ipaddress.ip_network(prefix).prefixlen != 64:
            planned.problems.append(Problem(where, f"has ip6='slaac' but its LAN's prefix is {prefix}: "
                                            "autoconfiguration needs a /64", "declare a /64 on that LAN"))
            return None
        members = set(segment.interfaces)
        advertising = [r.node for r in routers if any((r.node, ifname) in members for ifname, _ in r.interfaces)]
        if not advertising:
            planned.problems.append(Problem(where, "has ip6='slaac' but no router advertises on its LAN",
                                            "give a router on that LAN ra=True"))
            return None
        default = next((r.via for r in planned.node(node.name).routes if r.dst == "default" and ":" in r.via), None)
        owner = next((n for (n, _), cidr in planned.addresses6.items()
                      if default is not None and cidr.split("/")[0] == default), None)
        if owner not in advertising:
            planned.problems.append(Problem(where, f"takes its IPv6 default route from router advertisements, "
                                            f"but its planned IPv6 default route goes via {owner or default} "
                                            f"(advertising: {', '.join(advertising)})",
                                            f"set default_route={advertising[0]!r}, or ra=True on {owner}"))
            return None
        return SlaacHost(node.name, key[1], planned.addresses6[key], owner)

    def start(self, net) -> dict:
        """Start every advertising router's dnsmasq, then wait for every SLAAC host's address and route."""
        setup = net.plan.concern(self.name)
        if setup is None:
            return {}
        started = [(router, *start_dnsmasq(net, router)) for router in setup.routers]
        pending = list(setup.hosts)

        def configured() -> bool:
            for router, proc, log in started:
                if proc.poll() is not None:
                    raise DeployError(f"dnsmasq (router advertisements) on {router.node} exited with "
                                       f"status {proc.returncode}: see {log}")
            pending[:] = [h for h in pending if not autoconfigured(net, h)]
            return not pending
        try:
            net.wait_ready("SLAAC addresses and advertised default routes", configured, timeout=SLAAC_TIMEOUT)
        except DeployError as exc:
            if not pending:
                raise
            have = "; ".join(f"{h.node}: {', '.join(found_addresses(net[h.node], h.interface)) or 'no global address'}"
                             for h in pending[:5])
            waiting = ", ".join(f"{h.node} {h.address}" for h in pending[:5])
            raise DeployError(f"{exc}: waiting for {waiting} and a default route from an advertisement "
                               f"(global addresses now: {have})") from None
        return {}


def _tool(name: str, package: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        raise EnvironmentProblem(f"{name} is not installed: apt-get install {package}")
    return path


def found_addresses(node, ifname: str) -> list[str]:
    """The global IPv6 addresses of ``ifname`` (CIDRs, "tentative" where so)."""
    out = node.cmd(["ip", "-6", "-o", "addr", "show", "dev", ifname, "scope", "global"])
    return [_shown(line) for line in out.splitlines() if len(line.split()) > 3]


def _shown(line: str) -> str:
    return line.split()[3] + (" tentative" if "tentative" in line else "")


def autoconfigured(net, host: SlaacHost) -> bool:
    """Whether ``host`` has its planned address (usable: not tentative) and an advertised default route."""
    node = net[host.node]
    out = node.cmd(["ip", "-6", "-o", "addr", "show", "dev", host.interface])
    ready = any(line.split()[3] == host.address and "tentative" not in line for line in out.splitlines()
                if len(line.split()) > 3)
    if not ready:
        return False
    return "proto ra" in node.cmd(["ip", "-6", "route", "show", "default", "dev", host.interface])


def start_dnsmasq(net, router: Advertiser):
    """dnsmasq sending router advertisements (and answering solicitations) only."""
    node = net[router.node]
    name = f"ra-{router.node}"
    argv = [_tool("dnsmasq", "dnsmasq"), "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
            "--no-resolv", "--no-hosts", "--bind-interfaces", "--except-interface=lo", "--enable-ra",
            f"--pid-file={net.run_file(name + '.pid')}", f"--log-facility={net.run_file(name + '.log')}",
            "--user=root", "--group=root"]
    for ifname, _ in router.interfaces:
        argv += [f"--interface={ifname}", f"--dhcp-range=::,constructor:{ifname},ra-only,64",
                 f"--ra-param={ifname},{INTERVAL},{ROUTER_LIFETIME}"]
    log = net.run_file(name + ".err")
    return net.popen_logged(node, argv, log), log


CONCERN = RouterAdvertisements()
