"""Provenance of an experiment run: what ran, where, with which versions (for meta.json).

Everything here is cheap to read: files under /proc and /sys, one ``--version`` per tool,
``git rev-parse`` in the testbed's own checkout. Nothing needs root.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import sys
import subprocess
from typing import Any, Mapping

import networkx as nx

import testbed

PACKAGES = ("networkx", "pyroute2", "matplotlib", "numpy")
TOOLS = {"ip": ["ip", "-V"], "iperf3": ["iperf3", "--version"], "ping": ["ping", "-V"],
         "tcpdump": ["tcpdump", "--version"], "ethtool": ["ethtool", "--version"], "nft": ["nft", "--version"]}
# Recorded when a run's plan uses them (see tools_used).
TOOLS_WHEN_USED = {"openvswitch": ["ovs-vswitchd", "--version"], "dnsmasq": ["dnsmasq", "--version"],
                   "frr": ["vtysh", "--version"]}
# Host settings (root namespace, read-only) that results depend on: neighbour table size
# (shared by every namespace), backlog and socket buffers, TCP defaults new namespaces inherit.
HOST_SYSCTLS = (
    "net.ipv4.neigh.default.gc_thresh1", "net.ipv4.neigh.default.gc_thresh2", "net.ipv4.neigh.default.gc_thresh3",
    "net.core.netdev_max_backlog", "net.core.rmem_max", "net.core.wmem_max", "net.core.default_qdisc",
    "net.ipv4.tcp_congestion_control", "net.ipv4.tcp_available_congestion_control", "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem", "net.ipv4.tcp_timestamps", "net.ipv4.tcp_sack", "net.ipv4.tcp_ecn",
    "net.bridge.bridge-nf-call-iptables", "user.max_user_namespaces", "kernel.pid_max",
)
OFFLOADS = ("rx-checksumming", "tx-checksumming", "scatter-gather", "tcp-segmentation-offload",
            "generic-segmentation-offload", "generic-receive-offload")
MAX_OFFLOAD_INTERFACES = 32
# Kernel features experiments depend on, by their kernel config option.
KERNEL_OPTIONS = {
    "bridge": "CONFIG_BRIDGE", "veth": "CONFIG_VETH", "macvlan": "CONFIG_MACVLAN",
    "ipvlan": "CONFIG_IPVLAN", "vxlan": "CONFIG_VXLAN", "vlan_8021q": "CONFIG_VLAN_8021Q",
    "bridge_vlan_filtering": "CONFIG_BRIDGE_VLAN_FILTERING", "netem": "CONFIG_NET_SCH_NETEM",
    "tbf": "CONFIG_NET_SCH_TBF", "htb": "CONFIG_NET_SCH_HTB", "ifb": "CONFIG_IFB",
    "nftables": "CONFIG_NF_TABLES", "openvswitch": "CONFIG_OPENVSWITCH", "gre": "CONFIG_NET_IPGRE",
    "dummy": "CONFIG_DUMMY",
}


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def canonical_graph(graph: nx.Graph) -> dict[str, Any]:
    """The node and edge data of a graph in an order-independent form."""
    def norm(value: Any) -> Any:
        return json.loads(json.dumps(value, sort_keys=True, default=str))

    nodes = sorted([str(n), norm(d)] for n, d in graph.nodes(data=True))
    if graph.is_multigraph():
        edges = [[*sorted((str(u), str(v))), str(k), norm(d)] for u, v, k, d in graph.edges(keys=True, data=True)]
    else:
        edges = [[*sorted((str(u), str(v))), "0", norm(d)] for u, v, d in graph.edges(data=True)]
    edges.sort(key=lambda e: json.dumps(e, sort_keys=True))
    return {"directed": graph.is_directed(), "multigraph": graph.is_multigraph(), "nodes": nodes, "edges": edges}


def graph_hash(graph: nx.Graph) -> str:
    """sha256 of the canonical JSON of the graph's node and edge data."""
    return sha256_text(json.dumps(canonical_graph(graph), sort_keys=True, separators=(",", ":")))


def tool_versions(tools: Mapping[str, list[str]] = TOOLS) -> dict[str, str | None]:
    """The first line of each tool's version output (None when it is not installed)."""
    versions: dict[str, str | None] = {}
    for name, argv in tools.items():
        if shutil.which(argv[0]) is None:
            versions[name] = None
            continue
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=5)
            text = (out.stdout + out.stderr).strip()
            versions[name] = text.splitlines()[0] if text else None
        except (OSError, subprocess.TimeoutExpired):
            versions[name] = None
    return versions


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _kernel_config() -> dict[str, str] | None:
    uname = os.uname().release
    for path in ("/proc/config.gz", f"/boot/config-{uname}"):
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt") as f:
                return dict(re.findall(r"^(CONFIG_\w+)=(\S+)$", f.read(), re.M))
        except OSError:
            continue
    return None


def kernel_info() -> dict[str, Any]:
    """Release, version and which features the kernel config says are built in (y) or modules (m)."""
    uname = os.uname()
    info: dict[str, Any] = {"release": uname.release, "version": uname.version, "machine": uname.machine}
    config = _kernel_config()
    if config is None:
        info["features"] = None
        info["features_source"] = "no kernel config readable"
    else:
        info["features"] = {name: config.get(option, "n") for name, option in KERNEL_OPTIONS.items()}
        info["features_source"] = "kernel config"
    return info


def process_capabilities() -> dict[str, Any]:
    """The effective user and capability sets of this process (from /proc/self/status)."""
    caps: dict[str, Any] = {"euid": os.geteuid()}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("CapEff:", "CapPrm:")):
                    key, value = line.split(":", 1)
                    caps[key] = value.strip()
    except OSError:
        pass
    return caps


# `--vm` runs a copy of the package staged in guest memory, outside any checkout: the host
# records its checkout's commit here for the guest (testbed.cli.vmrun)
SOURCE_COMMIT_ENV, SOURCE_DIRTY_ENV = "TESTBED_SOURCE_COMMIT", "TESTBED_SOURCE_DIRTY"


def git_commit(path: str | None = None) -> dict[str, Any]:
    """The commit of the checkout holding the testbed package, and whether it has local changes
    (without a checkout: what the host that staged the package recorded, else None)."""
    where = path or os.path.dirname(os.path.dirname(os.path.abspath(testbed.__file__)))
    unknown: dict[str, Any] = {"commit": None, "dirty": None}
    if path is None and os.environ.get(SOURCE_COMMIT_ENV):
        unknown = {"commit": os.environ[SOURCE_COMMIT_ENV], "dirty": os.environ.get(SOURCE_DIRTY_ENV) == "1"}
    try:
        commit = subprocess.run(["git", "-C", where, "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=5)
        if commit.returncode != 0:
            return unknown
        status = subprocess.run(["git", "-C", where, "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10)
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.TimeoutExpired):
        return unknown


def file_record(path: str) -> dict[str, Any]:
    """sha256 and size of a file."""
    with open(path, "rb") as f:
        data = f.read()
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def distribution() -> str | None:
    """PRETTY_NAME of /etc/os-release (e.g. "Debian GNU/Linux 12 (bookworm)")."""
    try:
        with open("/etc/os-release") as f:
            values = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    except OSError:
        return None
    return values.get("PRETTY_NAME", "").strip('"') or None


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def host_sysctls(names: tuple[str, ...] = HOST_SYSCTLS) -> dict[str, str | None]:
    """The root namespace's values (None where this kernel has no such setting)."""
    values: dict[str, str | None] = {}
    for name in names:
        try:
            with open("/proc/sys/" + name.replace(".", "/")) as f:
                values[name] = " ".join(f.read().split())
        except OSError:
            values[name] = None
    return values


def tools_used(plan: Any) -> list[str]:
    """Which of TOOLS_WHEN_USED a plan needs: Open vSwitch for OVS switches, dnsmasq for DHCP servers,
    FRR for routers that run routing daemons."""
    used = []
    if plan.backend("ovs"):
        used.append("openvswitch")
    dhcp = plan.concern("dhcp")
    if dhcp is not None and dhcp.servers:
        used.append("dnsmasq")
    if plan.concern("routing"):
        used.append("frr")
    return used


def parse_offloads(text: str) -> dict[str, str]:
    """The OFFLOADS lines of `ethtool -k` output: name -> "on"/"off" (with "[fixed]" when it cannot change)."""
    found = {}
    for line in text.splitlines():
        name, sep, value = line.strip().partition(":")
        if sep and name in OFFLOADS:
            found[name] = value.strip()
    return found


def link_offloads(net: Any, limit: int = MAX_OFFLOAD_INTERFACES) -> dict[str, Any]:
    """Offload settings of the link ends (veths) of a running network, read with ethtool -k."""
    ends = [(node.name, i.name) for node in net.plan.nodes for i in node.interfaces if i.peer is not None]
    found: dict[str, Any] = {}
    for node, ifname in ends[:limit]:
        try:
            out = net[node].run(["ethtool", "-k", ifname], timeout=10)
            found[f"{node}:{ifname}"] = parse_offloads(out.stdout) if out.returncode == 0 else None
        except Exception as exc:          # provenance must never stop a run: record why it is missing
            found[f"{node}:{ifname}"] = f"not read: {type(exc).__name__}: {exc}"
    if len(ends) > limit:
        found["(not read)"] = f"{len(ends) - limit} more link ends"
    return found


def environment() -> dict[str, Any]:
    """Everything about this machine and software that a run's meta.json records."""
    return {
        "testbed": {"version": testbed.__version__, **git_commit()},
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation(),
                   "executable": sys.executable, "prefix": sys.prefix},
        "packages": package_versions(),
        "tools": tool_versions(),
        "kernel": kernel_info(),
        "capabilities": process_capabilities(),
        "host": {"cpu_count": os.cpu_count(), "cpu_model": cpu_model(), "hostname": platform.node(),
                 "distribution": distribution(), "load_average_start": load_average(),
                 "working_folder": os.getcwd(), "sysctls": host_sysctls()},
    }


def jsonable(value: Any) -> Any:
    """A value as plain JSON types (tuples to lists, unknown objects to str)."""
    return json.loads(json.dumps(value, default=str))


def describe_params(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())
