#!/usr/bin/env python3
"""What one network namespace costs here, and what makes it cost more as there are more.

    sudo .venv/bin/python benchmarks/netns_costs.py [--n 2000] [--repeat 3] [--variants a,b,...]

Each variant makes N named namespaces in-process (unshare(CLONE_NEWNET) in a thread, then a bind
mount on /run/netns/NAME, as ``ip netns add`` does), then removes them and waits until the kernel
has freed them (the net_namespace slab count is back). Variants, run in turn R times:

  plain        a new file per mount point (O_CREAT), nothing written inside
  sysctl       plain + net.ipv6.conf.default.disable_ipv6=1 through /proc/sys (what a build did)
  private      plain + the same sysctl through a private procfs instance (nsfs.Sysctls)
  linked       private, and mount points as hard links of one file (nsfs.MountPoints): testbed
  linked2      linked in 2 threads at once (N/2 each)

Printed per variant: the CPU time of the making thread per namespace (median over the first and
the last tenth: growth with the number alive; mean over all), which a loaded machine disturbs
little; the wall time per namespace of the whole, which it does; the removal; the kernel's freeing
after it; and the spread over the repetitions, with the load average before each. Everything it makes is removed, also on Ctrl-C.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from testbed.kernel import nsfs  # noqa: E402

CLONE_NEWNET, MS_BIND, MNT_DETACH = 0x40000000, 4096, 2
libc = ctypes.CDLL(None, use_errno=True)
SYSCTL = "net.ipv6.conf.default.disable_ipv6"


def check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def alive() -> int:
    """Network namespaces the kernel holds (all of the machine's, not only ours)."""
    with open("/proc/slabinfo") as f:
        for line in f:
            if line.startswith("net_namespace "):
                return int(line.split()[1])
    return -1


class Maker:
    """Makes namespaces one way, in the calling thread."""

    def __init__(self, variant: str):
        self.variant = variant
        self.sysctls = nsfs.Sysctls()
        self.mountpoints = nsfs.MountPoints()
        self.root = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    def make(self, path: str) -> float:
        """Make one namespace; the CPU time this thread spent on it (s), in the kernel mostly."""
        start = time.thread_time()
        if self.variant.startswith("linked"):
            self.mountpoints.make(path)
        else:
            os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444))
        check(libc.unshare(CLONE_NEWNET), "unshare")
        try:
            check(libc.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", MS_BIND, None), "mount")
            if self.variant == "sysctl":
                nsfs.write_sysctl(SYSCTL, "1")
            elif self.variant != "plain":
                self.sysctls.write(SYSCTL, "1")
        finally:
            check(libc.setns(self.root, CLONE_NEWNET), "setns")
        return time.thread_time() - start

    def close(self) -> None:
        self.sysctls.close()
        self.mountpoints.close()
        os.close(self.root)


def run(variant: str, n: int, prefix: str) -> dict:
    threads = 2 if variant.endswith("2") else 1
    names = [[f"{prefix}{t}-{i}" for i in range(t, n, threads)] for t in range(threads)]
    times: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []

    def work(t: int) -> None:
        maker = Maker(variant)
        try:
            for name in names[t]:
                times[t].append(maker.make(nsfs.netns_path(name)))
        except BaseException as exc:     # reported by the caller
            errors.append(exc)
        finally:
            maker.close()

    before = alive()
    start = time.perf_counter()
    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        made = time.perf_counter() - start
    finally:
        removed_at = time.perf_counter()
        for group in names:
            for name in group:
                nsfs.remove(name)
        removed = time.perf_counter() - removed_at
    if errors:
        raise errors[0]
    freed_at = time.perf_counter()
    while alive() > before + 16 and time.perf_counter() - freed_at < 120:
        time.sleep(0.02)
    freed = time.perf_counter() - freed_at
    each = [x for group in times for x in group]
    tenth = max(1, len(times[0]) // 10)
    first = statistics.median(x for group in times for x in group[:tenth])
    last = statistics.median(x for group in times for x in group[-tenth:])
    return {"first": 1e3 * first, "last": 1e3 * last, "cpu": 1e3 * statistics.mean(each), "whole": 1e3 * made / n,
            "remove": 1e3 * removed / n, "freed": freed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="namespaces per variant and repetition")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--variants", default="plain,sysctl,private,linked,linked2")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 3
    nsfs.ensure_netns_dir()
    variants = args.variants.split(",")
    prefix = f"nsc{os.getpid()}-"
    results: dict[str, list[dict]] = {v: [] for v in variants}
    loads = []
    for r in range(args.repeat):
        for v in variants:
            loads.append(float(open("/proc/loadavg").read().split()[0]))
            results[v].append(run(v, args.n, f"{prefix}{v}{r}-"))
            res = results[v][-1]
            print(f"  [{r + 1}/{args.repeat}] {v:8s} load {loads[-1]:5.2f}: cpu first {res['first']:.2f} last "
                  f"{res['last']:.2f} mean {res['cpu']:.2f}, wall {res['whole']:.2f} ms/ns, remove {res['remove']:.2f} ms/ns, "
                  f"freed {res['freed']:.1f} s later", file=sys.stderr, flush=True)
    print(f"{args.n} namespaces per run, {args.repeat} runs per variant in turn, load average "
          f"{min(loads):.1f}-{max(loads):.1f}; medians (min-max) in ms per namespace")
    print(f"{'variant':9s} {'cpu first 10%':>16s} {'cpu last 10%':>16s} {'cpu mean':>16s} {'wall':>16s} "
          f"{'remove (wall)':>16s} {'kernel frees':>16s}")
    for v in variants:
        def cell(key: str, unit: str = "") -> str:
            xs = [x[key] for x in results[v]]
            return f"{statistics.median(xs):.2f}{unit} ({min(xs):.2f}-{max(xs):.2f})".rjust(16)
        print(f"{v:9s} {cell('first')} {cell('last')} {cell('cpu')} {cell('whole')} {cell('remove')} "
              f"{cell('freed', 's')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
