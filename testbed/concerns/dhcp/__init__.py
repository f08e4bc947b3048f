"""DHCP: a ``dhcp_server`` role on a host and hosts whose ``ip`` is "dhcp".

Graph convention: ``g.add_node("srv", kind="host", ip="10.0.0.1/24",
dhcp_server={"range": "10.0.0.100,10.0.0.200"})`` (range optional: the upper half of the
LAN; ``lease`` seconds and ``router`` (an IP or a router's name) optional) and
``g.add_node("h1", kind="host", ip="dhcp")``. The planner gives dhcp hosts no address;
they get one at run time: the run starts a dnsmasq per server and a real DHCP client
(isc-dhcp-client's dhclient) per client, inside their nodes, journaled by PID, with
their lease, pid and log files in the run's folder, and waits for every lease. The
client's hook script only sets the interface's address (nothing under /etc is touched).
DHCP snooping is the port security concern's (testbed/concerns/portsec/).
"""
from __future__ import annotations

import ipaddress
import os
import shutil
from dataclasses import dataclass
from typing import Any, Mapping

from testbed.concerns.base import Concern
from testbed.errors import EnvironmentProblem, Problem
from testbed.model import values
from testbed.model.schema import Attr, Invalid, Invalids, table

SERVER_KEYS = ("range", "lease", "router")
MIN_LEASE = 120                        # dnsmasq refuses shorter leases
MAX_LEASE = 2**31 - 1                  # seconds: dnsmasq and DHCP clients hold leases in 32 bits
HOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dhclient-script")
# retry quickly on a LAN of namespaces (the defaults wait up to 10 s between DISCOVERs)
CLIENT_CONF = "initial-interval 1;\nbackoff-cutoff 2;\ntimeout 60;\n"
LEASE_TIMEOUT = 30.0


@dataclass(frozen=True)
class DhcpServer:
    node: str
    interface: str
    address: str                    # its own CIDR on the LAN
    first: str                      # first and last address it leases
    last: str
    lease_seconds: int = 3600
    router: str | None = None       # default gateway it hands out, if any


@dataclass(frozen=True)
class DhcpClient:
    node: str
    interface: str


@dataclass(frozen=True)
class DhcpSetup:
    servers: tuple[DhcpServer, ...] = ()
    clients: tuple[DhcpClient, ...] = ()

    def client(self, node: str) -> DhcpClient | None:
        return next((c for c in self.clients if c.node == node), None)


def parse_range(value: Any) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address] | None:
    if not isinstance(value, str) or value.count(",") != 1:
        return None
    try:
        first, last = (ipaddress.IPv4Address(v.strip()) for v in value.split(","))
    except ValueError:
        return None
    return (first, last) if first <= last else None


def parse_server(spec: Any) -> dict:
    """{range: 'first,last', lease: seconds, router: IP or a router's name}, each checked."""
    if not isinstance(spec, Mapping):
        raise Invalid(f"dhcp_server {spec!r} must be a dict", "e.g. {'range': '10.0.0.100,10.0.0.200'}")
    bad = [Invalid(f"unknown dhcp_server setting {key!r}", f"known: {', '.join(SERVER_KEYS)}")
           for key in spec if key not in SERVER_KEYS]
    if "range" in spec and parse_range(spec["range"]) is None:
        bad.append(Invalid(f"dhcp_server range {spec['range']!r} is not 'first,last' IPv4",
                           "e.g. '10.0.0.100,10.0.0.200'"))
    lease = spec.get("lease")
    if "lease" in spec and (isinstance(lease, bool) or not isinstance(lease, int) or not MIN_LEASE <= lease <= MAX_LEASE):
        bad.append(Invalid(f"dhcp_server lease {lease!r} must be an integer of seconds, {MIN_LEASE} to {MAX_LEASE}"))
    router = spec.get("router")
    if "router" in spec and not (isinstance(router, str) and (not values.ip_address(router) or
                                                              not values.node_name(router))):
        bad.append(Invalid(f"dhcp_server router {router!r} is neither an IPv4 address nor a router's name",
                           "e.g. router='r1' or router='10.0.0.254'"))
    if bad:
        raise Invalids(bad)
    return dict(spec)


class Dhcp(Concern):
    name = "dhcp"
    node_attrs = table(Attr("dhcp_server", parse_server, "run a DHCP server (dnsmasq) on the node's first "
                            "interface: range 'first,last', lease seconds, router (an IP or a router's name)",
                            type="dict {range, lease, router}",
                            example="dhcp_server={'range': '10.0.0.100,10.0.0.200'}"))

    def accepts(self, kind: Any) -> bool:
        return not kind.switching

    def problems(self, topo) -> list[Problem]:
        found = []
        for node in topo.nodes:
            where = f"node {node.name!r}"
            if node.get("ip") == "dhcp" and not node.ends:
                found.append(Problem(where, "has ip='dhcp' but no link to ask on", "link it to the server's LAN"))
            spec = node.get("dhcp_server")
            if spec is None:
                continue
            if node.get("ip") == "dhcp":
                found.append(Problem(where, "a DHCP server needs a static ip, not 'dhcp'"))
            if not node.ends:
                found.append(Problem(where, "a DHCP server needs a link to serve on"))
            rng, ip = parse_range(spec.get("range")), node.get("ip")
            if rng and isinstance(ip, str) and "/" in ip:
                net = ipaddress.ip_interface(ip).network
                if rng[0] not in net or rng[1] not in net:
                    found.append(Problem(where, f"dhcp_server range {spec['range']} is outside its subnet {net}"))
            router = spec.get("router")
            if isinstance(router, str) and values.ip_address(router) and (
                    router not in topo or not topo.node(router).kind.gateway):
                found.append(Problem(where, f"dhcp_server router {router!r} is not a router or NAT of this topology",
                                     "name a router on the server's LAN, or give its IP"))
        return found

    def plan(self, planned) -> DhcpSetup | None:
        clients = tuple(DhcpClient(n.name, n.first.ifname) for n in planned.topo.nodes
                        if n.get("ip") == "dhcp" and n.first is not None)
        servers = tuple(s for s in (self._server(planned, n) for n in planned.topo.nodes
                                    if n.get("dhcp_server") is not None) if s is not None)
        self._clients_without_server(planned, clients, servers)
        return DhcpSetup(servers, clients) if servers or clients else None

    def _server(self, planned, node) -> DhcpServer | None:
        spec, ifname = node.get("dhcp_server"), node.first.ifname
        cidr = planned.addresses.get((node.name, ifname))
        if cidr is None:
            return None
        iface = ipaddress.ip_interface(cidr)
        hosts = list(iface.network.hosts())
        rng = parse_range(spec.get("range")) or (hosts[len(hosts) // 2], hosts[-1])
        router = spec.get("router")
        if router is not None and values.ip_address(router):          # a router's name
            router = planned.address_on(router, iface.network)
            if router is None:
                planned.problems.append(Problem(f"node {node.name!r}", f"dhcp_server router {spec['router']!r} "
                                                f"has no address on the server's subnet {iface.network}",
                                                "name a router on the server's LAN"))
        static = {ipaddress.ip_interface(c).ip for c in planned.addresses.values()}
        free = int(rng[1]) - int(rng[0]) + 1 - sum(1 for ip in static if rng[0] <= ip <= rng[1])
        if free < 1:
            planned.problems.append(Problem(f"node {node.name!r}", f"dhcp_server range {rng[0]},{rng[1]} has no "
                                            "address left to lease (the rest are static addresses)",
                                            "widen the range or move it off the static addresses"))
        return DhcpServer(node.name, ifname, cidr, str(rng[0]), str(rng[1]), int(spec.get("lease", 3600)), router)

    def _clients_without_server(self, planned, clients, servers) -> None:
        serving = {(s.node, s.interface) for s in servers}
        for client in clients:
            segment = planned.segment_of((client.node, client.interface))
            if segment is None or not serving & set(segment.interfaces):
                planned.problems.append(Problem(f"node {client.node!r}", "has ip='dhcp' but no DHCP server on its LAN",
                                                "give a host on that LAN dhcp_server={...}"))

    def start(self, net) -> dict:
        """Start the DHCP servers, then the clients; return the leased addresses."""
        setup = net.plan.concern(self.name)
        if setup is None:
            return {}
        for server in setup.servers:
            start_dnsmasq(net, server)
        for client in setup.clients:
            start_dhclient(net, client)
        leases: dict[tuple[str, str], str] = {}
        for client in setup.clients:
            node = net[client.node]
            found: list[str] = []

            def bound() -> bool:
                found[:] = ipv4_addresses(node, client.interface)
                return bool(found)
            net.wait_ready(f"a DHCP lease for {client.node}/{client.interface}", bound, timeout=LEASE_TIMEOUT)
            leases[(client.node, client.interface)] = found[0]
        return leases


def _tool(name: str, package: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        raise EnvironmentProblem(f"{name} is not installed: apt-get install {package}")
    return path


def ipv4_addresses(node, ifname: str) -> list[str]:
    out = node.cmd(["ip", "-4", "-o", "addr", "show", "dev", ifname])
    return [line.split()[3] for line in out.splitlines() if " inet " in line]


def start_dnsmasq(net, server: DhcpServer):
    node = net[server.node]
    name = f"dnsmasq-{server.node}"
    mask = ipaddress.ip_interface(server.address).network.netmask
    argv = [_tool("dnsmasq", "dnsmasq"), "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--no-resolv",
            "--no-hosts", f"--interface={server.interface}", "--bind-interfaces", "--except-interface=lo",
            f"--dhcp-range={server.first},{server.last},{mask},{server.lease_seconds}",
            f"--dhcp-leasefile={net.run_file(name + '.leases')}",
            f"--pid-file={net.run_file(name + '.pid')}",
            f"--log-facility={net.run_file(name + '.log')}", "--log-dhcp",
            "--dhcp-authoritative", "--no-ping", "--user=root", "--group=root",
            f"--dhcp-option=option:router{',' + server.router if server.router else ''}",
            "--dhcp-option=option:dns-server"]
    proc = net.popen_logged(node, argv, net.run_file(name + ".err"))
    net.wait_ready(f"dnsmasq on {server.node}", lambda: ":67 " in node.cmd(["ss", "-Hlun"]), proc)
    return proc


def start_dhclient(net, client: DhcpClient):
    node = net[client.node]
    name = f"dhclient-{client.node}"
    conf = net.run_file(name + ".conf")
    with open(conf, "w") as f:
        f.write(CLIENT_CONF)
    argv = [_tool("dhclient", "isc-dhcp-client"), "-d", "-4", "-cf", conf, "-sf", HOOK,
            "-lf", net.run_file(name + ".leases"), "-pf", net.run_file(name + ".pid"), client.interface]
    return net.popen_logged(node, argv, net.run_file(name + ".log"))


CONCERN = Dhcp()
