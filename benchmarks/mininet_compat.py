#!/usr/bin/env python3
"""The same Mininet scripts under Mininet and under ``testbed mn``, whole processes, one run.

    sudo .venv/bin/python benchmarks/mininet_compat.py [--cases tree64,tree1024,dumbbell] [--repeat 1]

The scripts (benchmarks/mininet_scripts/) use only the Mininet 2.3 API:
  - tree64:   treeping64's network (TreeTopo depth 2, fanout 8: 64 hosts, 9 switches), pingAll
  - tree1024: tree1024's network (depth 2, fanout 32: 1024 hosts, 33 switches), built and stopped
  - dumbbell: two hosts each side of a 10 Mbit/s TCLink bottleneck, pingAll, TCP h1->h3, h2->h4
Each runs as ``python3 SCRIPT`` with Debian's mininet package (2.3.0) and as ``python -m
testbed.mn SCRIPT``. Their switches are Linux bridges with no controller, which both run
on a kernel without the Open vSwitch module. Mininet runs in a network namespace of its
own (``unshare -n``): its switches and their ports live in the namespace it starts in, and
there they meet no other bridge of the machine and vanish with it. Printed: the whole
process, the script's own build (Mininet() + start()) and stop times, the results
(pingAll loss, rates) and the ratios Mininet / testbed. Times on a shared machine are
noisy; the ratios within one run are the result.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRIPTS = os.path.join(HERE, "mininet_scripts")
CASES = {
    "tree64": ("tree.py", ["--depth", "2", "--fanout", "8", "--pingall"]),
    "tree1024": ("tree.py", ["--depth", "2", "--fanout", "32"]),
    "dumbbell": ("dumbbell.py", ["--bw", "10", "--seconds", "5"]),
}


def engines(python: str) -> dict[str, list[str]]:
    found = {"testbed": [sys.executable, "-m", "testbed.mn"]}
    if python:
        found["mininet"] = ["unshare", "-n", python]
    return found


def run(engine: list[str], case: str, timeout: float) -> dict:
    script, args = CASES[case]
    start = time.perf_counter()
    proc = subprocess.run([*engine, os.path.join(SCRIPTS, script), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ, PYTHONPATH=ROOT))
    total = time.perf_counter() - start
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(engine)} {script} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n"
                           f"{proc.stderr[-2000:]}")
    return {"total": total, **json.loads(lines[-1])}


def mininet_python() -> str | None:
    """A Python that imports Debian's mininet package (None: Mininet is not installed)."""
    python = shutil.which("python3", path="/usr/bin")
    if python and subprocess.run([python, "-c", "import mininet.net"], capture_output=True).returncode == 0:
        return python
    return None


def results(r: dict) -> str:
    parts = []
    if r.get("loss") is not None:
        parts.append(f"loss {r['loss']:.0f} %")
    if r.get("iperf"):
        parts.append("TCP " + " / ".join(f"{x:.2f}" for x in r["iperf"]) + " Mbit/s")
    return ", ".join(parts) or "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    parser.add_argument("--repeat", type=int, default=1, help="runs of each (the best is reported)")
    parser.add_argument("--no-mininet", action="store_true", help="testbed only")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds a run may take")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("run as root (sudo)", file=sys.stderr)
        return 2
    python = None if args.no_mininet else mininet_python()
    if not args.no_mininet and python is None:
        print("Mininet is not installed (apt-get install mininet): testbed only", file=sys.stderr)
    print("| case | engine | whole process | build | stop | build+stop | results |")
    print("|---|---|---|---|---|---|---|")
    measured: dict[tuple[str, str], dict] = {}
    for case in args.cases.split(","):
        for name, engine in engines(python).items():
            best = min((run(engine, case, args.timeout) for _ in range(args.repeat)), key=lambda r: r["total"])
            measured[case, name] = best
            print(f"| {case} | {name} | {best['total']:.2f} s | {best['build']:.2f} s | {best['stop']:.2f} s | "
                  f"{best['build'] + best['stop']:.2f} s | {results(best)} |", flush=True)
    if python:
        print("\n| case | Mininet / testbed, whole process | build+stop | results |")
        print("|---|---|---|---|")
        for case in args.cases.split(","):
            m, t = measured[case, "mininet"], measured[case, "testbed"]
            same = "same loss" if m.get("loss") == t.get("loss") else f"loss {m.get('loss')} vs {t.get('loss')}"
            if m.get("iperf"):
                worst = max(abs(a - b) / a * 100 for a, b in zip(m["iperf"], t["iperf"]))
                same += f", rates within {worst:.1f} %"
            print(f"| {case} | {m['total'] / t['total']:.1f}x | "
                  f"{(m['build'] + m['stop']) / (t['build'] + t['stop']):.1f}x | {same} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
