"""The Open vSwitch backend: a hub or switch with ``backend="ovs"`` (or ``--switch ovs``).

Each OVS switch is an OVS bridge served by a private Open vSwitch the run starts in the
switch's namespace (testbed/ovs/daemons.py), with the userspace datapath where the
openvswitch kernel module is missing (tx checksum offload then off on the switch's veths,
or TCP breaks). Its settings:

  - ``fail_mode``: "standalone" (default: a learning switch, OVS's NORMAL action) or
    "secure" (forwards only what flows or a controller say);
  - ``controller``: "testcontroller" (the run starts an ovs-testcontroller for this switch,
    on a Unix socket in its folder) or an OVS target ("unix:/path", "tcp:IP:PORT"...);
    the switch's namespace has no IP link to the hosts, so use a Unix socket for a
    controller running in a host;
  - ``hub=True`` (or kind hub): one FLOOD flow; ``datapath``: "auto", "netdev", "system";
  - VLANs on its links (access ``vlan``, ``trunk``) as OVS port tags and trunks, and
    ``mac_vlans={"02:..": 10}``: MAC-based VLANs, as OpenFlow rules (openflow.py);
  - port security (bindings, max_macs up to MAX_MACS) as counted drop flows (portsec.py).
"""
from __future__ import annotations

import dataclasses
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

from testbed.backends.base import SwitchBackend
from testbed.errors import DeployError, EnvironmentProblem, Problem, UsageError
from testbed.kernel import ethtool, nsfs
from testbed.kernel.journal import run_dir
from testbed.model import values
from testbed.model.plan import Interface
from testbed.model.schema import Attr, attr, table
from testbed.ovs import daemons, openflow
from testbed.ovs import portsec as ovs_portsec
from testbed.ovs.records import TESTCONTROLLER, OvsPort, OvsSwitch, switch_of

PARALLEL = 8
PROBE_WINDOW = 64              # pings in flight through userspace datapaths (their AF_PACKET buffers overflow)

_TARGET_RE = re.compile(r"^(tcp|ssl):([^:\s]+)(?::(\d+))?$|^unix:\S+$|^(?:ptcp|pssl):(\d*)(?::\S+)?$|^punix:\S+$")


def openflow_target(value: Any) -> str | None:
    """An OpenFlow controller target as Open vSwitch writes it (tcp:IP:PORT, unix:PATH...),
    or "testcontroller" (the run starts an ovs-testcontroller for the switch)."""
    if value == TESTCONTROLLER:
        return None
    match = _TARGET_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return (f"{value!r} is not an OpenFlow target like 'testcontroller', 'unix:/path', "
                "'tcp:10.0.0.9:6653', 'ptcp:6653' or 'punix:/path'")
    port = match.group(3) or match.group(4)
    if port and not 0 < int(port) < 65536:
        return f"{value!r}: port {port} is not a TCP port (1-65535)"
    return None


ATTRS: dict[str, Attr] = table(
    attr("fail_mode", values.one_of("standalone", "secure"), "Open vSwitch: 'standalone' (a learning switch) or "
         "'secure' (only flows or a controller forward)", type="'standalone' | 'secure'", default="'standalone'"),
    attr("controller", openflow_target, "Open vSwitch: an OpenFlow controller: 'testcontroller' (the run "
         "starts one) or a target like 'unix:/path', 'tcp:IP:PORT'", type="str", example="controller='testcontroller'"),
    attr("datapath", values.one_of("auto", "netdev", "system"), "Open vSwitch datapath: 'netdev' (userspace), "
         "'system' (kernel module) or 'auto'", type="'auto' | 'netdev' | 'system'", default="'auto'"),
    attr("mac_vlans", values.mac_vlans, "Open vSwitch: MAC -> VLAN: hosts are in VLANs by MAC, wherever they "
         "plug in", type="dict MAC -> VLAN id", example="mac_vlans={'02:00:00:00:0a:01': 10}"),
    attr("hub", values.boolean, "Open vSwitch: flood every frame (one FLOOD flow)", type="bool", default="False"),
)


def port_numbers(switch: str, names: list[str]) -> dict[str, int] | None:
    """OpenFlow port numbers from Mininet-style names: N of every ``<switch>-eth<N>`` (so explicit
    port numbers, as in Mininet's ``addLink(port2=9)``, are the switch's OpenFlow ports); None
    when some port is named otherwise (or two share a number): then ports count by position."""
    pattern = re.compile(rf"^{re.escape(switch)}-eth(\d+)$")
    found = {}
    for name in names:
        match = pattern.match(name)
        if match is None or int(match.group(1)) < 1:
            return None
        found[name] = int(match.group(1))
    return found if len(set(found.values())) == len(found) else None


def instance_dir(run_id: str, switch: str) -> str:
    return os.path.join(run_dir(run_id), "ovs", switch)


def instances_of(journal) -> dict[str, daemons.Instance]:
    """switch -> its OVS instance, from a run's journal (for tools outside the owner)."""
    return {e.node: e.instance for e in journal.entries() if isinstance(e, daemons.OvsInstance)}


def find(journal, switch: str) -> daemons.Instance:
    """The OVS instance of ``switch`` in a run (UsageError naming the OVS switches if none)."""
    found = instances_of(journal)
    if switch not in found:
        known = ", ".join(sorted(found)) or "none"
        raise UsageError(f"run {journal.run_id} has no Open vSwitch switch {switch!r}; its OVS switches: {known}")
    return found[switch]


def dump_flows(inst: daemons.Instance, datapath: bool = False) -> str:
    """A switch's OpenFlow flows (``ovs-ofctl dump-flows``), or its datapath's flows."""
    if datapath:
        return inst.appctl("dpctl/dump-flows")
    return inst.ofctl("dump-flows", inst.switch)


def _floods(spec) -> bool:
    return not spec.kind.learns or spec.get("hub") is True


class OpenVSwitch(SwitchBackend):
    name = "ovs"
    title = "an Open vSwitch bridge"
    flow_table = True

    def attrs_for(self, kind: Any) -> Mapping[str, Attr]:
        if "ovs" not in kind.backends:
            return {}
        if not kind.learns:                      # a hub: already floods, no VLANs to keep
            return {k: v for k, v in ATTRS.items() if k not in ("hub", "mac_vlans")}
        return ATTRS

    def builds(self, plan, node: str) -> bool:
        return switch_of(plan, node) is not None

    def device(self, spec, mac: str, topo) -> Interface:
        return Interface(name=spec.name, kind="ovs", mac=mac)

    def problems(self, topo, switches: list) -> list[Problem]:
        """What an OVS switch's flows cannot do that a Linux bridge can.

        Bindings and max_macs (up to ovs_portsec.MAX_MACS) are flows on a plain learning
        switch; hairpin ports and DHCP snooping are nftables/bridge-port features of a Linux bridge.
        """
        found: list[Problem] = []
        for spec in switches:
            found += self._switch_problems(topo, spec)
        return found

    def _switch_problems(self, topo, spec) -> list[Problem]:
        found: list[Problem] = []
        node = spec.name
        where = f"node {node!r}"
        fix = f"use backend='linux' for {node!r}"
        if spec.get("dhcp_snooping"):
            found.append(Problem(where, "dhcp_snooping is made with nftables on a Linux bridge, "
                                        "not on an Open vSwitch bridge", fix))
        limits = [(node, spec.get("max_macs"))]
        secured = []
        for end in spec.ends:
            port = topo.link_of(end).at(node, "port")
            if port is None:
                continue
            limits.append((f"port {node}--{end.peer}", port.get("max_macs")))
            if port.get("hairpin"):
                found.append(Problem(where, f"hairpin on {node}--{end.peer}: a Linux bridge port setting, "
                                            "not available on an Open vSwitch bridge", fix))
            if port.get("binding") or port.get("max_macs"):
                secured.append(f"{node}--{end.peer}")
        for what, limit in limits:
            if isinstance(limit, int) and limit > ovs_portsec.MAX_MACS:
                found.append(Problem(where, f"max_macs={limit} on {what}: an Open vSwitch bridge learns at most "
                                            f"{ovs_portsec.MAX_MACS} MACs per port (one flow lookup per slot)",
                                     f"use max_macs <= {ovs_portsec.MAX_MACS}, no limit, or {fix}"))
        if spec.get("max_macs"):
            secured.append("max_macs")
        other = [k for k in ("hub", "mac_vlans", "controller")
                 if spec.get(k) or (k == "hub" and _floods(spec))]
        if secured and other:
            found.append(Problem(where, f"port security ({', '.join(secured)}) is made with flows on a learning "
                                        f"switch, which {', '.join(other)} replaces",
                                 f"drop {', '.join(other)} or the port settings"))
        return found

    def plan(self, planned, switches: list) -> tuple[OvsSwitch, ...] | None:
        records = []
        for spec in switches:
            node = planned.node(spec.name)
            vlans = {(r.node, r.port): r for r in planned.concern("vlans") or ()}
            ports = []
            numbers = port_numbers(spec.name, [i.name for i in node.interfaces if i.kind == "veth"])
            for position, intf in enumerate(node.interfaces):
                if intf.kind == "veth":
                    v = vlans.get((spec.name, intf.name))
                    ofport = numbers[intf.name] if numbers else position
                    ports.append(OvsPort(intf.name, ofport, v.vlan if v else None, v.trunk if v else None))
            mac_vlans = spec.get("mac_vlans") or {}
            ageing = spec.get("ageing")
            records.append(OvsSwitch(
                node=spec.name, mac=node.interfaces[0].mac, ports=tuple(ports),
                fail_mode=str(spec.get("fail_mode", "standalone")), controller=spec.get("controller"),
                datapath=str(spec.get("datapath", "auto")), hub=_floods(spec),
                mac_vlans=tuple(sorted((str(m).lower(), int(v)) for m, v in mac_vlans.items())),
                stp=bool(spec.get("stp", False)), ageing=float(ageing) if ageing is not None else None))
        return tuple(records) or None

    def forwards_nothing(self, plan) -> set[str]:
        """fail_mode="secure" with neither a controller nor flows of its own: nothing passes."""
        security = plan.concern("portsec")
        return {s.node for s in plan.backend(self.name) or ()
                if s.fail_mode == "secure" and not s.controller and openflow.flows(s) is None
                and not (security and ovs_portsec.needs_flows(security.of(s.node)))}

    def probe_window(self, plan) -> int | None:
        return PROBE_WINDOW if plan.backend(self.name) else None

    def taps_ports(self, plan, node: str) -> bool:
        """The userspace datapath reads its ports with AF_PACKET sockets."""
        switch = switch_of(plan, node)
        return switch is not None and daemons.datapath_type(switch.datapath) == "netdev"

    def start(self, ctx) -> None:
        """Start and configure the private OVS of every OVS switch of the plan."""
        switches = ctx.plan.backend(self.name) or ()
        if not switches:
            return
        daemons.require_tools()
        types = {s.node: daemons.datapath_type(s.datapath) for s in switches}
        kernel = sorted(name for name, t in types.items() if t == "system")
        if kernel and not daemons.kernel_datapath():
            raise EnvironmentProblem(f"switch {', '.join(kernel)}: datapath 'system' needs the openvswitch kernel "
                                     "module, which is not loaded: use datapath 'auto' or 'netdev' (userspace)")
        _offloads_off(ctx, {name for name, t in types.items() if t == "netdev"})
        lock = threading.Lock()

        def record(entries) -> None:
            with lock:
                ctx.record(entries)

        entries = [daemons.OvsInstance(s.node, ctx.ns(s.node), instance_dir(ctx.run_id, s.node)) for s in switches]
        record(entries)
        security = ctx.plan.concern("portsec")

        def bring_up(switch: OvsSwitch, inst: daemons.Instance) -> None:
            own = switch.controller == TESTCONTROLLER
            inst.start(record, openflow.bridge_commands(switch, types[switch.node], inst.controller_target), own)
            table = openflow.flows(switch)
            secured = security.of(switch.node) if security else []
            if table is None and ovs_portsec.needs_flows(secured):
                table = ovs_portsec.flows(switch, secured)      # port security: see portsec.py
            if table is not None:
                path = os.path.join(inst.dir, "flows.txt")
                with open(path, "w") as f:
                    f.write("\n".join(table) + "\n")
                inst.ofctl("-O", "OpenFlow13", "replace-flows", switch.node, path, error=DeployError)

        with ThreadPoolExecutor(max_workers=min(PARALLEL, len(switches)), initializer=nsfs.signals_to_main) as pool:
            for future in [pool.submit(bring_up, s, e.instance) for s, e in zip(switches, entries)]:
                future.result()

    # ------------------------------------------------------------ a running network changed

    def change_problem(self, old, new, added_ends: set, removed_ends: set) -> str | None:
        """Running switches may gain and lose ports of links that come and go; nothing else
        of theirs may change (new switches are started, gone ones stopped)."""
        before = {s.node: s for s in old.backend(self.name) or ()}
        for switch in new.backend(self.name) or ():
            was = before.get(switch.node)
            if was is None:
                continue
            kept = tuple(p for p in was.ports if (switch.node, p.name) not in removed_ends)
            now = tuple(p for p in switch.ports if (switch.node, p.name) not in added_ends)
            if dataclasses.replace(was, ports=kept) != dataclasses.replace(switch, ports=now):
                return f"Open vSwitch switch {switch.node}'s settings would change"
            if (kept != was.ports or now != switch.ports) and (switch.mac_vlans or _has_security(new, switch.node)):
                return (f"Open vSwitch switch {switch.node} has an OpenFlow table of its own (MAC VLANs or port "
                        "security): its ports cannot change at run time")
        return None

    def attach_ports(self, ctx, ports: list[tuple[str, str]]) -> None:
        """Add new link ends to running switches, with their planned OpenFlow port numbers."""
        by_switch: dict[str, list[str]] = {}
        for node, ifname in ports:
            by_switch.setdefault(node, []).append(ifname)
        for node, names in by_switch.items():
            switch = switch_of(ctx.plan, node)
            if daemons.datapath_type(switch.datapath) == "netdev":
                _offloads_off(ctx, {node}, only={(node, n) for n in names})
            args: list[str] = ["--", *openflow.LEAVE_QDISCS]
            for name in names:
                for command in openflow.port_commands(node, name, switch.port(name).ofport):
                    args += ["--", *command]
            inst = daemons.Instance(node, ctx.ns(node), instance_dir(ctx.run_id, node))
            inst.vsctl(*args, error=DeployError)

    def detach_ports(self, ctx, ports: list[tuple[str, str]]) -> None:
        for node, ifname in ports:
            inst = daemons.Instance(node, ctx.ns(node), instance_dir(ctx.run_id, node))
            if os.path.exists(inst.sock):
                inst.vsctl("--if-exists", "del-port", node, ifname, error=DeployError)

    def port_security_counters(self, net, node: str, settings: list) -> dict:
        return ovs_portsec.read_counters(self.dump_flows(net, node), switch_of(net.plan, node), settings)

    def dump_flows(self, net, node: str, datapath: bool = False) -> str:
        return dump_flows(self.instance(net, node), datapath)

    def environment(self, run_id: str, node: str) -> dict[str, str]:
        """ovs-vsctl/ovs-ofctl/ovs-appctl run in the switch reach its own OVS, not the system's."""
        return {var: instance_dir(run_id, node) for var in daemons.OVS_ENV}

    def instance(self, net, node: str) -> daemons.Instance:
        if net.journal is None:
            raise UsageError("the network is not running")
        return find(net.journal, node)

    def environments_in_run(self, journal) -> dict[str, dict[str, str]]:
        return {node: {var: inst.dir for var in daemons.OVS_ENV} for node, inst in instances_of(journal).items()}

    def flows_in_run(self, journal, node: str, datapath: bool = False) -> str | None:
        inst = instances_of(journal).get(node)
        return None if inst is None else dump_flows(inst, datapath)

    def status(self, journal, node: str) -> dict:
        """{"ports": counters} of an OVS switch's drop flows, by cookie (no plan needed)."""
        inst = instances_of(journal).get(node)
        if inst is None:
            return {}
        ports = ovs_portsec.counters_by_port(dump_flows(inst), ovs_portsec.port_names(inst.ofctl("show", node)))
        return {"ports": ports} if ports else {}


def _has_security(plan, node: str) -> bool:
    security = plan.concern("portsec")
    return bool(security and security.of(node))


def _offloads_off(ctx, netdev_switches: set[str], only: set[tuple[str, str]] | None = None) -> None:
    """tx checksum offload off on both ends of every link of a userspace-datapath switch
    (``only``: of the links with one of these switch ends)."""
    by_node: dict[str, list[str]] = {}
    for link in ctx.plan.links:
        if only is not None and link.a not in only and link.b not in only:
            continue
        if link.a[0] in netdev_switches or link.b[0] in netdev_switches:
            for node, ifname in (link.a, link.b):
                by_node.setdefault(node, []).append(ifname)
    for node, names in by_node.items():
        ctx.worker.run_inside(ctx.ns(node), ethtool.set_tx_checksum, names, False)


BACKEND = OpenVSwitch()
