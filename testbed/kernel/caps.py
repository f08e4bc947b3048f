"""What this kernel and machine can do: probed, never assumed.

Kernel features are tried for real inside a throwaway network namespace: a child process
(``python -m testbed.kernel.caps --inside``) unshares a new one (with a user namespace
when not root), makes a veth pair there, adds and removes each qdisc, link kind and
nftables family, prints the results as JSON and exits, which deletes the namespace and
everything in it. The root namespace is never touched. Tools are looked up on PATH.
Results are cached for the life of the process.
"""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Callable

CLONE_NEWNET, CLONE_NEWUSER = 0x40000000, 0x10000000
PROBE_TIMEOUT = 300.0               # a software-emulated VM starts Python slowly


@dataclass(frozen=True)
class Capability:
    name: str
    ok: bool | None             # None: could not be probed
    enables: str
    remedy: str                 # how to get it when missing
    detail: str = ""


# name -> (what it enables, how to get it)
KERNEL = {
    "veth": ("links between namespaces (every topology)", "a kernel with CONFIG_VETH"),
    "bridge": ("hubs, bridges and switches", "a kernel with CONFIG_BRIDGE"),
    "tbf": ("token-bucket rate limits", "a kernel with CONFIG_NET_SCH_TBF"),
    "htb": ("link bw (rate limits)", "a kernel with CONFIG_NET_SCH_HTB, or `testbed run --vm`"),
    "netem": ("link delay and jitter (and loss by netem)",
              "a kernel with CONFIG_NET_SCH_NETEM (stock distribution kernels have it): `testbed run --vm`"),
    "red": ("link ecn (RED queues that mark ECN, for DCTCP)",
            "a kernel with CONFIG_NET_SCH_RED (stock distribution kernels have it): `testbed run --vm`"),
    "dctcp": ("the dctcp TCP congestion control (experiments/dctcp.py)",
              "a kernel with CONFIG_TCP_CONG_DCTCP (stock distribution kernels have it): `testbed experiment --vm`"),
    "8021q": ("802.1Q VLAN interfaces", "a kernel with CONFIG_VLAN_8021Q: `testbed run --vm`"),
    "bridge-vlan-filtering": ("VLAN-aware bridges (port VLANs)",
                              "a kernel with CONFIG_BRIDGE_VLAN_FILTERING: `testbed run --vm`"),
    "openvswitch-module": ("OVS kernel datapath (the userspace datapath works without it)",
                           "a kernel with CONFIG_OPENVSWITCH: `testbed run --vm`"),
    "macvlan": ("macvlan interfaces", "a kernel with CONFIG_MACVLAN"),
    "vxlan": ("VXLAN tunnels", "a kernel with CONFIG_VXLAN"),
    "dummy": ("in-node dummy devices (without it they are made as ifb devices, planned so)",
              "a kernel with CONFIG_DUMMY"),
    "ifb": ("ifb devices (in-node dummy devices where the kernel has no dummy driver)", "a kernel with CONFIG_IFB"),
    "nft-inet": ("nftables filters and NAT", "a kernel with CONFIG_NF_TABLES_INET; apt-get install nftables"),
    "nft-bridge": ("nftables filters on bridged frames", "a kernel with CONFIG_NF_TABLES_BRIDGE"),
    "nft-netdev": ("link loss without netem (netdev ingress drop with numgen random)",
                   "a kernel with CONFIG_NF_TABLES_NETDEV and CONFIG_NFT_NUMGEN; apt-get install nftables"),
}
TOOLS = {
    "iperf3": ("--test iperf, bandwidth measurements", "apt-get install iperf3", ("iperf3",)),
    "ping": ("ping inside nodes (pingall uses its own ICMP sockets)", "apt-get install iputils-ping", ("ping",)),
    "dnsmasq": ("DHCP and DNS servers in nodes", "apt-get install dnsmasq-base", ("dnsmasq",)),
    "ovs-tools": ("Open vSwitch switches (userspace datapath)", "apt-get install openvswitch-switch",
                  ("ovs-vsctl", "ovsdb-server", "ovs-vswitchd", "ovsdb-tool")),
}
# What `--vm` needs (QEMU, virtme-ng, a stock kernel, KVM) is probed by testbed.vm.lane_capabilities(),
# with the same lookups the lane itself makes.


# ---------------------------------------------------------------- inside the throwaway namespace

def _unshare() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNET if uid == 0 else CLONE_NEWNET | CLONE_NEWUSER
    if libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare: {os.strerror(err)}")
    if uid != 0:
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"0 {uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"0 {gid} 1")


def _kernel_probes() -> dict[str, tuple[bool, str]]:
    """Run in a fresh namespace: try each feature, return name -> (ok, detail)."""
    from pyroute2 import IPRoute
    from testbed.kernel import nft, red

    results: dict[str, tuple[bool, str]] = {}

    def attempt(name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
            results[name] = (True, "")
        except Exception as exc:                       # a refusal is the answer we look for
            results[name] = (False, f"{type(exc).__name__}: {exc}"[:200])

    with IPRoute() as ipr:
        attempt("veth", lambda: ipr.link("add", ifname="p0", kind="veth", peer="p1"))
        if not results["veth"][0]:
            return results
        p0 = ipr.link_lookup(ifname="p0")[0]
        ipr.link("set", index=p0, state="up")

        def qdisc(kind: str, **opts) -> Callable[[], None]:
            def run() -> None:
                ipr.tc("add", kind, p0, 0x10000, **opts)
                ipr.tc("del", index=p0, handle=0x10000, parent=0xFFFFFFFF)
            return run
        attempt("tbf", qdisc("tbf", rate=125000, burst=3200, latency=50))
        attempt("htb", qdisc("htb", default=1))
        attempt("netem", qdisc("netem", delay=1000))
        attempt("red", lambda: (red.add(p0, 0x10000, 0xFFFFFFFF, red.RedParams(
            limit=30280, qth_min=15140, qth_max=15141, avpkt=1514, bandwidth=10**8, wlog=0)),
            ipr.tc("del", index=p0, handle=0x10000, parent=0xFFFFFFFF)))
        attempt("bridge", lambda: ipr.link("add", ifname="br0", kind="bridge"))
        attempt("bridge-vlan-filtering", lambda: ipr.link("add", ifname="br1", kind="bridge", br_vlan_filtering=1))
        attempt("8021q", lambda: ipr.link("add", ifname="p0.10", kind="vlan", link=p0, vlan_id=10))
        attempt("macvlan", lambda: ipr.link("add", ifname="mv0", kind="macvlan", link=p0, macvlan_mode="bridge"))
        attempt("dummy", lambda: ipr.link("add", ifname="dm0", kind="dummy"))
        attempt("ifb", lambda: ipr.link("add", ifname="ifb9", kind="ifb"))
        attempt("vxlan", lambda: ipr.link("add", ifname="vx0", kind="vxlan", vxlan_id=42, vxlan_link=p0,
                                          vxlan_port=4789))
    attempt("openvswitch-module", _ovs_family)
    attempt("dctcp", lambda: _congestion_control("dctcp"))
    attempt("nft-inet", lambda: nft.run("add table inet tb_probe\n"))
    attempt("nft-bridge", lambda: nft.run("add table bridge tb_probe\n"))
    attempt("nft-netdev", lambda: nft.run(nft.ingress_drop_rules("p1", 10.0)))
    return results


def _congestion_control(name: str) -> None:
    """Ask for a TCP congestion control on a socket (the kernel loads its module if it has one)."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, name.encode())


def _ovs_family() -> None:
    from pyroute2.netlink.generic import GenericNetlinkSocket
    from pyroute2.netlink import genlmsg
    sock = GenericNetlinkSocket()
    try:
        sock.bind("ovs_datapath", genlmsg)          # looking the family up loads the module
    finally:
        sock.close()


def _inside() -> int:
    """Entry point of the probing child: unshare, probe, print JSON."""
    try:
        _unshare()
    except OSError as exc:
        print(json.dumps({"error": f"cannot make a throwaway namespace: {exc}"}))
        return 0
    print(json.dumps({k: list(v) for k, v in _kernel_probes().items()}))
    return 0


# ---------------------------------------------------------------- from outside

@lru_cache(maxsize=1)
def _kernel_results() -> tuple[dict[str, tuple[bool, str]], str]:
    """Run the probing child once per process: (results, error)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    try:
        proc = subprocess.run([sys.executable, "-m", "testbed.kernel.caps", "--inside"], capture_output=True,
                              text=True, timeout=PROBE_TIMEOUT, env=env, stdin=subprocess.DEVNULL)
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, json.JSONDecodeError, IndexError, OSError) as exc:
        return {}, f"the probe failed: {exc}"
    if "error" in data:
        return {}, data["error"]
    return {k: (bool(v[0]), str(v[1])) for k, v in data.items()}, ""


_prefetch: threading.Thread | None = None


def prefetch() -> None:
    """Start the probe in the background (a command that will plan soon, e.g. testbed mn while its
    script imports and declares); the first user of the results waits for it."""
    global _prefetch
    if _prefetch is None and _kernel_results.cache_info().currsize == 0:
        _prefetch = threading.Thread(target=_kernel_results, name="kernel-probe", daemon=True)
        _prefetch.start()


def _probed() -> tuple[dict[str, tuple[bool, str]], str]:
    if _prefetch is not None:
        _prefetch.join()
    return _kernel_results()


def _user_namespaces() -> tuple[bool, str]:
    try:
        with open("/proc/sys/user/max_user_namespaces") as f:
            limit = int(f.read())
    except (OSError, ValueError):
        return False, "no /proc/sys/user/max_user_namespaces"
    if limit <= 0:
        return False, "user.max_user_namespaces is 0"
    try:
        with open("/proc/sys/kernel/unprivileged_userns_clone") as f:
            if f.read().strip() == "0":
                return False, "kernel.unprivileged_userns_clone is 0"
    except OSError:
        pass
    return True, f"up to {limit}"


@lru_cache(maxsize=1)
def probe() -> tuple[Capability, ...]:
    """Every capability of this machine (cached per process)."""
    results, error = _probed()
    caps: list[Capability] = []
    for name, (enables, remedy) in KERNEL.items():
        if name in results:
            ok, detail = results[name]
            caps.append(Capability(name, ok, enables, remedy, detail if not ok else ""))
        else:
            caps.append(Capability(name, None, enables, remedy, error or "not probed (no veth)"))
    ok, detail = _user_namespaces()
    caps.append(Capability("user-namespaces", ok, "kernel probes without root (testbed plan and doctor as a normal user)",
                           "sysctl user.max_user_namespaces=15000 kernel.unprivileged_userns_clone=1", detail))
    for name, (enables, remedy, programs) in TOOLS.items():
        missing = [p for p in programs if shutil.which(p) is None]
        caps.append(Capability(name, not missing, enables, remedy,
                               f"missing: {', '.join(missing)}" if missing else ""))
    return tuple(caps)


def features() -> frozenset[str] | None:
    """Names of the kernel features present, for planning (testbed.planning.pipeline); None if they could not be probed."""
    results, _ = _probed()
    if not results:
        return None
    return frozenset(name for name, (ok, _) in results.items() if ok)


def has(name: str) -> bool:
    return any(c.name == name and c.ok for c in probe())


def report(caps: tuple[Capability, ...]) -> str:
    """The text `testbed doctor` prints."""
    width = max(len(c.name) for c in caps) + 2
    lines = [f"testbed doctor: kernel {os.uname().release}, {os.cpu_count()} CPUs"]
    for c in caps:
        mark = {True: "yes", False: "NO ", None: "?  "}[c.ok]
        line = f"  {mark} {c.name:<{width}}{c.enables}"
        if c.ok is True and c.detail:
            line += f" [{c.detail}]"
        if c.ok is not True:
            line += f"\n      {'':<{width}}get it: {c.remedy}"
            if c.detail:
                line += f" ({c.detail})"
        lines.append(line)
    return "\n".join(lines)


def to_json(caps: tuple[Capability, ...]) -> str:
    return json.dumps({"kernel": os.uname().release, "capabilities": [asdict(c) for c in caps]}, indent=2)


if __name__ == "__main__":
    if sys.argv[1:] == ["--inside"]:
        sys.exit(_inside())
    print(report(probe()))
