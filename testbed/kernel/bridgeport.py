"""Bridge port flags (hairpin) through iproute2, inside the switch's namespace."""
from __future__ import annotations

import subprocess

from testbed.errors import DeployError


def set_hairpin(netns: str, port: str, on: bool = True) -> None:
    """Let the bridge send frames back out of ``port``, the port they came in on."""
    argv = ["ip", "-n", netns, "link", "set", "dev", port, "type", "bridge_slave", "hairpin", "on" if on else "off"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=15)
    if proc.returncode != 0:
        raise DeployError(f"hairpin on {port} in {netns} failed: {proc.stderr.strip()}")


def hairpin(netns: str, port: str) -> bool:
    """Whether ``port`` is in hairpin mode."""
    proc = subprocess.run(["ip", "-n", netns, "-d", "-j", "link", "show", "dev", port],
                          capture_output=True, text=True, timeout=15)
    import json
    data = json.loads(proc.stdout or "[]")
    return bool(data and data[0].get("linkinfo", {}).get("info_slave_data", {}).get("hairpin"))
