#!/usr/bin/env python3
"""Build-and-stop cost of testbed vs Mininet vs a hand-written `ip -batch` script, same run.

    sudo .venv/bin/python benchmarks/scale.py [--sizes 10,50,200,1000] [--tree 2,3 ...] [--no-mininet]

For each size N it times, as whole processes:
  - testbed:  testbed run topologies/single.py --param n=N --test none
  - Mininet:  mn --topo single,N --switch lxbr --controller none --test build  (when installed)
  - floor:    N namespaces with one veth each on one bridge through one `ip -batch`, links up
              with one `ip -n NS link set up` per namespace, then deleted with one `ip -batch`
and pingall of single,200 for testbed (and Mininet's sequential pingall with --pingall).
Absolute times on a shared machine are noisy; the ratios inside one run are the result.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TESTBED = [sys.executable, "-m", "testbed.cli.main"]


def timed(argv: list[str], env: dict | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.stdout + proc.stderr


def testbed_single(n: int, test: str = "none") -> dict:
    total, out = timed(TESTBED + ["run", "topologies/single.py", "--param", f"n={n}", "--test", test])
    build = float(re.search(r"built in ([\d.]+) s", out).group(1))
    stop = float(re.search(r"torn down in ([\d.]+) s", out).group(1))
    return {"total": total, "build": build, "stop": stop}


def testbed_tree(depth: int, fanout: int) -> dict:
    total, out = timed(TESTBED + ["run", "topologies/tree.py", "--param", f"depth={depth}",
                                  "--param", f"fanout={fanout}", "--test", "none"])
    return {"total": total, "hosts": fanout ** depth}


def mininet_single(n: int, test: str = "build") -> float:
    total, _ = timed(["mn", "--topo", f"single,{n}", "--switch", "lxbr", "--controller", "none",
                      "--test", test])
    return total


def ip_batch_floor(n: int) -> dict:
    """The kernel's floor through iproute2: one batch to build, one to delete."""
    tag = f"bf{os.getpid() % 10000}"
    sw = f"{tag}-s1"
    hosts = [f"{tag}-h{i}" for i in range(1, n + 1)]
    with tempfile.TemporaryDirectory() as tmp:
        build = os.path.join(tmp, "build")
        with open(build, "w") as f:
            f.write(f"netns add {sw}\n")
            for h in hosts:
                f.write(f"netns add {h}\n")
            for i, h in enumerate(hosts, 1):
                f.write(f"link add name eth0 netns {h} type veth peer name p{i} netns {sw}\n")
        switch = os.path.join(tmp, "switch")
        with open(switch, "w") as f:
            f.write("link add s1 type bridge\nlink set s1 up\n")
            for i in range(1, n + 1):
                f.write(f"link set p{i} master s1 up\n")
        delete = os.path.join(tmp, "delete")
        with open(delete, "w") as f:
            for name in [sw, *hosts]:
                f.write(f"netns del {name}\n")
        start = time.perf_counter()
        try:
            subprocess.run(["ip", "-batch", build], check=True)
            subprocess.run(["ip", "-n", sw, "-batch", switch], check=True)
            for h in hosts:
                subprocess.run(["ip", "-n", h, "link", "set", "eth0", "up"], check=True)
            built = time.perf_counter()
        finally:
            subprocess.run(["ip", "-batch", delete], check=False, stderr=subprocess.DEVNULL)
        stopped = time.perf_counter()
    return {"build": built - start, "stop": stopped - built}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,200,1000")
    parser.add_argument("--tree", action="append", default=[], metavar="DEPTH,FANOUT")
    parser.add_argument("--no-mininet", action="store_true")
    parser.add_argument("--mininet-max", type=int, default=200, help="largest N run under Mininet")
    parser.add_argument("--pingall", type=int, default=200, help="hosts for the pingall timing (0: skip)")
    parser.add_argument("--mininet-pingall", action="store_true", help="also time Mininet's pingall (slow)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("benchmarks need root", file=sys.stderr)
        return 3
    mininet = not args.no_mininet and shutil.which("mn") is not None
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'N':>5} {'testbed s':>10} {'build ms/h':>10} {'stop ms/h':>9} {'floor ms/h':>10} "
          f"{'mininet s':>10} {'mn ms/h':>8} {'ratio':>6} {'tb/floor':>8}")
    for n in sizes:
        tb = testbed_single(n)
        floor = ip_batch_floor(n)
        mn = mininet_single(n) if mininet and n <= args.mininet_max else None
        per = lambda t: 1000 * t / n  # noqa: E731
        ratio = f"{mn / tb['total']:6.1f}" if mn else "     -"
        mn_text = f"{mn:10.2f} {per(mn):8.1f}" if mn else f"{'-':>10} {'-':>8}"
        print(f"{n:5d} {tb['total']:10.2f} {per(tb['build']):10.2f} {per(tb['stop']):9.2f} "
              f"{per(floor['build']):10.2f} {mn_text} {ratio} {tb['build'] / floor['build']:8.2f}")
    for spec in args.tree:
        depth, fanout = (int(x) for x in spec.split(","))
        tb = testbed_tree(depth, fanout)
        print(f"tree depth={depth} fanout={fanout} ({tb['hosts']} hosts): testbed {tb['total']:.2f} s")
    if args.pingall:
        tb = testbed_single(args.pingall, "pingall")
        print(f"pingall single,{args.pingall}: testbed {tb['total']:.2f} s whole process "
              f"({args.pingall * (args.pingall - 1)} pairs)")
        if mininet and args.mininet_pingall:
            print(f"pingall single,{args.pingall}: mininet {mininet_single(args.pingall, 'pingall'):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
