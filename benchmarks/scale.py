#!/usr/bin/env python3
"""Cost per node of building and tearing down networks of 100 to 10,000+ nodes, against the
kernel's floor and Mininet, in one run; the ratios inside the run are the result.

    sudo .venv/bin/python benchmarks/scale.py [--fanouts 10,32,100] [--pingall 1000]
                                              [--single 200] [--plot benchmarks/scale.png]

For each fanout F, a tree of depth 2 (1 + F + F*F nodes: F*F hosts on F switches under one;
every bridge holds F + 1 ports) is measured four ways:

  testbed   ``testbed run topologies/tree.py --timings`` as a whole process, held up on its
            shell's input while the kernel's memory and the process's RSS are read, then
            torn down (the wait is not counted). Its own build and teardown times, and the
            time of each build phase (wall and CPU of the process).
  floor     the same namespaces, bridges and veths made by the simplest in-process loop
            (benchmarks/floor.py: one namespace, one netlink request per object, each
            waiting for its answer; no addresses, journal or planning), then removed.
  ip netns  ``ip -batch`` of ``netns add`` for as many namespaces (then ``netns del``): what
            iproute2 pays for the namespaces alone.
  Mininet   ``mn --topo tree,depth=2,fanout=F --switch lxbr --controller none --test build``
            where installed, up to --mininet-max nodes (it takes ~40 ms per node). Never
            followed by ``mn -c``, which would end every Mininet on the machine.

Then single,N (--single) for testbed and Mininet as whole processes (best of 3; the start-up
ratio) against what bounds that ratio for any Python tool (the interpreter importing networkx,
plus the kernel's floor for single,N),
``testbed --version`` start-up, and pingall of --pingall hosts on one switch (every ordered
pair, the exact matrix checked; the time of the test itself, beyond the build).

Printed: a table per size (ms per node; ratios to the floor; per-node cost against the size
nearest 1,000), the build phases, memory per node, and a log-log plot of per-node cost
against size (--plot). --json writes every number. Everything made is removed, also on
failure or Ctrl-C (testbed tears its own runs down; the floor removes what it made).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)
TESTBED = [sys.executable, "-m", "testbed.cli.main"]
TIMING_RE = re.compile(r"\*\*\* time (.+?): ([\d.]+) s wall, ([\d.]+) s cpu")
MEMINFO_KEYS = ("MemAvailable", "Slab", "SUnreclaim", "Percpu", "KernelStack", "PageTables")


def namespaces_held() -> int:
    """Network namespaces the kernel holds: alive, and removed but not yet freed."""
    with open("/proc/slabinfo") as f:
        for line in f:
            if line.startswith("net_namespace "):
                return int(line.split()[1])
    return -1


def settle(timeout: float = 120.0) -> float:
    """Wait until the kernel has freed the namespaces removed before (the machine's, not only
    ours): it frees them in a work queue that takes the RTNL lock, which every namespace and
    link made meanwhile needs too. Done when the count of held namespaces stops falling."""
    start = time.perf_counter()
    last = namespaces_held()
    while time.perf_counter() - start < timeout:
        time.sleep(1.0)
        now = namespaces_held()
        if now >= last:
            break
        last = now
    return time.perf_counter() - start


def tree_nodes(fanout: int) -> int:
    return 1 + fanout + fanout * fanout


def meminfo() -> dict[str, int]:
    """kB of the machine's memory counters (all of the machine: others' work shows in them)."""
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in MEMINFO_KEYS:
                out[key] = int(rest.split()[0])
    return out


def proc_status(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0])
    return out


def held_run(args: list[str], timeout: float = 900) -> dict:
    """``testbed run ARGS --timings`` held up on its shell's input: times, phases and memory.

    whole: the process's wall time, less the time it was held up after its build."""
    before = meminfo()
    start = time.perf_counter()
    proc = subprocess.Popen(TESTBED + ["run", *args, "--timings"], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if " built in " in line:
                break
        else:
            proc.wait(timeout=timeout)
            raise RuntimeError(f"testbed run {' '.join(args)} exited {proc.returncode}:\n{''.join(lines)}")
        up = time.perf_counter()
        status = proc_status(proc.pid)
        user, system = cpu_split(proc.pid)
        during = meminfo()
        held = time.perf_counter()
        proc.stdin.close()                     # the shell ends: teardown
        rest = proc.stderr.read()
        proc.wait(timeout=timeout)
        end = time.perf_counter()
    finally:
        if proc.poll() is None:                # interrupted: let it tear down
            proc.terminate()
            proc.wait(timeout=timeout)
    text = "".join(lines) + rest
    if proc.returncode != 0:
        raise RuntimeError(f"testbed run {' '.join(args)} exited {proc.returncode}:\n{text}")
    phases = {m.group(1): (float(m.group(2)), float(m.group(3))) for m in TIMING_RE.finditer(text)}
    return {"whole": (up - start) + (end - held),
            "build": float(re.search(r"built in ([\d.]+) s", text).group(1)),
            "stop": float(re.search(r"torn down in ([\d.]+) s", text).group(1)),
            "phases": phases, "rss_kb": status.get("VmRSS"), "hwm_kb": status.get("VmHWM"),
            "user_s": user, "system_s": system,
            "kernel_kb": {k: during[k] - before[k] for k in MEMINFO_KEYS if k in during and k in before}}


def timed(argv: list[str], timeout: float = 900) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.stdout + proc.stderr


def kernel_floor(fanout: int, linked: bool = False) -> dict:
    import networkx as nx
    from floor import floor
    sys.path.insert(0, os.path.join(ROOT, "topologies"))
    import tree
    graph: nx.Graph = tree.topology(depth=2, fanout=fanout)
    return floor(graph, linked=linked)


def ip_netns_floor(n: int) -> dict:
    """``ip -batch`` of n ``netns add`` lines, then n ``netns del``."""
    tag = f"ipf{os.getpid() % 10000}-"
    with tempfile.TemporaryDirectory() as tmp:
        add, delete = os.path.join(tmp, "add"), os.path.join(tmp, "del")
        with open(add, "w") as f:
            f.writelines(f"netns add {tag}{i}\n" for i in range(n))
        with open(delete, "w") as f:
            f.writelines(f"netns del {tag}{i}\n" for i in range(n))
        start = time.perf_counter()
        try:
            subprocess.run(["ip", "-batch", add], check=True)
        finally:
            made = time.perf_counter()
            subprocess.run(["ip", "-force", "-batch", delete], check=False, stderr=subprocess.DEVNULL)
        return {"build": made - start, "stop": time.perf_counter() - made}


def mininet(topo: str) -> float | None:
    """Mininet's build+stop of ``topo`` as a whole process. Mininet removes what it made when
    it ends; should it fail half-way, what it left is reported, not cleaned up here (`mn -c`
    would end every Mininet and controller on the machine, not only this one)."""
    if shutil.which("mn") is None:
        return None
    try:
        total, _ = timed(["mn", "--topo", topo, "--switch", "lxbr", "--controller", "none", "--test", "build"])
    except RuntimeError as exc:
        print(f"Mininet failed ({exc}); what it left, if anything, is for `sudo mn -c` to remove", file=sys.stderr)
        return None
    return total


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a live process so far, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def best_of(argv: list[str], repeat: int = 3) -> float:
    return min(timed(argv)[0] for _ in range(repeat))


def single_bounds(n: int) -> dict:
    """What any Python tool reading a networkx topology pays for single,N here: the interpreter
    with networkx imported (best of 5) and the kernel's floor for its namespaces and links."""
    import networkx as nx
    from floor import floor
    graph = nx.Graph()
    graph.add_node("s1", kind="switch")
    for i in range(1, n + 1):
        graph.add_edge(f"h{i}", "s1")
        graph.nodes[f"h{i}"]["kind"] = "host"
    settle()
    fl = floor(graph, linked=True)
    return {"python_networkx": best_of([sys.executable, "-c", "import networkx"], 5),
            "floor": fl["build"] + fl["stop"]}


def startup(repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        best = min(best, timed(TESTBED + ["--version"])[0])
    return best


def pingall(hosts: int) -> dict:
    total, out = timed(TESTBED + ["run", "topologies/single.py", "--param", f"n={hosts}", "--test", "pingall",
                                  "--timings"], timeout=1800)
    phases = {m.group(1): (float(m.group(2)), float(m.group(3))) for m in TIMING_RE.finditer(out)}
    summary = re.search(r"(\d+) pairs, (\d+) expected to connect, (\d+) wrong", out)
    test = phases.get("test pingall", (None, None))
    return {"hosts": hosts, "whole": total, "build": float(re.search(r"built in ([\d.]+) s", out).group(1)),
            "test": test[0], "test_cpu": test[1], "stop": float(re.search(r"torn down in ([\d.]+) s", out).group(1)),
            "pairs": int(summary.group(1)) if summary else None, "wrong": int(summary.group(3)) if summary else None}


def load() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def plot(rows: list[dict], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    xs = [r["nodes"] for r in rows]

    def line(key, label, style):
        pts = [(r["nodes"], 1e3 * r[key] / r["nodes"]) for r in rows if r.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts), style, label=label)
    line("tb_build", "testbed build", "o-")
    line("tb_stop", "testbed teardown", "o--")
    line("floor_build", "kernel floor build (in-process loop)", "s-")
    line("lfloor_build", "kernel floor build, mount points linked", "d-")
    line("floor_stop", "kernel floor removal", "s--")
    line("ipns_build", "ip -batch netns add (namespaces only)", "^:")
    line("mn_whole", "Mininet build+stop, whole process", "x-")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("nodes (tree, depth 2)")
    ax.set_ylabel("ms per node")
    ax.set_xticks(xs, [f"{x:,}" for x in xs])
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Cost per node against size")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fanouts", default="10,32,100", help="tree fanouts (depth 2): 10,32,100 = 111, 1,057, 10,101 nodes")
    parser.add_argument("--single", type=int, default=200, help="single,N for testbed and Mininet (0: skip)")
    parser.add_argument("--pingall", type=int, default=1000, help="hosts of the pingall (0: skip)")
    parser.add_argument("--mininet-max", type=int, default=200, help="largest tree (nodes) built with Mininet")
    parser.add_argument("--ipns-max", type=int, default=20000, help="largest `ip -batch netns add` measured")
    parser.add_argument("--plot", default=os.path.join(HERE, "scale.png"))
    parser.add_argument("--json", help="write every number here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("benchmarks need root", file=sys.stderr)
        return 3
    has_mn = shutil.which("mn") is not None
    results: dict = {"rows": [], "loads": []}
    rows = results["rows"]
    for fanout in (int(f) for f in args.fanouts.split(",") if f):
        n = tree_nodes(fanout)
        row: dict = {"fanout": fanout, "nodes": n, "load": load()}
        print(f"tree fanout {fanout} ({n} nodes), load {row['load']:.2f} ...", file=sys.stderr, flush=True)
        settle()
        tb = held_run(["topologies/tree.py", "--param", "depth=2", "--param", f"fanout={fanout}"])
        build_cpu = sum(cpu for name, (_, cpu) in tb["phases"].items() if name not in ("load and plan", "teardown"))
        row.update(tb_whole=tb["whole"], tb_build=tb["build"], tb_stop=tb["stop"], phases=tb["phases"],
                   tb_build_cpu=build_cpu, tb_stop_cpu=tb["phases"].get("teardown", (0, 0))[1],
                   rss_kb=tb["rss_kb"], hwm_kb=tb["hwm_kb"], kernel_kb=tb["kernel_kb"],
                   tb_user=tb["user_s"], tb_system=tb["system_s"])
        settle()
        fl = kernel_floor(fanout)
        row.update(floor_build=fl["build"], floor_stop=fl["stop"], floor_namespaces=fl["namespaces"],
                   floor_links=fl["links"], floor_build_cpu=fl["build_cpu"], floor_stop_cpu=fl["stop_cpu"])
        settle()
        fl = kernel_floor(fanout, linked=True)
        row.update(lfloor_build=fl["build"], lfloor_stop=fl["stop"], lfloor_namespaces=fl["namespaces"],
                   lfloor_links=fl["links"], lfloor_build_cpu=fl["build_cpu"], lfloor_stop_cpu=fl["stop_cpu"])
        if n <= args.ipns_max:
            settle()
            ip = ip_netns_floor(n)
            row.update(ipns_build=ip["build"], ipns_stop=ip["stop"])
        if has_mn and n <= args.mininet_max:
            row["mn_whole"] = mininet(f"tree,depth=2,fanout={fanout}")
        rows.append(row)
        print(f"  testbed {tb['build']:.2f} + {tb['stop']:.2f} s, floor {row['floor_build']:.2f} + "
              f"{row['floor_stop']:.2f} s, linked floor {fl['build']:.2f} + {fl['stop']:.2f} s", file=sys.stderr, flush=True)
    if args.single:
        n = args.single
        settle()
        tb = best_of(TESTBED + ["run", "topologies/single.py", "--param", f"n={n}", "--test", "none"])
        mn = mininet(f"single,{n}") if has_mn else None
        results["single"] = {"n": n, "testbed_whole": tb, "mininet_whole": mn, **single_bounds(n)}
    results["startup"] = startup()
    if args.pingall:
        settle()
        print(f"pingall of {args.pingall} hosts ...", file=sys.stderr, flush=True)
        results["pingall"] = pingall(args.pingall)
    report(results)
    if args.plot:
        plot(rows, args.plot)
        print(f"\nplot: {os.path.relpath(args.plot, ROOT)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


def report(results: dict) -> None:
    rows = results["rows"]
    ms = lambda t, n: f"{1e3 * t / n:.2f}" if t is not None else "-"   # noqa: E731
    ref = min(rows, key=lambda r: abs(r["nodes"] - 1000)) if rows else None
    print("Tree of depth 2; ms per node; floor = benchmarks/floor.py (new mount point files, as `ip netns add`), "
          "linked = the same with mount points linked (as testbed)")
    print(f"{'nodes':>7} {'load':>5} | {'tb whole s':>10} {'tb build':>8} {'tb stop':>7} | {'floor build':>11} "
          f"{'linked':>7} {'floor stop':>10} {'ip netns add':>12} | {'build/floor':>11} {'/linked':>7} "
          f"{'stop/floor':>10} | {'build vs ' + format(ref['nodes'], ',') if ref else '':>14} | {'Mininet whole':>13}")
    for r in rows:
        n = r["nodes"]
        lin = (r["tb_build"] / n) / (ref["tb_build"] / ref["nodes"])
        mn = f"{r['mn_whole']:.2f} s ({r['mn_whole'] / r['tb_whole']:.0f}x)" if r.get("mn_whole") else "-"
        print(f"{n:7,d} {r['load']:5.2f} | {r['tb_whole']:10.2f} {ms(r['tb_build'], n):>8} {ms(r['tb_stop'], n):>7} | "
              f"{ms(r['floor_build'], n):>11} {ms(r.get('lfloor_build'), n):>7} {ms(r['floor_stop'], n):>10} "
              f"{ms(r.get('ipns_build'), n):>12} | {r['tb_build'] / r['floor_build']:11.2f} "
              f"{r['tb_build'] / r['lfloor_build']:7.2f} {r['tb_stop'] / r['floor_stop']:10.2f} | "
              f"{lin:13.2f}x | {mn:>13}")
    print("\nCPU time of the building process (user + system), ms per node: what other work on the machine "
          "disturbs least")
    print(f"{'nodes':>7} | {'tb build':>8} {'tb stop':>7} | {'floor build':>11} {'linked':>7} {'floor stop':>10} | "
          f"{'build/floor':>11} {'/linked':>7} | {'build vs ' + format(ref['nodes'], ',') if ref else '':>14}")
    for r in rows:
        n = r["nodes"]
        lin = (r["tb_build_cpu"] / n) / (ref["tb_build_cpu"] / ref["nodes"])
        print(f"{n:7,d} | {ms(r['tb_build_cpu'], n):>8} {ms(r['tb_stop_cpu'], n):>7} | "
              f"{ms(r['floor_build_cpu'], n):>11} {ms(r.get('lfloor_build_cpu'), n):>7} {ms(r['floor_stop_cpu'], n):>10} | "
              f"{r['tb_build_cpu'] / r['floor_build_cpu']:11.2f} {r['tb_build_cpu'] / r['lfloor_build_cpu']:7.2f} | "
              f"{lin:13.2f}x")
    print("\nCPU of the testbed process up to the end of its build: user (Python) and system (the kernel's work "
          "in its system calls: what no user-space speed-up removes)")
    print(f"{'nodes':>7} | {'build s':>8} {'user s':>7} {'system s':>8} {'system share':>12}")
    for r in rows:
        if r.get("tb_user") is not None:
            total = r["tb_user"] + r["tb_system"]
            print(f"{r['nodes']:7,d} | {r['tb_build']:8.2f} {r['tb_user']:7.2f} {r['tb_system']:8.2f} "
                  f"{100 * r['tb_system'] / total if total else 0:11.0f}%")
    print("\nBuild phases (wall s / CPU s of the testbed process)")
    names = [k for k in (rows[0]["phases"] if rows else {})]
    print(f"{'nodes':>7} " + " ".join(f"{k[:18]:>18}" for k in names))
    for r in rows:
        print(f"{r['nodes']:7,d} " + " ".join(f"{r['phases'][k][0]:8.2f}/{r['phases'][k][1]:<9.2f}"
                                             if k in r["phases"] else f"{'-':>18}" for k in names))
    print("\nMemory while built, per node (kB; the machine's counters, so others' work shows in them)")
    print(f"{'nodes':>7} {'MemAvailable':>12} {'Slab':>8} {'SUnreclaim':>10} {'Percpu':>8} {'testbed RSS (MB)':>17}")
    for r in rows:
        k, n = r["kernel_kb"], r["nodes"]
        print(f"{r['nodes']:7,d} {-k.get('MemAvailable', 0) / n:12.1f} {k.get('Slab', 0) / n:8.1f} "
              f"{k.get('SUnreclaim', 0) / n:10.1f} {k.get('Percpu', 0) / n:8.1f} {r['rss_kb'] / 1024:17.0f}")
    if results.get("single"):
        s = results["single"]
        mn = f"Mininet {s['mininet_whole']:.2f} s, {s['mininet_whole'] / s['testbed_whole']:.1f}x" \
            if s["mininet_whole"] else "Mininet not installed"
        print(f"\nsingle,{s['n']} build+stop as whole processes (best of 3): testbed {s['testbed_whole']:.2f} s, {mn}")
        bound = s["python_networkx"] + s["floor"]
        print(f"  the floor of any Python tool reading a networkx graph: interpreter with networkx "
              f"{s['python_networkx']:.2f} s + kernel floor {s['floor']:.2f} s = {bound:.2f} s"
              + (f", {s['mininet_whole'] / bound:.1f}x Mininet at best" if s["mininet_whole"] else ""))
    print(f"testbed --version: {results['startup']:.3f} s (best of 5)")
    if results.get("pingall"):
        p = results["pingall"]
        print(f"pingall of {p['hosts']} hosts ({p['pairs']} ordered pairs, {p['wrong']} wrong): test {p['test']:.2f} s "
              f"({p['test_cpu']:.2f} s of CPU) beyond a build of {p['build']:.2f} s; whole process {p['whole']:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
