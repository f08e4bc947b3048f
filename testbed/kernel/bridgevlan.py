"""Port VLANs of VLAN-filtering Linux bridges, through iproute2's ``bridge -batch``.

Run after the ports are enslaved: one ``bridge -n NS -batch -`` per switch namespace with
the lines the Linux backend computed (testbed/backends/linux.py). The VLAN entries go
with the ports when the namespace is deleted, so nothing is journaled.
"""
from __future__ import annotations

import json
import subprocess

from testbed.errors import DeployError

BRIDGE_TIMEOUT = 30.0


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
