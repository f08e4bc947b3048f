#!/usr/bin/env python3
"""Open vSwitch switches: build+stop cost of single,N and TCP throughput, same run.

    sudo .venv/bin/python benchmarks/ovs_scale.py [--n 200] [--reps 3] [--seconds 5]

1. ``testbed run topologies/single.py --param n=N --switch ovs --test none`` (and the same
   with the default Linux bridge), as whole processes; build and stop times are the ones
   the command prints, total is the process's wall time. Then linear,k the same way
   (k switches: k private OVS instances, two daemons each).
2. One network with two switches side by side, s_ovs (Open vSwitch, userspace datapath
   here: no openvswitch kernel module) and s_br (a Linux bridge), two hosts on each; iperf3
   TCP for ``--seconds`` between each pair, one after the other, ``--reps`` times.
   The OVS hosts' veths have tx checksum offload off (the userspace datapath needs it);
   a third measurement turns it off on the Linux-bridge pair too, to separate the
   datapath's cost from the offload's.
Absolute numbers on a shared 2-core machine are noisy; compare within one run.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

TESTBED = [sys.executable, "-m", "testbed.cli.main"]


def single(n: int, backend: str) -> dict:
    return timed_run("single.py", {"n": n}, backend)


def timed_run(topology: str, params: dict, backend: str) -> dict:
    argv = TESTBED + ["run", f"topologies/{topology}", "--switch", backend, "--test", "none"]
    for key, value in params.items():
        argv += ["--param", f"{key}={value}"]
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    total = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr}")
    build = float(re.search(r"built in ([\d.]+) s", proc.stderr).group(1))
    stop = float(re.search(r"torn down in ([\d.]+) s", proc.stderr).group(1))
    return {"build": build, "stop": stop, "total": total}


def throughput(reps: int, seconds: int) -> dict[str, list[float]]:
    import networkx as nx
    from testbed.kernel import ethtool
    from testbed.run.network import Network

    g = nx.Graph()
    g.add_node("s_ovs", kind="switch", backend="ovs")
    g.add_node("s_br", kind="switch", backend="linux")
    for host, switch in (("o1", "s_ovs"), ("o2", "s_ovs"), ("b1", "s_br"), ("b2", "s_br")):
        g.add_node(host, kind="host")
        g.add_edge(host, switch)
    results: dict[str, list[float]] = {"ovs userspace": [], "linux bridge": [], "linux bridge, tx csum off": []}
    with Network(g, source="ovs-vs-bridge") as net:
        def iperf(client: str, server: str) -> float:
            srv = net[server].popen(["iperf3", "-s", "-1", "-B", net[server].ip],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)
            out = net[client].run(["iperf3", "-c", net[server].ip, "-t", str(seconds), "-J"],
                                  timeout=seconds + 20)
            srv.wait(timeout=10)
            return json.loads(out.stdout)["end"]["sum_received"]["bits_per_second"] / 1e9

        for _ in range(reps):
            results["ovs userspace"].append(iperf("o1", "o2"))
            results["linux bridge"].append(iperf("b1", "b2"))
        for link in net.plan.links:
            if "s_br" in (link.a[0], link.b[0]):
                for node, intf in (link.a, link.b):
                    net.worker.run_inside(net[node].netns, ethtool.set_tx_checksum, [intf], False)
        for _ in range(reps):
            results["linux bridge, tx csum off"].append(iperf("b1", "b2"))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--linear", type=int, default=10, help="k of linear,k (one OVS per switch); 0: skip")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 3
    print(f"single,{args.n}: build / stop / whole process (s), median of {args.reps}")
    for backend in ("ovs", "linux"):
        runs = [single(args.n, backend) for _ in range(args.reps)]
        med = {k: statistics.median(r[k] for r in runs) for k in ("build", "stop", "total")}
        print(f"  {backend:6} build {med['build']:.2f}  stop {med['stop']:.2f}  "
              f"build+stop {med['build'] + med['stop']:.2f}  process {med['total']:.2f}   "
              "(all: " + ", ".join(f"{r['build']:.2f}/{r['stop']:.2f}" for r in runs) + ")")
    if args.linear:
        print(f"linear,{args.linear} (one private OVS per switch): build / stop (s), median of {args.reps}")
        for backend in ("ovs", "linux"):
            runs = [timed_run("linear.py", {"k": args.linear}, backend) for _ in range(args.reps)]
            print(f"  {backend:6} build {statistics.median(r['build'] for r in runs):.2f}  "
                  f"stop {statistics.median(r['stop'] for r in runs):.2f}")
    print(f"TCP throughput, iperf3 {args.seconds} s, Gbit/s (median of {args.reps}, all runs)")
    for name, values in throughput(args.reps, args.seconds).items():
        print(f"  {name:26} {statistics.median(values):6.2f}   ({', '.join(f'{v:.2f}' for v in values)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
