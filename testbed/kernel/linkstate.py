"""Reading and changing links in the calling thread's namespace (run via NetnsWorker).

Interface counters come from netlink (IFLA_STATS64), bridge port states from the
AF_BRIDGE link dump, both read with pyroute2 (imported on first use: it takes ~0.2 s).
"""
from __future__ import annotations

import socket

# Linux bridge port states (include/uapi/linux/if_bridge.h)
BR_STATE = {0: "disabled", 1: "listening", 2: "learning", 3: "forwarding", 4: "blocking"}
STAT_FIELDS = ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors",
               "rx_dropped", "tx_dropped", "multicast")


def counters() -> dict[str, dict[str, int]]:
    """ifname -> counters of every interface in this namespace (loopback left out)."""
    result: dict[str, dict[str, int]] = {}
    with _iproute() as ipr:
        for link in ipr.get_links():
            name = link.get("ifname")
            stats = link.get("IFLA_STATS64") or link.get("IFLA_STATS") or {}
            if name == "lo":
                continue
            result[name] = {k: int(stats.get(k, 0)) for k in STAT_FIELDS}
            result[name]["up"] = int(bool(link["flags"] & 1))
    return result


def port_states() -> dict[str, str]:
    """Bridge port name -> STP state of every bridge port in this namespace."""
    states: dict[str, str] = {}
    with _iproute() as ipr:
        for link in ipr.get_links(family=socket.AF_BRIDGE):
            state = link.get(("IFLA_PROTINFO", "IFLA_BRPORT_STATE"))
            if state is not None:
                states[link.get("ifname")] = BR_STATE.get(state, str(state))
    return states


def stp_settled() -> bool:
    """True when no bridge port here is still listening or learning."""
    return all(s not in ("listening", "learning") for s in port_states().values())


def set_up(names: list[str], up: bool) -> None:
    """Bring the named interfaces of this namespace up or down."""
    with _iproute() as ipr:
        for name in names:
            found = ipr.link_lookup(ifname=name)
            if not found:
                raise KeyError(f"no interface {name!r}")
            ipr.link("set", index=found[0], state="up" if up else "down")


def replace_routes(routes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Install (dst, via) routes again (the kernel drops them when their link goes down).

    Returns the routes that could not be installed (their gateway is not reachable yet).
    """
    from pyroute2.netlink.exceptions import NetlinkError       # not an OSError
    failed = []
    with _iproute() as ipr:
        for dst, via in routes:
            family = socket.AF_INET6 if ":" in via else socket.AF_INET
            if dst == "default":
                dst = "::/0" if family == socket.AF_INET6 else "0.0.0.0/0"
            try:
                ipr.route("replace", dst=dst, gateway=via, proto=4, family=family)
            except (OSError, NetlinkError):
                failed.append((dst, via))
    return failed


RTN_BLACKHOLE = 6


def ipv4_routes(table: int = 254, family: int = socket.AF_INET) -> list[tuple[str, int, tuple[str, ...], bool]]:
    """(destination CIDR, protocol number, gateways, blackhole) of every IPv4 route of a table
    in this namespace (the main table by default); multipath routes list every gateway
    (``family`` AF_INET6: the IPv6 routes)."""
    found = []
    with _iproute() as ipr:
        for msg in ipr.get_routes(family=family, table=table):
            dst = msg.get("RTA_DST") or ("0.0.0.0" if family == socket.AF_INET else "::")
            gateways = [msg.get("RTA_GATEWAY")] if msg.get("RTA_GATEWAY") else []
            for hop in msg.get("RTA_MULTIPATH") or ():
                if hop.get("RTA_GATEWAY"):
                    gateways.append(hop.get("RTA_GATEWAY"))
            found.append((f"{dst}/{msg['dst_len']}", msg["proto"], tuple(sorted(set(gateways))),
                          msg["type"] == RTN_BLACKHOLE))
    return found


def ipv6_routes(table: int = 254) -> list[tuple[str, int, tuple[str, ...], bool]]:
    """The same for IPv6 (gateways are link-local addresses where a routing protocol set them)."""
    return ipv4_routes(table, socket.AF_INET6)


def link_locals() -> dict[str, str]:
    """ifname -> the IPv6 link-local address of each interface that has one."""
    with _iproute() as ipr:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        return {names.get(a["index"], ""): a.get_attr("IFA_ADDRESS")
                for a in ipr.get_addr(family=socket.AF_INET6)
                if a["scope"] == 253 and a.get_attr("IFA_ADDRESS", "").startswith("fe80:")}


def operstates(names: list[str]) -> dict[str, str]:
    """ifname -> operational state ("UP", "DOWN", "LOWERLAYERDOWN"...) of the named interfaces."""
    wanted = set(names)
    with _iproute() as ipr:
        return {link.get("ifname"): link.get("IFLA_OPERSTATE") for link in ipr.get_links()
                if link.get("ifname") in wanted}


def _iproute():
    from pyroute2 import IPRoute
    return IPRoute()
