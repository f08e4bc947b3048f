#!/usr/bin/env python3
"""What IPv6 costs: plan and build time of dual-stack networks against IPv4-only ones, same run.

    sudo .venv/bin/python benchmarks/ipv6.py [--repeat 5] [--single 200] [--tree 2,32] [--pingall]

Each topology is planned and built (then torn down) alternately IPv4-only and dual stack
(the graph's ipv6=True), ``--repeat`` times each; the medians and their ratio are printed.
The build includes waiting until every IPv6 address is usable. With --pingall, single's
all-pairs test is timed too (dual stack pings every pair twice, once per family).
Absolute times on a shared machine are noisy; the ratios inside one run are the result.
"build cpu" is the CPU time of this process (all its threads, user and system) during the build:
less at the mercy of other load than the wall clock, blind to the kernel's own workers.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from testbed import Network, load, plan  # noqa: E402


def measure(name: str, params: dict[str, str], ipv6: bool, pingall: bool) -> dict[str, float]:
    graph, full = load(os.path.join(ROOT, "topologies", f"{name}.py"), params)
    if ipv6:
        graph.graph["ipv6"] = True
    t0 = time.perf_counter()
    planned = plan(graph, source=name, params=full)
    t1 = time.perf_counter()
    net = Network(planned)
    try:
        c1 = time.process_time()
        net.start()
        t2 = time.perf_counter()
        result = {"plan": t1 - t0, "build": t2 - t1, "build cpu": time.process_time() - c1}
        if pingall:
            found = net.pingall()
            result["pingall"] = time.perf_counter() - t2
            if not found.ok:
                raise SystemExit(f"pingall of {name} (ipv6={ipv6}) failed:\n{found.matrix()}")
    finally:
        t3 = time.perf_counter()
        net.stop()
        result["stop"] = time.perf_counter() - t3
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--single", type=int, default=200, help="hosts of single.py (0: skip)")
    parser.add_argument("--tree", default="2,32", help="depth,fanout of tree.py ('' : skip)")
    parser.add_argument("--pingall", action="store_true", help="time single's pingall too")
    args = parser.parse_args()
    cases = []
    if args.single:
        cases.append((f"single,{args.single}", "single", {"n": str(args.single)}, args.pingall))
    if args.tree:
        depth, fanout = args.tree.split(",")
        cases.append((f"tree {depth}x{fanout}", "tree", {"depth": depth, "fanout": fanout}, False))
    print(f"{'topology':<14} {'what':<9} {'IPv4 only (s)':>14} {'dual stack (s)':>15} {'ratio':>7}")
    for label, name, params, pingall in cases:
        runs: dict[bool, list[dict]] = {False: [], True: []}
        measure(name, params, False, False)                      # warm caches (imports, page cache)
        for _ in range(args.repeat):
            for ipv6 in (False, True):
                runs[ipv6].append(measure(name, params, ipv6, pingall))
        for what in runs[False][0]:
            v4 = statistics.median(r[what] for r in runs[False])
            v6 = statistics.median(r[what] for r in runs[True])
            print(f"{label:<14} {what:<9} {v4:>14.3f} {v6:>15.3f} {v6 / v4:>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
