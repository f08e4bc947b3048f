"""Apply a Plan to the kernel: an ordered list of phases over one DeployContext.

Phases, in order (each object is journaled before it is made):
  namespaces   one per node, with their global sysctls (IPv6 off, forwarding on)
  links        bridges of switching nodes, in-node bridges and dummies; veth pairs created
               straight into both namespaces, one end up (and in its bridge); then each
               concern's ``create`` hook (macvlan children need their lower device)
  configure    per namespace: loopback and the other veth ends up, an id for each namespace its
               veths lead to (`ip link` names a veth's peer namespace), addresses, routes,
               neighbour entries, the sysctls of interfaces made later
  backends     each switch backend's ``configure`` (Linux bridges: VLANs, hairpin, port security)
  concerns     each concern's ``configure`` (qdiscs, nftables rules)
  hosts        /etc/netns/<namespace>/hosts for name resolution
  carrier      wait for every veth to have carrier, then for STP bridges to converge
  switches     each switch backend's ``start`` (Open vSwitch: a private OVS per switch, flows)
A failure (or Ctrl-C/SIGTERM) in any phase removes everything made so far, in reverse.
"""
from __future__ import annotations

import errno
import ipaddress
import os
import time
from typing import Callable

from testbed import backends, concerns
from testbed.deploy.context import DeployContext, Progress, netns_name
from testbed.deploy.hosts import hosts_text, static_neighbours
from testbed.deploy.teardown import deferred_signals, teardown
from testbed.errors import DeployError
from testbed.kernel import linkstate, netlink, nsfs
from testbed.kernel.journal import ETC_NETNS, Dir, Journal, Link, Netns
from testbed.model.plan import Node, Plan

CHUNK = 128                     # objects per netlink batch (and journal write)
FDS_NEEDED = 2 * CHUNK + 64     # namespace fds held while one batch of links is made, and some room
CARRIER_TIMEOUT = 10.0          # seconds for every veth to report carrier after the build

__all__ = ["PHASES", "Progress", "build", "netns_name"]


def build(plan: Plan, journal: Journal, worker: nsfs.NetnsWorker, progress: Progress | None = None) -> None:
    """Make every object of the plan; on any failure remove what was made and raise."""
    ctx = DeployContext(plan, journal, worker, progress)
    try:
        nsfs.ensure_netns_dir()
        nsfs.raise_fd_limit(FDS_NEEDED)
        for phase in PHASES:
            phase(ctx)
    except BaseException as exc:
        with deferred_signals():
            teardown(journal)
        if isinstance(exc, netlink.NetlinkError):
            raise DeployError(f"{exc.what} failed: {os.strerror(exc.errno)}{_hint(exc)}; "
                              "everything built so far was removed") from exc
        if isinstance(exc, OSError):
            raise DeployError(f"building failed: {exc}; everything built so far was removed") from exc
        raise


# ---------------------------------------------------------------- namespaces

def namespaces(ctx: DeployContext) -> None:
    nodes = ctx.plan.nodes
    for start in range(0, len(nodes), CHUNK):
        chunk = nodes[start:start + CHUNK]
        ctx.record(Netns(ctx.ns(n.name)) for n in chunk)
        ctx.worker.call(_create_chunk, ctx, chunk)
        ctx.tick("namespaces", start + len(chunk), len(nodes))


def _create_chunk(ctx: DeployContext, chunk: tuple[Node, ...]) -> None:
    for node in chunk:
        def setup(node: Node = node) -> None:
            for key, value in node.sysctls:
                try:
                    nsfs.write_sysctl(key, value)
                except FileNotFoundError:       # names an interface not made yet
                    ctx.deferred.setdefault(node.name, []).append((key, value))
                except OSError as exc:
                    raise DeployError(f"node {node.name}: sysctl {key}={value}: {exc.strerror}") from None
        ctx.worker.create_here(ctx.ns(node.name), setup)


# ---------------------------------------------------------------- links

def links(ctx: DeployContext) -> None:
    """Devices, then veths, a batch at a time: only the namespaces of one batch are held open
    (so the number of open files does not grow with the network)."""
    plan, index = ctx.plan, ctx.index
    devices = [(n, i) for n in plan.nodes for i in n.interfaces if i.kind in ("bridge", "dummy", "ifb")]
    with netlink.Batch() as batch:
        for start in range(0, len(devices), CHUNK):
            chunk = devices[start:start + CHUNK]
            ctx.record(Link(ctx.ns(n.name), i.name) for n, i in chunk)
            with ctx.opened(n.name for n, _ in chunk):
                for node, intf in chunk:
                    if intf.kind == "bridge":
                        b = intf.bridge
                        batch.bridge(intf.name, index[(node.name, intf.name)], intf.mac, ctx.fd(node.name),
                                     stp=b.stp, ageing=b.ageing, forward_delay=b.forward_delay,
                                     priority=b.priority, vlan_filtering=b.vlan_filtering)
                    else:                                    # a stand-alone interface: dummy or ifb
                        batch.device(intf.kind, intf.name, index[(node.name, intf.name)], intf.mac, ctx.fd(node.name))
                batch.commit()
            ctx.tick("devices", start + len(chunk), len(devices))
        for start in range(0, len(plan.links), CHUNK):
            chunk = plan.links[start:start + CHUNK]
            ctx.record(Link(ctx.ns(e[0]), e[1]) for l in chunk for e in (l.a, l.b))
            with ctx.opened(e[0] for l in chunk for e in (l.a, l.b)):
                for link in chunk:
                    primary, peer = _ends(plan, link)
                    p_intf = plan.node(primary[0]).interface(primary[1])
                    q_intf = plan.node(peer[0]).interface(peer[1])
                    master = _bridge_index(plan.node(primary[0]), p_intf, index)
                    batch.veth(p_intf.name, index[primary], p_intf.mac, ctx.fd(primary[0]), master,
                               q_intf.name, index[peer], q_intf.mac, ctx.fd(peer[0]))
                batch.commit()
            ctx.tick("links", start + len(chunk), len(plan.links))
    for concern in concerns.REGISTRY:
        concern.create(ctx)


def _ends(plan: Plan, link) -> tuple[tuple[str, str], tuple[str, str]]:
    """The end created up and enslaved in the same request: one with a bridge if any."""
    a_master = plan.node(link.a[0]).interface(link.a[1]).master
    b_master = plan.node(link.b[0]).interface(link.b[1]).master
    return (link.b, link.a) if b_master and not a_master else (link.a, link.b)


def _bridge_index(node: Node, intf, index) -> int | None:
    """The ifindex of the Linux bridge ``intf`` is a port of (None: none, or an OVS bridge)."""
    if not intf.master or node.interface(intf.master).kind != "bridge":
        return None
    return index[(node.name, intf.master)]


# ---------------------------------------------------------------- addresses, routes, neighbours

def configure(ctx: DeployContext) -> None:
    peers: dict[str, list[str]] = {}
    for link in ctx.plan.links:
        _, peer = _ends(ctx.plan, link)
        peers.setdefault(peer[0], []).append(peer[1])
    neighbours = static_neighbours(ctx.plan) if ctx.plan.arp == "static" else {}
    todo = [n for n in ctx.plan.nodes if n.role == "l3" or n.name in peers or n.name in ctx.deferred
            or any(i.peer is not None for i in n.interfaces)]
    for start in range(0, len(todo), CHUNK):
        chunk = todo[start:start + CHUNK]
        with ctx.opened(_peer_nodes(ctx.plan, chunk)):
            ctx.worker.call(_configure_chunk, ctx, chunk, peers, neighbours)
        ctx.tick("addresses", start + len(chunk), len(todo))


def _peer_nodes(plan: Plan, nodes) -> set[str]:
    """The nodes at the other end of the nodes' veths (each gets an id in the node's namespace)."""
    return {i.peer[0] for n in nodes for i in n.interfaces if i.peer is not None}


def _configure_chunk(ctx: DeployContext, chunk: list[Node], peers, neighbours) -> None:
    index = ctx.index
    for node in chunk:
        with ctx.worker.inside(ctx.ns(node.name)), netlink.Batch() as batch:
            batch.set_link(1, "lo", up=True)
            for peer in sorted({i.peer[0] for i in node.interfaces if i.peer is not None}):
                batch.nsid(ctx.fd(peer), peer)
            for ifname in peers.get(node.name, ()):
                intf = node.interface(ifname)
                batch.set_link(index[(node.name, ifname)], ifname, up=True, master=_bridge_index(node, intf, index))
            for intf in node.interfaces:
                for cidr in intf.addresses:
                    batch.address(index[(node.name, intf.name)], f"{node.name}/{intf.name}", cidr)
            for route in node.routes:
                batch.route(route.dst, route.via)
            for ifname, ip, mac in neighbours.get(node.name, ()):
                batch.neighbour(index[(node.name, ifname)], ip, mac)
            try:
                batch.commit()
            except netlink.NetlinkError as exc:
                raise netlink.NetlinkError(exc.errno, f"node {node.name}: {exc.what}") from None
            for key, value in ctx.deferred.get(node.name, ()):
                try:
                    nsfs.write_sysctl(key, value)
                except OSError as exc:
                    raise DeployError(f"node {node.name}: sysctl {key}={value}: {exc.strerror}") from None


# ---------------------------------------------------------------- plug-ins

def backends_configure(ctx: DeployContext) -> None:
    for backend in backends.REGISTRY.values():
        backend.configure(ctx)


def concerns_configure(ctx: DeployContext) -> None:
    for concern in concerns.REGISTRY:
        concern.configure(ctx)


def backends_start(ctx: DeployContext) -> None:
    for backend in backends.REGISTRY.values():
        backend.start(ctx)


# ---------------------------------------------------------------- hosts files, carrier, STP

def hosts_files(ctx: DeployContext) -> None:
    """/etc/netns/<ns>/hosts: each name resolves to the address best reached from that node.

    Nodes on the same subnets share one file in the run's folder, linked from each
    /etc/netns entry (``ip netns exec`` bind-mounts what the link points to).
    """
    l3 = [n for n in ctx.plan.nodes if n.role == "l3"]
    dirs = [os.path.join(ETC_NETNS, ctx.ns(n.name)) for n in l3]
    ctx.record(Dir(d) for d in dirs)
    os.makedirs(ETC_NETNS, exist_ok=True)
    files: dict[frozenset, str] = {}
    for node, directory in zip(l3, dirs):
        nets = frozenset(ipaddress.ip_interface(a).network for a in node.addresses)
        if nets not in files:
            files[nets] = os.path.join(ctx.journal.dir, f"hosts.{len(files)}")
            with open(files[nets], "w") as f:
                f.write(hosts_text(ctx.plan, nets))
        os.mkdir(directory)
        os.symlink(files[nets], os.path.join(directory, "hosts"))
    ctx.tick("hosts files", len(dirs), len(dirs))


def wait_carrier(ctx: DeployContext, timeout: float = CARRIER_TIMEOUT) -> None:
    """Wait until every veth has carrier: the kernel reports it a moment after both ends are
    up (later on a loaded machine), and until then bridge ports drop what they get."""
    index = ctx.index
    todo = {n.name: {index[(n.name, i.name)] for i in n.interfaces if i.kind == "veth"} for n in ctx.plan.nodes}
    todo = {name: indexes for name, indexes in todo.items() if indexes}
    deadline = time.monotonic() + timeout
    while todo:
        todo = ctx.worker.call(_without_carrier, ctx, todo)
        if not todo:
            return
        if time.monotonic() > deadline:
            names = sorted(f"{node}/{intf.name}" for node, indexes in todo.items()
                           for intf in ctx.plan.node(node).interfaces if index[(node, intf.name)] in indexes)
            raise DeployError(f"no carrier on {', '.join(names[:10])} after {timeout:.0f} s")
        time.sleep(0.01)


def _without_carrier(ctx: DeployContext, todo: dict[str, set[int]]) -> dict[str, set[int]]:
    """(worker thread) node -> veth ifindexes still without carrier."""
    left = {}
    for node, indexes in todo.items():
        with ctx.worker.inside(ctx.ns(node)):
            missing = netlink.links_without_carrier(indexes)
        if missing:
            left[node] = missing
    return left


def wait_stp(ctx: DeployContext) -> None:
    stp = [(n, i) for n in ctx.plan.nodes for i in n.interfaces if i.bridge and i.bridge.stp]
    if not stp:
        return
    delay = max((i.bridge.forward_delay or 2.0) for _, i in stp)
    deadline = time.monotonic() + 2 * delay + 10
    names = {ctx.ns(n.name) for n, _ in stp}
    while time.monotonic() < deadline:
        if all(ctx.worker.run_inside(ns, linkstate.stp_settled) for ns in names):
            return
        time.sleep(0.25)
    raise DeployError(f"STP did not converge within {2 * delay + 10:.0f} s on "
                      f"{', '.join(sorted(n.name for n, _ in stp))}")


PHASES: tuple[Callable[[DeployContext], None], ...] = (
    namespaces, links, configure, backends_configure, concerns_configure, hosts_files, wait_carrier, wait_stp,
    backends_start,
)


def _hint(exc: netlink.NetlinkError) -> str:
    if exc.errno == errno.EOPNOTSUPP:
        return " (the kernel lacks this link kind: run `testbed doctor`)"
    if exc.errno == errno.ENOENT and " qdisc " in exc.what:
        return " (the kernel lacks this qdisc: run `testbed doctor`; plan with what it has)"
    if exc.errno == errno.EEXIST:
        return " (a name or address is already used: is another run using it?)"
    return ""
