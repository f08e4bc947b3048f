"""Runs inside the stock-kernel guest (see test_brvlan_kernel_lane.py): VLANs on Linux bridges.

Builds topologies/vlans.py with backend=linux (VLAN-filtering bridges), pings every pair
and writes a JSON report to the folder given as argv[1] (an rwdir shared with the host).
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from testbed import load  # noqa: E402
from testbed.kernel import bridgevlan, caps  # noqa: E402
from testbed.network import Network  # noqa: E402


def _netns() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return sorted(line.split()[0] for line in out.splitlines() if line.strip())


def main(out_dir: str) -> None:
    features = caps.features() or frozenset()
    report: dict = {"bridge_vlan_filtering": "bridge-vlan-filtering" in features, "kernel": os.uname().release}
    before = _netns()
    graph, params = load(os.path.join(ROOT, "topologies", "vlans.py"), {"backend": "linux"})
    with Network(graph, source="vlans", params={**params, "backend": "linux"}) as net:
        report["plan_filtering"] = net.plan.node("s1").interface("s1").bridge.vlan_filtering
        report["sysfs_filtering"] = net["s1"].cmd("cat /sys/class/net/s1/bridge/vlan_filtering").strip()
        report["s1_vlans"] = bridgevlan.port_vlans(net["s1"].netns)
        result = net.pingall(count=2, timeout=3)
        report["pingall_ok"] = result.ok
        report["pairs"] = {f"{p.src}>{p.dst}": [p.expected, p.received] for p in result.pairs}
    report["left"] = sorted(set(_netns()) - set(before))
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main(sys.argv[1])
