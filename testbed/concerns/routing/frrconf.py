"""FRR's integrated configuration (frr.conf) of one router, generated from its record.

Paths never appear in it (the daemons get their files on the command line), so the text
depends on the topology alone and is pinned by golden files (tests/unit/golden/frr/).
Timers are set for a lab: SPF and LSA generation without hold-down, LSAs accepted as fast
as they come, retransmissions after 1 s, BGP connection retries every second.
Zebra installs plain (multipath) routes rather than kernel nexthop objects: with those,
FRR 8.4 loses an ECMP member for good when its interface goes down and up again (the
kernel drops it from the group; zebra believes the group intact).
A router's ``frr_config`` is appended as written; ``own_config_line`` says where it begins
(errors in it are reported by their line in it).

``split`` cuts the generated part into one config per daemon (the daemons read their own
at start, which saves a ``vtysh -b`` per router); ``frr_config``, which may hold anything,
goes to the daemons through vtysh, which knows where each line belongs.
"""
from __future__ import annotations

from testbed.concerns.routing.records import Port, Router
from testbed.concerns.routing.spec import Bfd

ISIS_TAG = "tb"
OSPF_SPF_THROTTLE = "0 50 1000"       # ms: initial delay, initial hold, maximum hold
QUIET_PREFIXES = "tb-none"            # a prefix list that matches nothing
OSPF6_SOURCES = ("connected", "static", "kernel")   # what OSPFv3 redistributes (the IPv6 routes are its alone)


def render(router: Router, extra: str | None = None) -> tuple[tuple[str, ...], int]:
    """(the lines of frr.conf, the line where ``extra`` begins or 0)."""
    lines = ["frr defaults traditional", f"hostname {router.node}", "no zebra nexthop kernel enable", "!"]
    for prefix in router.blackholes:
        lines.append(f"ip route {prefix} blackhole")
    if router.blackholes:
        lines.append("!")
    lines += _interface("lo", _loopback_lines(router))
    for port in router.ports:
        lines += _interface(port.ifname, _port_lines(router, port))
    if router.quiet6:
        lines += [f"ipv6 prefix-list {QUIET_PREFIXES} seq 5 deny any", "!"]
    for port in router.ports6:
        lines += _interface(port.ifname, _port6_lines(port, port.ifname in router.quiet6))
    if router.ospfv2:
        lines += _ospf(router)
    if router.ports6:
        lines += _ospf6(router)
    if router.isis:
        lines += _isis(router)
    if router.rip:
        lines += _rip(router)
    if router.bgp:
        lines += _bgp(router)
    lines += _bfd(router)
    own = 0
    if extra:
        lines.append("! frr_config")
        own = len(lines) + 1
        lines += extra.rstrip("\n").split("\n")
        lines.append("!")
    return tuple(lines), own


def _interface(name: str, body: list[str]) -> list[str]:
    return [f"interface {name}", *body, "exit", "!"] if body else []


def _loopback_lines(router: Router) -> list[str]:
    body = []
    if router.ospfv2:
        body += [f" ip ospf area {router.ospf.loopback_area}", " ip ospf passive"]
    if router.isis:
        body += [f" ip router isis {ISIS_TAG}", " isis passive"]
    return body


def _port_lines(router: Router, port: Port) -> list[str]:
    body = []
    o = port.ospf
    if o is not None:
        body += [f" ip ospf area {o.area}", f" ip ospf cost {o.cost}"]
        if o.passive:
            body.append(" ip ospf passive")
        else:
            body += [f" ip ospf hello-interval {o.hello}", f" ip ospf dead-interval {o.dead}",
                     " ip ospf retransmit-interval 1"]
            if o.network == "point-to-point":
                body.append(" ip ospf network point-to-point")
            if port.bfd:
                body += [" ip ospf bfd", f" ip ospf bfd profile {port.bfd.profile}"]
    i = port.isis
    if i is not None:
        body += [f" ip router isis {ISIS_TAG}", f" isis metric {i.metric}"]
        if i.passive:
            body.append(" isis passive")
        else:
            body.append(f" isis hello-interval {i.hello}")
            if i.point_to_point:
                body.append(" isis network point-to-point")
            if port.bfd:
                body += [" isis bfd", f" isis bfd profile {port.bfd.profile}"]
    return body


def _port6_lines(port: Port, quiet: bool = False) -> list[str]:
    """OSPFv3 on an IPv6 interface: the same settings as OSPFv2's; ``quiet``: its prefix left to
    the other end of the link to announce (derive._quiet6)."""
    o = port.ospf
    body = [f" ipv6 ospf6 area {o.area}", f" ipv6 ospf6 cost {o.cost}"]
    if quiet:
        body.append(f" ipv6 ospf6 advertise prefix-list {QUIET_PREFIXES}")
    if o.passive:
        return body + [" ipv6 ospf6 passive"]
    body += [f" ipv6 ospf6 hello-interval {o.hello}", f" ipv6 ospf6 dead-interval {o.dead}",
             " ipv6 ospf6 retransmit-interval 1"]
    if o.network == "point-to-point":
        body.append(" ipv6 ospf6 network point-to-point")
    if port.bfd:       # ospf6d 8.4 leaves a session it asks for at bfdd's defaults with a profile, not so with these
        body.append(f" ipv6 ospf6 bfd {port.bfd.multiplier} {port.bfd.interval} {port.bfd.interval}")
    return body


def _ospf6(router: Router) -> list[str]:
    lines = ["router ospf6", f" ospf6 router-id {router.router_id}", f" timers throttle spf {OSPF_SPF_THROTTLE}",
             " timers lsa min-arrival 0", f" maximum-paths {router.ecmp}"]
    lines += [f" redistribute {source}" for source in router.ospf.redistribute if source in OSPF6_SOURCES]
    return lines + ["exit", "!"]


def _ospf(router: Router) -> list[str]:
    lines = ["router ospf", f" ospf router-id {router.router_id}", f" timers throttle spf {OSPF_SPF_THROTTLE}",
             " timers throttle lsa all 0", " timers lsa min-arrival 0", f" maximum-paths {router.ecmp}"]
    lines += [f" redistribute {source}" for source in router.ospf.redistribute]
    return lines + ["exit", "!"]


def _isis(router: Router) -> list[str]:
    lines = [f"router isis {ISIS_TAG}", f" net {router.isis.net}", " is-type level-2-only", " metric-style wide",
             " lsp-gen-interval 1", " spf-interval 1"]
    lines += [f" redistribute ipv4 {source} level-2" for source in router.isis.redistribute]
    return lines + ["exit", "!"]


def _rip(router: Router) -> list[str]:
    r = router.rip
    lines = ["router rip", " version 2", f" timers basic {r.update} {r.timeout} {r.garbage}"]
    if router.ecmp > 1:
        lines.append(" allow-ecmp")
    for port in router.ports:
        if port.rip is not None:
            lines.append(f" network {port.ifname}")
    lines.append(f" network {router.loopback}")
    lines.append(" passive-interface lo")
    lines += [f" passive-interface {p.ifname}" for p in router.ports if p.rip is not None and p.rip.passive]
    lines += [f" redistribute {source}" for source in r.redistribute]
    return lines + ["exit", "!"]


def _bgp(router: Router) -> list[str]:
    b = router.bgp
    lines = [f"router bgp {b.asn}", f" bgp router-id {router.router_id}", " no bgp ebgp-requires-policy",
             " no bgp default ipv4-unicast", " bgp bestpath as-path multipath-relax", " bgp bestpath compare-routerid",
             f" timers bgp {b.keepalive} {b.hold}"]
    for s in b.sessions:
        lines.append(f" neighbor {s.peer_address} remote-as {'internal' if s.ibgp else s.remote_asn}")
        lines.append(f" neighbor {s.peer_address} description {s.peer}")
        lines.append(f" neighbor {s.peer_address} timers connect 1")
        if s.ibgp:
            lines.append(f" neighbor {s.peer_address} update-source {s.local_address}")
        if s.bfd:
            lines.append(f" neighbor {s.peer_address} bfd profile {s.bfd.profile}")
    lines += [" !", " address-family ipv4 unicast"]
    lines += [f"  network {prefix}" for prefix in b.networks]
    lines += [f"  redistribute {source} metric 0" for source in b.redistribute]
    for s in b.sessions:
        lines.append(f"  neighbor {s.peer_address} activate")
        if s.ibgp:
            lines.append(f"  neighbor {s.peer_address} next-hop-self")
        if s.client:
            lines.append(f"  neighbor {s.peer_address} route-reflector-client")
    lines += [f"  maximum-paths {router.ecmp}", f"  maximum-paths ibgp {router.ecmp}", " exit-address-family",
              "exit", "!"]
    return lines


def _bfd(router: Router) -> list[str]:
    profiles: dict[str, Bfd] = {}
    for port in router.ports:
        if port.bfd:
            profiles[port.bfd.profile] = port.bfd
    for s in (router.bgp.sessions if router.bgp else ()):
        if s.bfd:
            profiles[s.bfd.profile] = s.bfd
    if not profiles:
        return []
    lines = ["bfd"]
    for name, bfd in sorted(profiles.items()):
        lines += [f" profile {name}", f"  transmit-interval {bfd.interval}", f"  receive-interval {bfd.interval}",
                  f"  detect-multiplier {bfd.multiplier}", " exit"]
    return lines + ["exit", "!"]


HEADER = ("frr defaults ", "hostname ")
BLOCKS = {"router ospf6": "ospf6d", "router ospf": "ospfd", "router isis ": "isisd", "router rip": "ripd",
          "router bgp ": "bgpd", "bfd": "bfdd"}           # "router ospf6" before "router ospf"
INTERFACE_LINES = ((" ipv6 ospf6 ", "ospf6d"), (" ip ospf ", "ospfd"), (" ip router isis ", "isisd"),
                   (" isis ", "isisd"))


def split(config: tuple[str, ...], own_line: int = 0) -> dict[str, list[str]]:
    """The generated part of a router's frr.conf as one config per daemon (zebra, ospfd, ...):
    the header lines go to every daemon, each block to the daemon it configures, an interface
    block's lines (after the blocks) to the daemons they belong to. ``frr_config`` (from
    ``own_line``) is left out."""
    lines = list(config[:own_line - 2] if own_line else config)
    header = [line for line in lines if line.startswith(HEADER)]
    found: dict[str, list[str]] = {}
    interfaces: dict[str, list[str]] = {}    # after the daemon's own blocks: isisd needs its area first
    block: str | None = None
    interface: str | None = None
    per_interface: dict[str, list[str]] = {}
    for line in lines:
        if line.startswith(HEADER) or line == "!":
            continue
        if interface is not None:
            if line == "exit":
                for daemon, body in per_interface.items():
                    interfaces.setdefault(daemon, []).extend([interface, *body, "exit"])
                interface, per_interface = None, {}
                continue
            daemon = next((d for prefix, d in INTERFACE_LINES if line.startswith(prefix)), None)
            if daemon is None:
                raise ValueError(f"no daemon for interface line {line!r}")
            per_interface.setdefault(daemon, []).append(line)
            continue
        if block is not None:
            found[block].append(line)
            if line == "exit":
                block = None
            continue
        if line.startswith("interface "):
            interface = line
        elif line.startswith("ip route "):
            found.setdefault("staticd", []).append(line)
        elif line.startswith("ipv6 prefix-list "):
            found.setdefault("ospf6d", []).insert(0, line)
        elif line.startswith("no zebra "):
            found.setdefault("zebra", []).append(line)
        elif any(line == b or line.startswith(b) for b in BLOCKS):
            block = next(d for b, d in BLOCKS.items() if line == b or line.startswith(b))
            found.setdefault(block, []).append(line)
        else:
            raise ValueError(f"no daemon for line {line!r}")
    return {daemon: header + found.get(daemon, []) + interfaces.get(daemon, [])
            for daemon in dict.fromkeys([*found, *interfaces])}
