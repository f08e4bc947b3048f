#!/usr/bin/env python3
"""Soak: build and tear down a mixed network many times in one process; count what leaks.

    sudo .venv/bin/python benchmarks/soak.py [--cycles 1000] [--every 50] [--ping]

The network has everything that starts something: an Open vSwitch switch (its own daemons),
a DHCP server and clients behind DHCP snooping, a NAT gateway towards an emulated outside,
shaped links, and a command left running in the background inside a host (teardown must
find it by its namespace). After every cycle it counts, against the state before the first:
namespaces, interfaces in the root namespace, /etc/netns entries, run folders, nftables
tables in the root namespace, processes in namespaces that no longer exist, and this
process's open files, threads and resident memory. Prints a line every --every cycles and a
summary; exits 1 if anything leaked.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import threading
import time

import networkx as nx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from testbed import Network  # noqa: E402


def mixed() -> nx.Graph:
    g = nx.Graph()
    g.add_node("s1", kind="switch", backend="ovs")
    g.add_node("s2", kind="switch", dhcp_snooping=True)
    g.add_node("nat", kind="nat", outside="web")
    g.add_node("web", kind="host", ip="203.0.113.2/24")
    g.add_node("srv", kind="host", ip="10.0.0.2/24", dhcp_server={"range": "10.0.0.100,10.0.0.150"})
    g.add_node("h1", kind="host", ip="10.0.0.11/24")
    g.add_node("h2", kind="host", ip="dhcp")
    g.add_node("h3", kind="host", ip="dhcp")
    g.add_edge("nat", "web", ip={"nat": "203.0.113.1/24"})
    g.add_edge("nat", "s1", ip={"nat": "10.0.0.1/24"})
    g.add_edge("h1", "s1", bw=50, loss=1)
    g.add_edge("s1", "s2")
    g.add_edge("srv", "s2", port={"s2": {"trusted": True}})
    g.add_edge("h2", "s2")
    g.add_edge("h3", "s2", bw={"h3": 20})
    return g


def _ls(path: str) -> set[str]:
    try:
        return set(os.listdir(path))
    except FileNotFoundError:
        return set()


def _root_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {line.split(":", 2)[1].strip().split("@")[0] for line in out.splitlines() if line.strip()}


def _root_tables() -> str:
    return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout.strip()


def _ours(pid: str) -> bool:
    """Started for a testbed run: a node's command (TESTBED_RUN in its environment) or a daemon
    whose command line names a run's folder (Open vSwitch, dnsmasq, dhclient)."""
    try:
        return b"TESTBED_RUN=" in open(f"/proc/{pid}/environ", "rb").read() or \
            b"/run/testbed/" in open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return False


def _orphans(settle: float = 2.0) -> list[int]:
    """Processes of testbed runs whose network namespace is neither the root one nor a named one,
    still there ``settle`` seconds later (not one that is just exiting)."""
    found = _orphans_now()
    if found:
        time.sleep(settle)
        found = sorted(set(found) & set(_orphans_now()))
    return found


def _orphans_now() -> list[int]:
    root = os.readlink("/proc/self/ns/net")
    named = set()
    for name in _ls("/run/netns"):
        try:
            named.add(f"net:[{os.stat(os.path.join('/run/netns', name)).st_ino}]")
        except OSError:
            pass
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            ns = os.readlink(f"/proc/{pid}/ns/net")
            if ns != root and ns not in named and open(f"/proc/{pid}/cmdline", "rb").read() and _ours(pid):
                found.append(int(pid))
        except OSError:
            continue
    return found


def snapshot() -> dict:
    return {"namespaces": _ls("/run/netns"), "root links": _root_links(), "/etc/netns": _ls("/etc/netns"),
            "runs": _ls("/run/testbed"), "root nft": _root_tables(), "orphans": _orphans(),
            "fds": len(os.listdir("/proc/self/fd")), "threads": threading.active_count(),
            "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "rss_now_kb": int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024}


def leaks(before: dict, now: dict, mine: set[str]) -> dict:
    """What is there now that was not before: of the soak's own runs (``mine``: their run ids),
    and anything in the root namespace (a testbed never makes anything there)."""
    found = {}
    for key in ("namespaces", "root links", "/etc/netns", "runs"):
        extra = sorted(n for n in now[key] - before[key]
                       if key == "root links" or n in mine or n.split("-")[0] in mine)
        if extra:
            found[key] = extra[:5] + (["..."] if len(extra) > 5 else [])
    if now["root nft"] != before["root nft"]:
        found["root nft"] = now["root nft"]
    extra = sorted(set(now["orphans"]) - set(before["orphans"]))
    if extra:
        found["orphans"] = extra
    for key in ("fds", "threads"):
        if now[key] > before[key]:
            found[key] = now[key] - before[key]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--every", type=int, default=50, help="print a line every N cycles")
    parser.add_argument("--ping", action="store_true", help="also pingall every cycle (checks the network works)")
    args = parser.parse_args()
    graph = mixed()
    before = snapshot()
    started = time.monotonic()
    worst: dict = {}
    rss = []
    mine: set[str] = set()
    for cycle in range(1, args.cycles + 1):
        with Network(graph, source="soak") as net:
            mine.add(net.run_id)
            net["h1"].cmd("sleep 600 &")                    # left running: teardown must find it
            if args.ping:
                result = net.pingall()
                if not result.ok:
                    print(f"cycle {cycle}: pingall not as expected:\n{result.matrix()}", file=sys.stderr)
                    return 1
        now = snapshot()
        rss.append(now["rss_now_kb"])
        found = leaks(before, now, mine)
        if "root links" in found:                          # someone else's short-lived link? look again
            time.sleep(2.0)
            found = leaks(before, snapshot(), mine)
        if found:
            worst = found
            print(f"cycle {cycle}: leaked {found}", file=sys.stderr)
            break
        if cycle % args.every == 0 or cycle == args.cycles:
            rate = cycle / (time.monotonic() - started)
            print(f"cycle {cycle}: nothing leaked; fds {now['fds']} threads {now['threads']} "
                  f"rss {now['rss_now_kb'] / 1024:.1f} MiB ({rate:.2f} cycles/s)", flush=True)
    first = rss[min(len(rss) - 1, 9)] if rss else 0
    print(f"summary: {len(rss)} cycles in {time.monotonic() - started:.0f} s; leaks: {worst or 'none'}; "
          f"rss after 10 cycles {first / 1024:.1f} MiB, at the end {rss[-1] / 1024:.1f} MiB "
          f"(growth {(rss[-1] - first) / 1024:+.1f} MiB); fds {snapshot()['fds']} (start {before['fds']})")
    return 1 if worst else 0


if __name__ == "__main__":
    sys.exit(main())
