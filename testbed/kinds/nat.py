"""kind: nat — a gateway that masquerades its LANs towards an emulated outside.

The ``outside`` attribute names the neighbour (or the NAT's own interface) on the outside
link; every other link is a LAN. LAN hosts get the NAT as default gateway; outside hosts
get no route to the LANs, and connections from outside reach in only through declared
``forwards`` ([{"proto": "tcp", "port": 8080, "to": "h1:80"}]). The outside is always a
namespace of the same run, never the machine's real uplink. The rules are the nat
concern's (testbed/concerns/nat/).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from testbed.kinds.host import HOST, L3_ATTRS
from testbed.model.schema import Attr, Invalid, table

PROTOS = ("tcp", "udp")


def outside_ifname(spec) -> str | None:
    """The NAT's outside interface: ``outside`` names a neighbour or one of its interfaces."""
    wanted = spec.get("outside")
    for end in spec.ends:
        if wanted in (end.ifname, end.peer):
            return end.ifname
    return None


def _lan_ifnames(spec) -> frozenset[str]:
    outside = outside_ifname(spec)
    return frozenset(e.ifname for e in spec.ends if e.ifname != outside)


def _parse_outside(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid(f"outside={value!r} must name the neighbour (or interface) towards the outside",
                      "e.g. outside='internet'")
    return value


def _parse_forwards(value: Any) -> tuple[dict, ...]:
    """[{"proto", "port", "to": "node:port"}] with each entry's shape checked."""
    if not isinstance(value, (list, tuple)):
        raise Invalid("'forwards' must be a list of {'proto', 'port', 'to'}",
                      "e.g. forwards=[{'proto': 'tcp', 'port': 8080, 'to': 'h1:80'}]")
    return tuple(dict(f) if isinstance(f, dict) else f for f in value)


NAT_ATTRS = dict(L3_ATTRS, **table(
    Attr("outside", _parse_outside, "the neighbour (or own interface) on the outside link; the others are LANs",
         type="node or interface name", example="outside='internet'"),
    Attr("forwards", _parse_forwards, "port forwards from the outside address to a LAN host",
         type="list of {proto, port, to}", default="[]",
         example="forwards=[{'proto': 'tcp', 'port': 8080, 'to': 'h1:80'}]"),
))

# A router (a forwarding host) with the outside link and the port forwards on top.
NAT = replace(
    HOST,
    name="nat",
    description="masquerades its LANs towards the outside link; inbound only through declared forwards",
    attrs=NAT_ATTRS,
    forwards=True,
    gateway=True,
    masquerades=True,
    endpoint=False,
    gateway_ifnames=_lan_ifnames,
)
