"""kind: host — an end system: interfaces with addresses, a default route, no forwarding.

The attributes here are shared by every kind that owns addresses (router, nat, server).
"""
from __future__ import annotations

import difflib
import ipaddress
from typing import Any, Mapping

from testbed.kinds.base import Kind
from testbed.model import values
from testbed.model.schema import Attr, Invalid, Invalids, attr, table
from testbed.model.topology import Device

DEVICE_KINDS = ("bridge", "dummy", "macvlan")
DEVICE_HELP = {
    "kind": "'bridge' (joins some of the node's interfaces into one LAN), 'dummy' (a stand-alone interface) "
            "or 'macvlan' (a child of another node's NIC)",
    "ports": "bridge: the node's interface names it joins (the bridge, not its ports, gets the address)",
    "ip": "its address (CIDR)",
    "mac": "its MAC",
    "stp": "bridge: run STP (bool)",
    "parent": "macvlan: 'node:interface' (or 'node' when it has one link) of the lower device",
    "mode": "macvlan: 'bridge' (default), 'vepa', 'private' or 'passthru'",
}
DEVICE_ATTRS = tuple(DEVICE_HELP)
NO_GATEWAY = "none"


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(sorted(choices))


def parse_default_route(value: Any) -> str:
    """An IP address, "none", or the name of a router (checked against the graph later)."""
    if isinstance(value, str) and value and (value == NO_GATEWAY or not values.ip_address(value)
                                             or not values.node_name(value)):
        return value
    raise Invalid(f"default_route {value!r} is neither an IP address nor a router's name",
                  "give the gateway's IP, the name of a router on the same LAN, or 'none'")


def parse_routes(value: Any) -> tuple[tuple[str, str], ...]:
    """[{"dst": network, "via": IP}, ...] -> ((network, via), ...)."""
    if not isinstance(value, (list, tuple)):
        raise Invalid("'routes' must be a list of {'dst': CIDR, 'via': IP}",
                      "e.g. routes=[{'dst': '10.2.0.0/24', 'via': '10.1.0.1'}]")
    parsed, bad = [], []
    for i, route in enumerate(value):
        if not isinstance(route, Mapping) or set(route) != {"dst", "via"} or values.network(route.get("dst")) \
                or values.ip_address(route.get("via")):
            bad.append(Invalid(f"{route!r} is not {{'dst': network, 'via': IP}}",
                               "e.g. {'dst': '10.2.0.0/24', 'via': '10.1.0.1'}", where=f"route {i}"))
            continue
        dst, via = ipaddress.ip_network(route["dst"]), ipaddress.ip_address(route["via"])
        if dst.version != via.version:
            bad.append(Invalid(f"{route!r}: an IPv{dst.version} destination via an IPv{via.version} gateway",
                               where=f"route {i}"))
            continue
        if any(d == str(dst) for d, _ in parsed):
            bad.append(Invalid(f"{route!r}: a second route to {dst}", "give each destination one route",
                               where=f"route {i}"))
            continue
        parsed.append((str(dst), str(via)))
    if bad:
        raise Invalids(bad)
    return tuple(parsed)


def parse_sysctls(value: Any) -> tuple[tuple[str, str], ...]:
    """{"net.ipv4.conf.all.rp_filter": 0} -> (("net.ipv4.conf.all.rp_filter", "0"),): per-namespace
    net.* keys only (host-wide net.core.* and anything outside net. would change the machine)."""
    if not isinstance(value, Mapping):
        raise Invalid("'sysctls' must map 'net.*' keys to values", "e.g. sysctls={'net.ipv4.ip_forward': 1}")
    parsed, bad = [], []
    for key, setting in value.items():
        problem = values.sysctl_key(key) or values.sysctl_value(setting)
        if problem:
            bad.append(Invalid(f"sysctl {key!r}: {problem}", "only per-namespace net.* settings can be set per node"))
        else:
            parsed.append((key, str(int(setting)) if isinstance(setting, bool) else str(setting)))
    if bad:
        raise Invalids(bad)
    return tuple(parsed)


def parse_devices(value: Any) -> tuple[Device, ...]:
    """{"br0": {"kind": "bridge", "ports": [...]}, ...} -> Devices (their node is filled in later)."""
    if not isinstance(value, Mapping):
        raise Invalid("'interfaces' must be a dict of name -> settings",
                      "e.g. interfaces={'br0': {'kind': 'bridge', 'ports': ['nic1', 'nic2']}}")
    devices, bad = [], []
    for name, spec in value.items():
        where = f"interface {name!r}"
        found = _device_problems(name, spec)
        for what, fix in found:
            bad.append(Invalid(what, fix, where=where))
        if not found:
            devices.append(Device(node="", name=name, kind=spec["kind"], ip=spec.get("ip"), mac=spec.get("mac"),
                                  ports=tuple(spec.get("ports") or ()), stp=spec.get("stp", False) is True,
                                  parent_text=spec.get("parent"), mode=spec.get("mode", "bridge")))
    if bad:
        raise Invalids(bad)
    return tuple(devices)


def _device_problems(name: Any, spec: Any) -> list[tuple[str, str]]:
    if not isinstance(name, str):
        return [(f"device names must be strings, got {name!r}", "")]
    if not isinstance(spec, Mapping):
        return [("settings must be a dict like {'kind': 'dummy'}", "")]
    found = []
    if spec.get("kind") not in DEVICE_KINDS:
        found.append((f"kind {spec.get('kind')!r} is not one of {', '.join(DEVICE_KINDS)}", ""))
    for key in spec:
        if key not in DEVICE_ATTRS:
            found.append((f"unknown setting {key!r}", _suggest(str(key), DEVICE_ATTRS)))
    for key, checker in (("ip", values.cidr), ("mac", values.mac), ("stp", values.boolean)):
        if key in spec and checker(spec[key]):
            found.append((f"{key}: {checker(spec[key])}", ""))
    ports = spec.get("ports", [])
    if spec.get("kind") == "bridge" and (not isinstance(ports, (list, tuple)) or not ports
                                         or not all(isinstance(p, str) for p in ports)):
        found.append(("a bridge needs 'ports': a list of the node's interface names", ""))
    if "mode" in spec and not isinstance(spec["mode"], str):
        found.append((f"mode {spec['mode']!r} must be a string", ""))
    return found


# Attributes of every kind that owns addresses (hosts, routers, NATs, servers).
L3_ATTRS: dict[str, Attr] = table(
    attr("ip", values.cidr_or_dhcp, "address of the node's first interface, or 'dhcp' (from a DHCP server "
         "on its LAN)", type="CIDR or 'dhcp'", default="assigned per LAN", example="ip='10.0.0.1/24'"),
    attr("mac", values.mac, "MAC address of the node's first interface", type="MAC",
         default="assigned (02:00:...)", example="mac='02:00:00:00:00:01'"),
    Attr("default_route", parse_default_route, "the gateway: an IP, the name of a router on the node's LAN, "
         "or 'none'", type="IP, node name or 'none'", default="a router or NAT on its LAN",
         example="default_route='r1'"),
    Attr("routes", parse_routes, "static routes besides the default one", type="list of {dst, via}",
         default="[]", example="routes=[{'dst': '10.2.0.0/24', 'via': '10.1.0.1'}]"),
    Attr("interfaces", parse_devices, "in-node devices: a bridge over some of its interfaces, a dummy, "
         "a macvlan child of another node's NIC", type="dict name -> {kind, ports, ip, mac, stp, parent, mode}",
         default="{}", example="interfaces={'br0': {'kind': 'bridge', 'ports': ['nic1', 'nic2']}}"),
    attr("ipv6", values.boolean, "keep IPv6 on in the node (off by default: quiet links, fast builds)",
         type="bool", default="False", example="ipv6=True"),
    Attr("sysctls", parse_sysctls, "per-namespace net.* sysctls", type="dict key -> value", default="{}",
         example="sysctls={'net.ipv4.conf.all.rp_filter': 0}"),
)

HOST = Kind(
    name="host",
    description="an end system with its own network namespace",
    attrs=L3_ATTRS,
    port_base=0,
    endpoint=True,
)
