"""NAT gateways (nodes of a masquerading kind: testbed/kinds/nat.py): the nftables rules.

Rules live in the NAT node's namespace: masquerade whatever leaves through the outside
interface; forward LAN -> outside and the replies (conntrack); drop and count every
other connection opened from outside unless a forward (DNAT) was declared for it.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Mapping

from testbed.concerns.base import Concern
from testbed.errors import Problem, UsageError
from testbed.kernel import nft
from testbed.kinds.nat import PROTOS, outside_ifname
from testbed.model.reach import NatGateway

TABLE = "testbed_nat"
FAMILY = "ip"


@dataclass(frozen=True)
class Forward:
    """A NAT port forward: outside ``proto``/``port`` on the NAT's outside address -> inside."""
    proto: str                      # "tcp" or "udp"
    port: int
    to_ip: str
    to_port: int


@dataclass(frozen=True)
class NatPlan:
    node: str
    outside: str                    # the interface towards the emulated internet
    outside_ip: str | None
    forwards: tuple[Forward, ...] = ()


def _parse_target(value: Any) -> tuple[str, int] | None:
    if not isinstance(value, str) or value.count(":") != 1:
        return None
    name, port = value.split(":")
    return (name, int(port)) if port.isdigit() and 0 < int(port) < 65536 else None


def _forward_problems(topo, where: str, forwards) -> list[Problem]:
    found, seen = [], set()
    for i, fwd in enumerate(forwards):
        fwhere = f"{where} forward {i}"
        if not isinstance(fwd, Mapping):
            found.append(Problem(fwhere, f"{fwd!r} is not a dict", "e.g. {'proto': 'tcp', 'port': 8080, 'to': 'h1:80'}"))
            continue
        unknown = set(fwd) - {"proto", "port", "to"}
        if unknown:
            found.append(Problem(fwhere, f"unknown keys {sorted(unknown, key=str)}", "known: proto, port, to"))
        if fwd.get("proto", "tcp") not in PROTOS:
            found.append(Problem(fwhere, f"proto {fwd.get('proto')!r} is not tcp or udp"))
        port = fwd.get("port")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            found.append(Problem(fwhere, f"port {port!r} is not a port number 1-65535"))
        target = _parse_target(fwd.get("to"))
        if target is None:
            found.append(Problem(fwhere, f"to={fwd.get('to')!r} is not 'node:port'", "e.g. to='h1:80'"))
        elif target[0] not in topo or topo.node(target[0]).switching or topo.node(target[0]).kind.masquerades:
            found.append(Problem(fwhere, f"to names {target[0]!r}, which is not a host or router"))
        key = (fwd.get("proto", "tcp"), port)
        if key in seen:
            found.append(Problem(fwhere, f"{key[0]} port {port} is forwarded twice"))
        seen.add(key)
    return found


class Nat(Concern):
    name = "nat"

    def problems(self, topo) -> list[Problem]:
        found = []
        for node in topo.nodes:
            if not node.kind.masquerades:
                continue
            where = f"node {node.name!r}"
            if node.get("outside") is None:
                found.append(Problem(where, "a nat needs 'outside': the neighbour (or interface) towards the outside",
                                     "e.g. outside='internet'"))
            elif outside_ifname(node) is None:
                known = ", ".join(sorted({e.peer for e in node.ends} | {e.ifname for e in node.ends})) or "none"
                found.append(Problem(where, f"outside={node.get('outside')!r} is neither a neighbour nor one of "
                                     "its interfaces", f"known: {known}"))
            if len(node.ends) < 2:
                found.append(Problem(where, "a nat needs an outside link and at least one LAN link"))
            found += _forward_problems(topo, where, node.get("forwards") or ())
        return found

    def plan(self, planned) -> tuple[NatPlan, ...] | None:
        addresses = planned.addresses
        result = []
        for node in planned.topo.nodes:
            if not node.kind.masquerades:
                continue
            outside = outside_ifname(node)
            lan_nets = [ipaddress.ip_interface(addresses[(node.name, e.ifname)]).network for e in node.ends
                        if e.ifname != outside and (node.name, e.ifname) in addresses]
            forwards = []
            for fwd in node.get("forwards") or ():
                name, to_port = _parse_target(fwd["to"])
                theirs = [ipaddress.ip_interface(c) for (n, _), c in addresses.items() if n == name]
                on_lan = [c for c in theirs if c.network in lan_nets] or theirs
                if on_lan:
                    forwards.append(Forward(fwd.get("proto", "tcp"), int(fwd["port"]), str(on_lan[0].ip), to_port))
                else:
                    planned.problems.append(Problem(f"node {node.name!r}", f"forward to {fwd['to']!r}: "
                                                    f"{name!r} has no address to forward to"))
            outside_cidr = addresses.get((node.name, outside))
            result.append(NatPlan(node.name, outside, outside_cidr.split("/")[0] if outside_cidr else None,
                                  tuple(forwards)))
        return tuple(result) or None

    def reach(self, plan, records, effects) -> None:
        for gateway in records or ():
            effects.nats.append(NatGateway(gateway.node, gateway.outside, gateway.outside_ip))

    def configure(self, ctx) -> None:
        for gateway in ctx.plan.concern(self.name) or ():
            ctx.load_nft(gateway.node, ruleset(gateway))

    def counters(self, net, node: str) -> dict:
        """{"masqueraded", "forwarded_in", "inbound_blocked"}: packets counted by a NAT's rules."""
        if not any(n.node == node for n in net.plan.concern(self.name) or ()):
            raise UsageError(f"{node!r} is not a nat node")
        return counters_in(net[node].netns, net.worker)

    def status(self, netns: str, worker=None) -> dict:
        found = counters_in(netns, worker)
        return {"nat": found} if found else {}


def counters_in(netns: str, worker=None) -> dict[str, int]:
    """The NAT's counters in a namespace, read from nft alone ({} when it has no NAT table)."""
    if (FAMILY, TABLE) not in set(nft.tables(netns, worker)):
        return {}
    return {name: value["packets"] for name, value in nft.counters(netns, FAMILY, TABLE, worker).items()}


def ruleset(nat: NatPlan) -> str:
    """The nftables script for one NAT node (loaded with ``nft -f``)."""
    out = nat.outside
    dnat = "".join(f'        iifname "{out}" {f.proto} dport {f.port} counter dnat to {f.to_ip}:{f.to_port}\n'
                   for f in nat.forwards)
    return f"""table {FAMILY} {TABLE} {{
    counter inbound_blocked {{ }}
    counter forwarded_in {{ }}
    counter masqueraded {{ }}
    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
{dnat}    }}
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "{out}" counter name "masqueraded" masquerade
    }}
    chain forward {{
        type filter hook forward priority filter; policy accept;
        ct state established,related accept
        iifname != "{out}" accept
        ct status dnat counter name "forwarded_in" accept
        counter name "inbound_blocked" drop
    }}
}}
"""


CONCERN = Nat()
