"""Port VLANs of VLAN-filtering Linux bridges, through iproute2's ``bridge -batch``.

Run after the ports are enslaved (deploy phase 4): one ``bridge -n NS -batch -`` per
switch namespace with the lines of ``testbed.concerns.bridge_vlans.port_commands``. The VLAN
entries go with the ports when the namespace is deleted, so nothing is journaled.
"""
from __future__ import annotations

import json
import subprocess
from typing import Callable

from testbed.concerns.bridge_vlans import port_commands
from testbed.errors import DeployError
from testbed.model.plan import Node, Plan

BRIDGE_TIMEOUT = 30.0


def node_commands(node: Node) -> list[str]:
    """The `bridge -batch` lines for every port of ``node``'s VLAN-filtering bridges."""
    filtering = {i.name for i in node.interfaces if i.kind == "bridge" and i.bridge and i.bridge.vlan_filtering}
    lines: list[str] = []
    for intf in node.interfaces:
        if intf.master in filtering:
            lines += port_commands(intf.name, intf.vlan, intf.trunk)
    return lines


def configure(plan: Plan, ns: Callable[[str], str]) -> None:
    """Apply the port VLANs of every node with a VLAN-filtering bridge (``ns``: node -> namespace)."""
    for node in plan.nodes:
        lines = node_commands(node)
        if lines:
            batch(ns(node.name), lines)


def batch(netns: str, lines: list[str]) -> None:
    """``bridge -batch`` with ``lines`` in ``netns``; DeployError naming the switch on failure."""
    argv = ["bridge", "-n", netns, "-batch", "-"]
    try:
        proc = subprocess.run(argv, input="\n".join(lines) + "\n", capture_output=True, text=True,
                              timeout=BRIDGE_TIMEOUT)
    except FileNotFoundError:
        raise DeployError("the bridge tool is not installed: apt-get install iproute2") from None
    if proc.returncode != 0:
        raise DeployError(f"port VLANs in {netns} failed: {proc.stderr.strip()[:500]}")


def port_vlans(netns: str) -> dict[str, list[dict]]:
    """port -> its VLAN entries (``bridge -j vlan show``: vlan, flags like PVID/Egress Untagged)."""
    proc = subprocess.run(["bridge", "-n", netns, "-j", "vlan", "show"], capture_output=True, text=True,
                          timeout=BRIDGE_TIMEOUT)
    if proc.returncode != 0:
        raise DeployError(f"bridge vlan show in {netns} failed: {proc.stderr.strip()[:500]}")
    return {entry["ifname"]: entry.get("vlans", []) for entry in json.loads(proc.stdout or "[]")}
