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
