"""Runs inside the stock-kernel guest (see test_ovs_kernel_lane.py): OVS with the kernel datapath.

Writes a JSON report to the folder given as argv[1] (an rwdir shared with the host).
"""
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from testbed import load  # noqa: E402
from testbed.kernel import ovs  # noqa: E402
from testbed.network import Network  # noqa: E402


def main(out_dir: str) -> None:
    subprocess.run(["modprobe", "openvswitch"], check=False)
    report: dict = {"kernel_datapath": ovs.kernel_datapath(), "auto": ovs.datapath_type("auto")}
    graph, params = load(os.path.join(ROOT, "topologies", "vlans.py"), {})
    with Network(graph, source="vlans", params=params) as net:
        result = net.pingall(count=2, timeout=3)
        report["pingall_ok"] = result.ok
        report["pairs"] = {f"{p.src}>{p.dst}": [p.expected, p.received] for p in result.pairs}
        report["datapath_type"] = net["s1"].cmd("ovs-vsctl get bridge s1 datapath_type").strip()
        report["dpif"] = net.ovs("s1").appctl("dpif/show")
        server = net["h3"].popen(["iperf3", "-s", "-1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        out = net["h1"].run(["iperf3", "-c", net["h3"].ip, "-t", "3", "-J"], timeout=120)
        server.wait(timeout=60)
        report["tcp_bps"] = json.loads(out.stdout)["end"]["sum_received"]["bits_per_second"]
        run_dir = os.path.dirname(net.ovs("s1").dir)
    report["left"] = os.path.exists(run_dir)
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main(sys.argv[1])
