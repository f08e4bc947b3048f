"""Value checkers for topology attributes.

Each checker takes a value and returns None when it is fine, or a short text that
says what is wrong with it. They are pure and shared by the node kinds and links.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Any, Callable

Checker = Callable[[Any], "str | None"]

IFNAME_MAX = 15
_IFNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_NODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
NODE_NAME_MAX = 32


def node_name(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"node names must be strings, got {type(value).__name__} {value!r}"
    if len(value) > NODE_NAME_MAX:
        return f"node name {value!r} is {len(value)} characters, at most {NODE_NAME_MAX} allowed"
    if not _NODE_RE.match(value):
        return (f"node name {value!r} is invalid: use letters, digits, '_', '.', '-', "
                "starting with a letter or digit")
    return None


def ifname(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return f"interface name must be a non-empty string, got {value!r}"
    if len(value) > IFNAME_MAX:
        return (f"interface name {value!r} is {len(value)} characters; "
                f"the kernel allows at most {IFNAME_MAX}")
    if not _IFNAME_RE.match(value) or value in (".", ".."):
        return f"interface name {value!r} is invalid: use letters, digits, '_', '.', '-'"
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
    return None


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
    if not isinstance(value, str) or not _MAC_RE.match(value):
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
_OPENFLOW_TARGET_RE = re.compile(r"^(tcp|ssl):[^:\s]+(:\d+)?$|^unix:\S+$|^(ptcp|pssl):\d*(:\S+)?$|^punix:\S+$")


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


def openflow_target(value: Any) -> str | None:
    """An OpenFlow controller target as Open vSwitch writes it (tcp:IP:PORT, unix:PATH...),
    or "testcontroller" (the run starts an ovs-testcontroller for the switch)."""
    if value == "testcontroller":
        return None
    if not isinstance(value, str) or not _OPENFLOW_TARGET_RE.match(value):
        return (f"{value!r} is not an OpenFlow target like 'testcontroller', 'unix:/path', "
                "'tcp:10.0.0.9:6653', 'ptcp:6653' or 'punix:/path'")
    return None
