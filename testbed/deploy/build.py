"""Apply a Plan to the kernel with a journal and rollback; tear a run down from its journal.

Phases, in order (each object is journaled before it is made):
  1. namespaces, one per node, with their global sysctls (IPv6 off, forwarding on)
  2. devices: the bridges of switching nodes, in-node bridges and dummies
  3. links: veth pairs created straight into both namespaces, one end up (and in its bridge)
  4. per namespace: loopback and the other veth ends up, addresses, routes, other sysctls;
     then the port VLANs of VLAN-filtering bridges (kernel/bridgevlan.py)
  4b. link shaping: qdiscs on egress, nftables loss on ingress (they go with the namespace)
  5. /etc/netns/<namespace>/hosts for name resolution
  6. wait for every veth to have carrier, then for STP bridges to converge
  7. Open vSwitch switches: a private OVS per switch, bridges, ports, flows (ovs_deploy.py)
A failure (or Ctrl-C/SIGTERM) in any phase removes everything made so far, in reverse.
"""
from __future__ import annotations

import errno
import ipaddress
import os
import shutil
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from testbed.errors import DeployError, EnvironmentProblem
from testbed.concerns import apply
from testbed.ovs import deploy as ovs_deploy
from testbed.deploy.journal import Journal
from testbed.kernel import bridgevlan, netlink, nsfs
from testbed.ovs import daemons as ovs
from testbed.model.plan import Node, Plan
from testbed.kernel.procs import process_alive, stop_process
from testbed.tools import require_tools

ETC_NETNS = "/etc/netns"
CHUNK = 128
CARRIER_TIMEOUT = 10.0          # seconds for every veth to report carrier after the build
Progress = Callable[[str, int, int], None]


def netns_name(run_id: str, node: str) -> str:
    return f"{run_id}-{node}"


def if_indexes(plan: Plan) -> dict[tuple[str, str], int]:
    """The ifindex each interface gets in its namespace (lo is 1; ours count from 2)."""
    return {(n.name, intf.name): i for n in plan.nodes for i, intf in enumerate(n.interfaces, start=2)}


@dataclass
class Deployment:
    plan: Plan
    journal: Journal
    worker: nsfs.NetnsWorker
    progress: Progress | None = None
    deferred: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    _neighbours: dict | None = None

    def ns(self, node: str) -> str:
        return netns_name(self.journal.run_id, node)

    def _tick(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def build(self) -> None:
        """Make every object of the plan; on any failure remove what was made and raise."""
        try:
            nsfs.ensure_netns_dir()
            nsfs.raise_fd_limit(len(self.plan.nodes) + 64)
            self._namespaces()
            fds = nsfs.open_all(self.ns(n.name) for n in self.plan.nodes)
            try:
                self._devices_and_links(fds)
                apply.create_macvlans(self, fds, if_indexes(self.plan))
            finally:
                nsfs.close_all(fds)
            self._configure()
            bridgevlan.configure(self.plan, self.ns)
            self._shape()
            apply.configure(self)
            self._hosts_files()
            self._wait_carrier()
            self._wait_stp()
            ovs_deploy.start(self.plan, self.journal, self.worker, self.ns)
        except BaseException as exc:
            with signals_blocked():
                teardown(self.journal)
            if isinstance(exc, netlink.NetlinkError):
                raise DeployError(f"{exc.what} failed: {os.strerror(exc.errno)}{_hint(exc)}; "
                                  "everything built so far was removed") from exc
            if isinstance(exc, OSError):
                raise DeployError(f"building failed: {exc}; everything built so far was removed") from exc
            raise

    # ---------------------------------------------------------------- phase 1

    def _namespaces(self) -> None:
        nodes = self.plan.nodes
        for start in range(0, len(nodes), CHUNK):
            chunk = nodes[start:start + CHUNK]
            self.journal.record({"type": "netns", "name": self.ns(n.name)} for n in chunk)
            self.worker.call(self._create_chunk, chunk)
            self._tick("namespaces", start + len(chunk), len(nodes))

    def _create_chunk(self, chunk: tuple[Node, ...]) -> None:
        for node in chunk:
            def setup(node: Node = node) -> None:
                for key, value in node.sysctls:
                    try:
                        nsfs.write_sysctl(key, value)
                    except FileNotFoundError:       # names an interface not made yet
                        self.deferred.setdefault(node.name, []).append((key, value))
            self.worker.create_here(self.ns(node.name), setup)

    # ---------------------------------------------------------------- phases 2 and 3

    def _devices_and_links(self, fds: dict[str, int]) -> None:
        index = if_indexes(self.plan)
        with netlink.Batch() as batch:
            devices = [(n, i) for n in self.plan.nodes for i in n.interfaces if i.kind in ("bridge", "dummy")]
            self.journal.record({"type": "link", "netns": self.ns(n.name), "name": i.name} for n, i in devices)
            for node, intf in devices:
                fd = fds[self.ns(node.name)]
                if intf.kind == "bridge":
                    b = intf.bridge
                    batch.bridge(intf.name, index[(node.name, intf.name)], intf.mac, fd, stp=b.stp,
                                 ageing=b.ageing, forward_delay=b.forward_delay, priority=b.priority,
                                 vlan_filtering=b.vlan_filtering)
            batch.commit()
            self._dummies(batch, [(n, i) for n, i in devices if i.kind == "dummy"], fds, index)
            self._tick("devices", len(devices), len(devices))
            links = self.plan.links
            for start in range(0, len(links), CHUNK):
                chunk = links[start:start + CHUNK]
                self.journal.record({"type": "link", "netns": self.ns(e[0]), "name": e[1]}
                                    for l in chunk for e in (l.a, l.b))
                for link in chunk:
                    primary, peer = self._ends(link)
                    p_intf = self.plan.node(primary[0]).interface(primary[1])
                    q_intf = self.plan.node(peer[0]).interface(peer[1])
                    master = _bridge_index(self.plan.node(primary[0]), p_intf, index)
                    batch.veth(p_intf.name, index[primary], p_intf.mac, fds[self.ns(primary[0])], master,
                               q_intf.name, index[peer], q_intf.mac, fds[self.ns(peer[0])])
                batch.commit()
                self._tick("links", start + len(chunk), len(links))

    def _dummies(self, batch: netlink.Batch, dummies, fds, index) -> None:
        """Stand-alone interfaces: dummy devices, or ifb ones where the kernel has no dummy driver."""
        for link_kind in ("dummy", "ifb"):
            for node, intf in dummies:
                batch.device(link_kind, intf.name, index[(node.name, intf.name)], intf.mac,
                             fds[self.ns(node.name)])
            try:
                batch.commit()
                return
            except netlink.NetlinkError as exc:
                if exc.errno != errno.EOPNOTSUPP or link_kind == "ifb" or not dummies:
                    raise

    def _ends(self, link) -> tuple[tuple[str, str], tuple[str, str]]:
        """The end created up and enslaved in the same request: one with a bridge if any."""
        a_master = self.plan.node(link.a[0]).interface(link.a[1]).master
        b_master = self.plan.node(link.b[0]).interface(link.b[1]).master
        return (link.b, link.a) if b_master and not a_master else (link.a, link.b)

    # ---------------------------------------------------------------- phase 4

    @property
    def neighbours(self) -> dict[str, list[tuple[str, str, str]]]:
        """node -> (ifname, ip, mac) of every other address on its LANs, when ARP is static."""
        if self._neighbours is None:
            self._neighbours = static_neighbours(self.plan) if self.plan.arp == "static" else {}
        return self._neighbours

    def _configure(self) -> None:
        index = if_indexes(self.plan)
        peers: dict[str, list[str]] = {}
        for link in self.plan.links:
            _, peer = self._ends(link)
            peers.setdefault(peer[0], []).append(peer[1])
        todo = [n for n in self.plan.nodes if n.role == "l3" or n.name in peers or n.name in self.deferred]
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start:start + CHUNK]
            self.worker.call(self._configure_chunk, chunk, peers, index)
            self._tick("addresses", start + len(chunk), len(todo))

    def _configure_chunk(self, chunk: list[Node], peers: dict[str, list[str]], index) -> None:
        for node in chunk:
            with self.worker.inside(self.ns(node.name)), netlink.Batch() as batch:
                batch.set_link(1, "lo", up=True)
                for ifname in peers.get(node.name, ()):
                    intf = node.interface(ifname)
                    master = _bridge_index(node, intf, index)
                    batch.set_link(index[(node.name, ifname)], ifname, up=True, master=master)
                for intf in node.interfaces:
                    for cidr in intf.addresses:
                        batch.address(index[(node.name, intf.name)], f"{node.name}/{intf.name}", cidr)
                for route in node.routes:
                    batch.route(route.dst, route.via)
                for ifname, ip, mac in self.neighbours.get(node.name, ()):
                    batch.neighbour(index[(node.name, ifname)], ip, mac)
                try:
                    batch.commit()
                except netlink.NetlinkError as exc:
                    raise netlink.NetlinkError(exc.errno, f"node {node.name}: {exc.what}") from None
                for key, value in self.deferred.get(node.name, ()):
                    nsfs.write_sysctl(key, value)

    def _shape(self) -> None:
        todo = [n for n in self.plan.nodes if any(i.qdiscs or i.ingress_loss for i in n.interfaces)]
        if not todo:
            return
        from testbed.kernel.shape import shape_node
        index = if_indexes(self.plan)
        for done, node in enumerate(todo, start=1):
            self.worker.run_inside(self.ns(node.name), shape_node, node, index)
            self._tick("shaping", done, len(todo))

    # ---------------------------------------------------------------- phases 5 and 6

    def _hosts_files(self) -> None:
        """/etc/netns/<ns>/hosts: each name resolves to the address best reached from that node.

        Nodes on the same subnets share one file in the run's folder, linked from each
        /etc/netns entry (``ip netns exec`` bind-mounts what the link points to).
        """
        l3 = [n for n in self.plan.nodes if n.role == "l3"]
        dirs = [os.path.join(ETC_NETNS, self.ns(n.name)) for n in l3]
        self.journal.record({"type": "dir", "path": d} for d in dirs)
        os.makedirs(ETC_NETNS, exist_ok=True)
        files: dict[frozenset, str] = {}
        for node, directory in zip(l3, dirs):
            nets = frozenset(ipaddress.ip_interface(a).network for a in node.addresses)
            if nets not in files:
                files[nets] = os.path.join(os.path.dirname(self.journal.path), f"hosts.{len(files)}")
                with open(files[nets], "w") as f:
                    f.write(hosts_text(self.plan, nets))
            os.mkdir(directory)
            os.symlink(files[nets], os.path.join(directory, "hosts"))
        self._tick("hosts files", len(dirs), len(dirs))

    def _wait_carrier(self, timeout: float = CARRIER_TIMEOUT) -> None:
        """Wait until every veth has carrier: the kernel reports it a moment after both ends are
        up (later on a loaded machine), and until then bridge ports drop what they get."""
        index = if_indexes(self.plan)
        todo = {n.name: {index[(n.name, i.name)] for i in n.interfaces if i.kind == "veth"}
                for n in self.plan.nodes}
        todo = {name: indexes for name, indexes in todo.items() if indexes}
        deadline = time.monotonic() + timeout
        while todo:
            todo = self.worker.call(self._without_carrier, todo)
            if not todo:
                return
            if time.monotonic() > deadline:
                names = sorted(f"{node}/{intf.name}" for node, indexes in todo.items()
                               for intf in self.plan.node(node).interfaces
                               if index[(node, intf.name)] in indexes)
                raise DeployError(f"no carrier on {', '.join(names[:10])} after {timeout:.0f} s")
            time.sleep(0.01)

    def _without_carrier(self, todo: dict[str, set[int]]) -> dict[str, set[int]]:
        """(worker thread) node -> veth ifindexes still without carrier."""
        left = {}
        for node, indexes in todo.items():
            with self.worker.inside(self.ns(node)):
                missing = netlink.links_without_carrier(indexes)
            if missing:
                left[node] = missing
        return left

    def _wait_stp(self) -> None:
        stp = [(n, i) for n in self.plan.nodes for i in n.interfaces if i.bridge and i.bridge.stp]
        if not stp:
            return
        from testbed.kernel import linkstate
        delay = max((i.bridge.forward_delay or 2.0) for _, i in stp)
        deadline = time.monotonic() + 2 * delay + 10
        names = {self.ns(n.name) for n, _ in stp}
        while time.monotonic() < deadline:
            if all(self.worker.run_inside(ns, linkstate.stp_settled) for ns in names):
                return
            time.sleep(0.25)
        raise DeployError(f"STP did not converge within {2 * delay + 10:.0f} s on "
                          f"{', '.join(sorted(n.name for n, _ in stp))}")


def _bridge_index(node: Node, intf, index) -> int | None:
    """The ifindex of the Linux bridge ``intf`` is a port of (None: none, or an OVS bridge)."""
    if not intf.master or node.interface(intf.master).kind != "bridge":
        return None
    return index[(node.name, intf.master)]


def hosts_text(plan: Plan, nets: frozenset) -> str:
    """A hosts file for a node on ``nets``: every name with its address on a shared subnet,
    else its first address."""
    lines = ["127.0.0.1\tlocalhost"]
    for node in plan.nodes:
        if node.role != "l3" or not node.addresses:
            continue
        ifaces = [ipaddress.ip_interface(a) for a in node.addresses]
        best = next((i for i in ifaces if i.network in nets), ifaces[0])
        lines.append(f"{best.ip}\t{node.name}")
    return "\n".join(lines) + "\n"


def static_neighbours(plan: Plan) -> dict[str, list[tuple[str, str, str]]]:
    """For every L3 interface, the (ip, mac) of the other addressed interfaces on its LAN."""
    members: dict[int, list[tuple[str, str, str, str]]] = {}
    for seg in plan.segments:
        for node, ifname in seg.interfaces:
            intf = plan.node(node).interface(ifname)
            for cidr in intf.addresses:
                members.setdefault(seg.index, []).append((node, ifname, cidr.split("/")[0], intf.mac))
    result: dict[str, list[tuple[str, str, str]]] = {}
    for entries in members.values():
        for node, ifname, ip, _ in entries:
            result.setdefault(node, []).extend((ifname, oip, omac) for onode, oif, oip, omac in entries
                                               if (onode, oif) != (node, ifname))
    return result


def _hint(exc: netlink.NetlinkError) -> str:
    if exc.errno == errno.EOPNOTSUPP:
        return " (the kernel lacks this link kind: run `testbed doctor`)"
    if exc.errno == errno.ENOENT and " qdisc " in exc.what:
        return " (the kernel lacks this qdisc: run `testbed doctor`; plan with what it has)"
    if exc.errno == errno.EEXIST:
        return " (a name or address is already used: is another run using it?)"
    return ""


@contextmanager
def signals_blocked() -> Iterator[None]:
    """Hold off SIGINT and SIGTERM (in the main thread) so a teardown is not cut short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def require_root() -> None:
    if os.geteuid() != 0:
        raise EnvironmentProblem("building a network needs root (network namespaces, netlink): "
                                 "run it with sudo, or as root")
    require_tools("ip")


def _terminate_all(entries: Iterable[dict]) -> None:
    """SIGTERM every journaled process still alive, without waiting (stop_process waits)."""
    for entry in entries:
        if process_alive(entry["pid"], entry.get("start")):
            try:
                os.kill(entry["pid"], signal.SIGTERM)
            except ProcessLookupError:
                pass


def _remove_dir(path: str) -> None:
    """Remove an /etc/netns folder of ours: its hosts link, then the folder (or all of it)."""
    try:
        os.unlink(os.path.join(path, "hosts"))
        os.rmdir(path)
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


def teardown(journal: Journal, entries: Iterable[dict] | None = None,
             progress: Progress | None = None) -> dict[str, int]:
    """Delete exactly what the journal lists, newest first; safe to call again."""
    entries = list(journal.entries() if entries is None else entries)
    counts = {"process": 0, "netns": 0, "dir": 0, "link": 0}
    for entry in entries:
        if entry.get("type") == "ovs":            # its taps would outlive the namespace
            ovs.release_devices(entry)
    _terminate_all(e for e in entries if e.get("type") == "process")   # let them exit together
    if progress is not None:
        progress("teardown", 0, sum(1 for e in entries if e.get("type") == "netns"))
    for entry in reversed(entries):
        if entry.get("type") == "process" and stop_process(entry["pid"], entry.get("start")):
            counts["process"] += 1
    for entry in reversed(entries):
        if entry.get("type") == "ovs":             # daemons the journal missed, then the folder
            counts["process"] += ovs.remove(entry, stop_process)
    netns_owned = {e["name"] for e in entries if e.get("type") == "netns"}
    seen = 0
    for entry in reversed(entries):
        kind = entry.get("type")
        if kind == "netns" and nsfs.remove(entry["name"]):
            counts["netns"] += 1
        if kind == "netns":
            seen += 1
            if progress is not None and (seen % CHUNK == 0 or seen == len(netns_owned)):
                progress("teardown", seen, len(netns_owned))
        elif kind == "link" and entry.get("netns") in netns_owned:
            counts["link"] += 1                  # went away with its namespace
        elif kind == "dir":
            path = entry.get("path", "")
            if os.path.dirname(path) == ETC_NETNS and os.path.isdir(path):
                _remove_dir(path)
                counts["dir"] += 1
        elif kind == "file" and os.path.dirname(entry.get("path", "")) == os.path.dirname(journal.path):
            try:                                 # a service's file in the run's folder
                os.unlink(entry["path"])
            except FileNotFoundError:
                pass
    journal.remove()
    return counts
