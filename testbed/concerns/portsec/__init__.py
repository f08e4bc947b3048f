"""Switch port security: hairpin, IP-MAC binding, a MAC limit, DHCP snooping.

Graph convention: a link attribute ``port`` keyed by the switch end, e.g.
``g.add_edge("h1", "s1", port={"s1": {"binding": {"ip": "10.0.0.1", "mac": "02:00:00:00:00:01"},
"max_macs": 1, "hairpin": True, "trusted": True}})``. A switch attribute ``max_macs`` is the
default limit for its ports that face hosts (ports to other switches stay unlimited);
``dhcp_snooping=True`` lets untrusted ports send IP only from (port, MAC, IP) bindings the
real DHCP server handed out (learned by a snooper the run starts, testbed/concerns/dhcp/).

This concern checks and plans the settings; the switch backend realizes them: nftables
rules on a Linux bridge (nft.py here), OpenFlow flows on Open vSwitch (testbed/ovs/).
"""
from __future__ import annotations

import ipaddress
import os
import sys
from typing import Any, Mapping

from testbed.concerns.base import Concern
from testbed.concerns.portsec import nft as rules
from testbed.concerns.portsec.records import PortSecurity, PortSettings, needs_rules
from testbed.errors import Problem, UsageError
from testbed.kernel import nft as nftables
from testbed.model import values
from testbed.model.schema import Attr, Invalid, Invalids, attr, table

PORT_KEYS = ("hairpin", "binding", "max_macs", "trusted")
_MAX_MACS = values.number(1, 65535, integer=True)


def _binding_problems(value: Any) -> list[Invalid]:
    if not isinstance(value, Mapping) or not value or set(value) - {"ip", "mac"}:
        return [Invalid(f"binding {value!r} must be a dict with 'ip' and/or 'mac'",
                        "e.g. binding={'ip': '10.0.0.1', 'mac': '02:00:00:00:00:01'}")]
    found = []
    if "mac" in value and values.mac(value["mac"]):
        found.append(Invalid(f"binding mac: {values.mac(value['mac'])}"))
    if "ip" in value:
        ip = str(value["ip"]).split("/")[0]
        if values.ip_address(ip) or ipaddress.ip_address(ip).version != 4:
            found.append(Invalid(f"binding ip {value['ip']!r} is not an IPv4 address"))
    return found


def parse_port(spec: Any) -> dict:
    """One switch port's settings {hairpin, binding, max_macs, trusted}, every one checked."""
    if not isinstance(spec, Mapping):
        raise Invalid(f"{spec!r} is not a dict", f"known keys: {', '.join(PORT_KEYS)}")
    bad: list[Invalid] = []
    for key, setting in spec.items():
        if key not in PORT_KEYS:
            bad.append(Invalid(f"unknown port setting {key!r}", f"known: {', '.join(PORT_KEYS)}"))
        elif key in ("hairpin", "trusted") and values.boolean(setting):
            bad.append(Invalid(f"{key}: {values.boolean(setting)}"))
        elif key == "max_macs" and _MAX_MACS(setting):
            bad.append(Invalid(f"max_macs: {_MAX_MACS(setting)}"))
        elif key == "binding":
            bad += _binding_problems(setting)
    if bad:
        raise Invalids(bad)
    return dict(spec)


class PortSecurityConcern(Concern):
    name = "portsec"
    node_attrs = table(
        attr("max_macs", _MAX_MACS, "default MAC limit of the switch's ports that face hosts (the switch "
             "default of one MAC per port that breaks macvlan)", type="int 1..65535", example="max_macs=1"),
        attr("dhcp_snooping", values.boolean, "let untrusted ports use only addresses the real DHCP server "
             "leased, and never answer DHCP", type="bool", default="False", example="dhcp_snooping=True"),
    )
    link_attrs = table(Attr("port", parse_port, "settings of the switch's port on this link: hairpin, "
                            "binding {ip, mac}, max_macs, trusted", type="dict keyed by the switch's name", per_end=True,
                            example="port={'s1': {'binding': {'ip': '10.0.0.1'}, 'max_macs': 1}}"))

    def accepts(self, kind: Any) -> bool:
        return bool(kind.switching)

    def problems(self, topo) -> list[Problem]:
        found = []
        for link in topo.links:
            for end in (link.u, link.v):
                if "port" in link.per_end.get(end, {}) and not topo.node(end).switching:
                    found.append(Problem(f"{link.label} port of {end!r}", f"{end!r} is not a switch, hub or bridge; "
                                         "port settings belong to the switch end", "key 'port' by the switch's name"))
        return found

    def plan(self, planned) -> PortSecurity | None:
        """Settings of every switch port that has any (explicit, or the switch's max_macs)."""
        topo = planned.topo
        result = []
        for node in topo.switching():
            default_max = node.get("max_macs")
            for end in node.ends:
                spec = topo.link_of(end).at(node.name, "port") or {}
                to_switch = topo.node(end.peer).switching
                max_macs = spec.get("max_macs", None if to_switch else default_max)
                binding = spec.get("binding") or {}
                trusted = bool(spec.get("trusted", to_switch))
                settings = PortSettings(
                    node=node.name, port=end.ifname, hairpin=bool(spec.get("hairpin", False)),
                    mac=binding["mac"].lower() if "mac" in binding else None,
                    ip=str(binding["ip"]).split("/")[0] if "ip" in binding else None,
                    max_macs=max_macs, trusted=trusted)
                if settings != PortSettings(node.name, end.ifname, trusted=trusted) or node.get("dhcp_snooping"):
                    result.append(settings)
        snooping = tuple(n.name for n in topo.switching() if n.get("dhcp_snooping"))
        return PortSecurity(tuple(result), snooping) if result or snooping else None

    def reach(self, plan, records, effects) -> None:
        if records:
            cut, uncertain = reach_effects(plan, records)
            effects.cut |= cut
            effects.uncertain |= uncertain

    def start(self, net) -> dict:
        """The DHCP snooper of each snooping switch (it learns bindings from the server's ACKs)."""
        records = net.plan.concern(self.name)
        for switch in (records.snooping if records else ()):
            start_snooper(net, switch, records.of(switch))
        return {}

    def status(self, netns: str, worker=None) -> dict:
        """{"ports": {port: {counter: packets}}} from the switch's nft table alone (no plan)."""
        if (rules.FAMILY, rules.TABLE) not in set(nftables.tables(netns, worker)):
            return {}
        raw = nftables.counters(netns, rules.FAMILY, rules.TABLE, worker)
        chains = nftables.jumps(netns, rules.FAMILY, rules.TABLE, "prerouting", worker)   # port -> chain name
        return {"ports": {port: {what: raw[f"{chain}_{what}"]["packets"] for what in rules.COUNTERS
                                 if f"{chain}_{what}" in raw} for port, chain in chains.items()}}

    def counters(self, net, node: str) -> dict:
        records = net.plan.concern(self.name) or PortSecurity()
        if net.plan.node(node).role != "l2":
            raise UsageError(f"{node!r} is a {net.plan.node(node).kind}, not a switch")
        settings = records.of(node)
        if not needs_rules(settings, node in records.snooping):
            return {}
        return net.backend_of(node).port_security_counters(net, node, settings)


def reach_effects(plan, records: PortSecurity) -> tuple[set[tuple[str, str]], set[str]]:
    """What port security does to the expected reachability, from the plan alone.

    Returns the (node, ifname) interfaces whose frames a port drops whatever they do (a
    MAC or IP other than the port's binding; a static address behind an untrusted port of
    a DHCP-snooping switch), and the nodes whose fate depends on traffic order (more MACs
    behind a port than its max_macs: the first ones heard win).
    """
    blocked: set[tuple[str, str]] = set()
    uncertain: set[str] = set()
    clients = {(c.node, c.interface) for c in getattr(plan.concern("dhcp"), "clients", ())}
    for p in records.ports:
        peer = plan.ends.get((p.node, p.port))
        if peer is None or plan.node(peer[0]).role != "l3" or plan.node(peer[0]).interface(peer[1]).master:
            continue                                   # a switch or an in-node bridge: MACs unknown
        behind = [(peer[0], plan.node(peer[0]).interface(peer[1]))]
        behind += [(n.name, i) for n in plan.nodes for i in n.interfaces if i.parent == peer]
        allowed = []
        for node, intf in behind:
            ips = {a.split("/")[0] for a in intf.addresses}
            if (p.mac and intf.mac.lower() != p.mac) or (p.ip and ips and p.ip not in ips) or \
                    (p.node in records.snooping and not p.trusted and (node, intf.name) not in clients):
                blocked.add((node, intf.name))
            else:
                allowed.append(node)
        if p.max_macs and len(allowed) > p.max_macs:
            uncertain.update(allowed)
    return blocked, uncertain


def start_snooper(net, switch: str, ports: list[PortSettings]):
    """``python -m testbed.concerns.dhcp.snoop`` inside the switch, until it says it listens."""
    node = net[switch]
    ready = net.run_file(f"snoop-{switch}.ready")
    argv = [sys.executable, "-m", "testbed.concerns.dhcp.snoop", "--ready", ready,
            "--log", net.run_file(f"snoop-{switch}.log"),
            "--trusted", ",".join(p.port for p in ports if p.trusted),
            "--untrusted", ",".join(p.port for p in ports if not p.trusted)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_package_root(), os.environ.get("PYTHONPATH")])))
    proc = net.popen_logged(node, argv, net.run_file(f"snoop-{switch}.err"), env=env)
    net.wait_ready(f"the DHCP snooper of {switch}", lambda: os.path.exists(ready), proc)
    return proc


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def bindings(net, switch: str) -> list:
    """The (port, MAC, IP) bindings a DHCP-snooping switch has learned."""
    records = net.plan.concern("portsec")
    if records is None or switch not in records.snooping:
        raise UsageError(f"{switch!r} does not snoop DHCP (set dhcp_snooping=True)")
    return nftables.set_elements(net[switch].netns, rules.FAMILY, rules.TABLE, rules.BOUND_SET, net.worker)


CONCERN = PortSecurityConcern()
