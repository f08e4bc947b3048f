"""Value checkers for topology attributes.

Each checker takes a value and returns None when it is fine, or a short text that
says what is wrong with it. They are pure and shared by the node kinds, switch backends,
concerns and links (wrapped into parsers by testbed.model.schema).
"""
from __future__ import annotations

import ipaddress
import math
import re
from typing import Any, Callable

Checker = Callable[[Any], "str | None"]

IFNAME_MAX = 15
_IFNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_NODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
NODE_NAME_MAX = 32
# Names the kernel gives a meaning of its own in /proc/sys/net/*/conf/ (and "lo": every namespace has it).
RESERVED_IFNAMES = ("all", "default")


def node_name(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"node names must be strings, got {type(value).__name__} {value!r}"
    if len(value) > NODE_NAME_MAX:
        return f"node name {value!r} is {len(value)} characters, at most {NODE_NAME_MAX} allowed"
    if not _NODE_RE.fullmatch(value):
        return (f"node name {value!r} is invalid: use letters, digits, '_', '.', '-', "
                "starting with a letter or digit")
    return None


def ifname(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return f"interface name must be a non-empty string, got {value!r}"
    if len(value) > IFNAME_MAX:
        return (f"interface name {value!r} is {len(value)} characters; "
                f"the kernel allows at most {IFNAME_MAX}")
    if not _IFNAME_RE.fullmatch(value) or value in (".", ".."):
        return f"interface name {value!r} is invalid: use letters, digits, '_', '.', '-'"
    if value in RESERVED_IFNAMES:
        return f"interface name {value!r} is reserved by the kernel (net.ipv4.conf.{value}.*)"
    return None


def cidr(value: Any) -> str | None:
    """An interface address with its prefix, like '10.0.0.1/24'."""
    if not isinstance(value, str) or "/" not in value:
        return f"{value!r} is not an address with a prefix length (like '10.0.0.1/24')"
    try:
        iface = ipaddress.ip_interface(value)
    except ValueError as exc:
        return f"{value!r} is not a valid address: {exc}"
    net = iface.network
    if net.prefixlen < net.max_prefixlen - 1 and iface.ip in (net.network_address,
                                                               net.broadcast_address):
        return f"{value!r} is the {'network' if iface.ip == net.network_address else 'broadcast'} address of {net}"
    return unusable(iface.ip, value) or (f"{value!r} has prefix length 0: a LAN that is the whole address space"
                                         if net.prefixlen == 0 else None)


def unusable(ip: ipaddress._BaseAddress, value: Any) -> str | None:
    """Why ``ip`` cannot be an interface's own unicast address (None: it can)."""
    for test, what in ((ip.is_multicast, "a multicast address"), (ip.is_unspecified, "the unspecified address"),
                       (ip.is_loopback, "a loopback address"),
                       (ip.version == 4 and ip in _THIS_NETWORK, "in 0.0.0.0/8 ('this network')"),
                       (ip.version == 4 and ip == _BROADCAST, "the limited broadcast address"),
                       (ip.version == 6 and ip.is_link_local, "link-local (every IPv6 interface makes its own)")):
        if test:
            return f"{value!r} is {what}, not an address an interface can own"
    return None


_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_BROADCAST = ipaddress.ip_address("255.255.255.255")


def cidr_or_dhcp(value: Any) -> str | None:
    """An interface address with its prefix, or "dhcp" (the address comes from a DHCP server)."""
    return None if value == "dhcp" else cidr(value)


def ip_address(value: Any) -> str | None:
    try:
        ipaddress.ip_address(value)
    except (ValueError, TypeError):
        return f"{value!r} is not an IP address"
    return None


def network(value: Any) -> str | None:
    try:
        ipaddress.ip_network(value, strict=True)
    except (ValueError, TypeError) as exc:
        return f"{value!r} is not a network like '10.1.0.0/24': {exc}"
    return None


def mac(value: Any) -> str | None:
    if not isinstance(value, str) or not _MAC_RE.fullmatch(value):
        return f"{value!r} is not a MAC address like '02:00:00:00:00:01'"
    first = int(value[:2], 16)
    if first & 1:
        return f"{value!r} is a multicast MAC; an interface needs a unicast one (even first byte)"
    if value.replace(":", "") == "0" * 12:
        return f"{value!r} is the all-zero MAC"
    return None


def boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"expected true or false, got {value!r}"


def number(minimum: float | None = None, maximum: float | None = None,
           integer: bool = False) -> Checker:
    def check(value: Any) -> str | None:
        ok_types = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_types):
            return f"expected {'an integer' if integer else 'a number'}, got {value!r}"
        if not math.isfinite(value):
            return f"expected a finite number, got {value!r}"
        if minimum is not None and value < minimum:
            return f"{value!r} is below the minimum {minimum}"
        if maximum is not None and value > maximum:
            return f"{value!r} is above the maximum {maximum}"
        return None
    return check


def one_of(*choices: Any) -> Checker:
    def check(value: Any) -> str | None:
        if value in choices:
            return None
        return f"{value!r} is not one of {', '.join(repr(c) for c in choices)}"
    return check


def anything(_value: Any) -> str | None:
    return None


VLAN_MIN, VLAN_MAX = 1, 4094


def vlan(value: Any) -> str | None:
    """An 802.1Q VLAN id, 1..4094."""
    if isinstance(value, bool) or not isinstance(value, int) or not VLAN_MIN <= value <= VLAN_MAX:
        return f"{value!r} is not a VLAN id ({VLAN_MIN}..{VLAN_MAX})"
    return None


def vlan_list(value: Any) -> str | None:
    """A non-empty list of distinct VLAN ids, like [10, 20]."""
    if not isinstance(value, (list, tuple)) or not value:
        return f"{value!r} is not a non-empty list of VLAN ids like [10, 20]"
    for item in value:
        error = vlan(item)
        if error:
            return error
    if len(set(value)) != len(value):
        return f"{value!r} lists a VLAN twice"
    return None


def mac_vlans(value: Any) -> str | None:
    """A MAC -> VLAN mapping, like {"02:00:00:00:00:01": 10}."""
    if not isinstance(value, dict) or not value:
        return f"{value!r} is not a non-empty dict of MAC -> VLAN id"
    seen: set[str] = set()
    for key, item in value.items():
        error = mac(key) or vlan(item)
        if error:
            return error
        if key.lower() in seen:
            return f"MAC {key} is listed twice"
        seen.add(key.lower())
    return None


_SYSCTL_PART = re.compile(r"[A-Za-z0-9_\-]+")
# net.* subtrees shared by every namespace (or not settable per namespace): never set per node
HOST_WIDE_SYSCTLS = ("net.core.",)


def sysctl_key(value: Any) -> str | None:
    """A per-namespace sysctl name like 'net.ipv4.conf.all.rp_filter'."""
    if not isinstance(value, str):
        return f"{value!r} is not a sysctl name like 'net.ipv4.ip_forward'"
    parts = value.split(".")
    if parts[0] != "net" or len(parts) < 3 or not all(_SYSCTL_PART.fullmatch(p) for p in parts[1:]):
        return "not a per-namespace sysctl name like 'net.ipv4.ip_forward' (net.<area>.<name>)"
    if any(value.startswith(prefix) for prefix in HOST_WIDE_SYSCTLS):
        return "net.core.* settings are (partly) shared by the whole machine, not one namespace"
    return None


def sysctl_value(value: Any) -> str | None:
    """A scalar a sysctl file takes: a number, a boolean or one line of text."""
    if isinstance(value, bool) or (isinstance(value, int) and not isinstance(value, bool)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} is not a finite number"
    if isinstance(value, str) and value.strip() and "\n" not in value and len(value) <= 256:
        return None
    return f"value {value!r} is not a number, a boolean or one line of text"
