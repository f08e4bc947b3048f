"""Deploy phase for Open vSwitch switches: offloads off, one private OVS per switch, flows.

Runs after the links exist and are up (see deploy.py). Every instance's folder is
journaled before anything is made in it, every daemon by PID right after it is ready.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from testbed.ovs import openflow
from testbed.ovs import portsec as ovs_portsec
from testbed.errors import DeployError, EnvironmentProblem, UsageError
from testbed.deploy.journal import Journal, run_dir
from testbed.kernel import ethtool
from testbed.ovs import daemons as ovs
from testbed.model.plan import Node, Plan

PARALLEL = 8


def ovs_nodes(plan: Plan) -> list[Node]:
    """The nodes of a plan that are Open vSwitch bridges."""
    return [n for n in plan.nodes if any(i.kind == "ovs" for i in n.interfaces)]


def instance_dir(run_id: str, switch: str) -> str:
    return os.path.join(run_dir(run_id), "ovs", switch)


def instance(run_id: str, switch: str, netns: str) -> ovs.Instance:
    return ovs.Instance(switch, netns, instance_dir(run_id, switch))


def instances_of(journal: Journal) -> dict[str, ovs.Instance]:
    """switch -> its OVS instance, from a run's journal (for tools outside the owner)."""
    return {e["node"]: ovs.Instance(e["node"], e["netns"], e["dir"])
            for e in journal.entries() if e.get("type") == "ovs"}


def start(plan: Plan, journal: Journal, worker, ns) -> None:
    """Start and configure the private OVS of every OVS switch of ``plan``."""
    nodes = ovs_nodes(plan)
    if not nodes:
        return
    ovs.require_tools()
    types = {n.name: ovs.datapath_type(openflow.bridge(n).ovs.datapath) for n in nodes}
    kernel = sorted(name for name, t in types.items() if t == "system")
    if kernel and not ovs.kernel_datapath():
        raise EnvironmentProblem(f"switch {', '.join(kernel)}: datapath 'system' needs the openvswitch kernel "
                                 "module, which is not loaded: use datapath 'auto' or 'netdev' (userspace)")
    _offloads_off(plan, worker, ns, {name for name, t in types.items() if t == "netdev"})
    lock = threading.Lock()

    def record(entries: list[dict]) -> None:
        with lock:
            journal.record(entries)

    instances = [instance(journal.run_id, n.name, ns(n.name)) for n in nodes]
    record([{"type": "ovs", "node": i.switch, "netns": i.netns, "dir": i.dir} for i in instances])

    def bring_up(node: Node, inst: ovs.Instance) -> None:
        own = openflow.bridge(node).ovs.controller == openflow.TESTCONTROLLER
        inst.start(record, openflow.bridge_commands(node, types[node.name], inst.controller_target), own)
        table = openflow.flows(node)
        secured = plan.features.ports_of(node.name)
        if table is None and ovs_portsec.needs_flows(secured):
            table = ovs_portsec.flows(node, secured)      # port security: see ovs_portsec.py
        if table is not None:
            path = os.path.join(inst.dir, "flows.txt")
            with open(path, "w") as f:
                f.write("\n".join(table) + "\n")
            inst.ofctl("-O", "OpenFlow13", "replace-flows", node.name, path, error=DeployError)

    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(nodes))) as pool:
        for future in [pool.submit(bring_up, n, i) for n, i in zip(nodes, instances)]:
            future.result()


def _offloads_off(plan: Plan, worker, ns, netdev_switches: set[str]) -> None:
    """tx checksum offload off on both ends of every link of a userspace-datapath switch."""
    by_node: dict[str, list[str]] = {}
    for link in plan.links:
        if link.a[0] in netdev_switches or link.b[0] in netdev_switches:
            for node, ifname in (link.a, link.b):
                by_node.setdefault(node, []).append(ifname)
    for node, names in by_node.items():
        worker.run_inside(ns(node), ethtool.set_tx_checksum, names, False)


def dump_flows(inst: ovs.Instance, datapath: bool = False) -> str:
    """A switch's OpenFlow flows (``ovs-ofctl dump-flows``), or its datapath's flows."""
    if datapath:
        return inst.appctl("dpctl/dump-flows")
    return inst.ofctl("dump-flows", inst.switch)


def find(journal: Journal, switch: str) -> ovs.Instance:
    """The OVS instance of ``switch`` in a run (UsageError naming the OVS switches if none)."""
    found = instances_of(journal)
    if switch not in found:
        known = ", ".join(sorted(found)) or "none"
        raise UsageError(f"run {journal.run_id} has no Open vSwitch switch {switch!r}; its OVS switches: {known}")
    return found[switch]
