"""Change a running network: apply the difference between its plan and a new one.

The running network re-plans its whole graph for every change (testbed/run/changes.py),
with every existing interface's name, MAC and address pinned, so the new plan differs from
the old one only where the change is. ``diff`` finds that difference and refuses what
cannot be changed on a running network (an existing interface, device or node setting, or
the records of a concern other than shaping); ``apply`` makes it, journal first:

  removed links    Open vSwitch ports detached, veths deleted
  removed nodes    what runs inside stopped (by namespace identity), an Open vSwitch
                   switch's daemons stopped, namespace and /etc/netns folder removed
  added nodes      namespaces with their sysctls, bridges and dummies (journaled first)
  added links      veths straight into both namespaces, up, in their bridge, addressed
  routes           each changed node's routes: gone ones deleted, new ones installed
  switches         new Open vSwitch switches started; new ports on running ones attached
  shaping          changed and new interfaces: old qdiscs and loss rules off, planned ones on
  hosts files      rewritten, new nodes linked to theirs; new veths wait for carrier

Teardown needs nothing extra: every object made here is in the journal like a built one.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import time
from dataclasses import dataclass
from typing import Iterable

from testbed import backends, concerns
from testbed.deploy.context import DeployContext, netns_name
from testbed.deploy.hosts import hosts_text
from testbed.errors import DeployError, UsageError
from testbed.kernel import linkedit, linkstate, netlink, nsfs, procs
from testbed.kernel.journal import ETC_NETNS, Dir, Journal, Link as LinkEntry, Netns, Removal
from testbed.model.plan import Interface, Link, Node, Plan, Route

CARRIER_TIMEOUT = 10.0
RUNTIME_CONCERNS = ("shaping",)          # concerns whose records may change on a running network


@dataclass(frozen=True)
class Change:
    added_nodes: tuple[Node, ...] = ()
    removed_nodes: tuple[Node, ...] = ()
    added_links: tuple[Link, ...] = ()
    removed_links: tuple[Link, ...] = ()
    reshaped: tuple[tuple[str, str], ...] = ()          # existing interfaces whose shaping changed
    routes: tuple[tuple[str, tuple[Route, ...], tuple[Route, ...]], ...] = ()   # node, gone, new

    @property
    def empty(self) -> bool:
        return not any(dataclasses.astuple(self))


def _ends(link: Link) -> frozenset:
    return frozenset((link.a, link.b))


def _same(a: Interface, b: Interface) -> bool:
    """The same interface in two plans (its link's index may differ when others went)."""
    return dataclasses.replace(a, link=None) == dataclasses.replace(b, link=None)


def diff(old: Plan, new: Plan) -> Change:
    """What changes from ``old`` to ``new``; UsageError naming what a running network cannot change."""
    problems: list[str] = []
    old_links = {_ends(l): l for l in old.links}
    new_links = {_ends(l): l for l in new.links}
    added_links = tuple(l for k, l in new_links.items() if k not in old_links)
    removed_links = tuple(l for k, l in old_links.items() if k not in new_links)
    added_ends = {e for l in added_links for e in (l.a, l.b)}
    removed_ends = {e for l in removed_links for e in (l.a, l.b)}
    added_nodes = tuple(n for n in new.nodes if not old.has(n.name))
    removed_nodes = tuple(n for n in old.nodes if not new.has(n.name))
    routes = []
    for node in new.nodes:
        if not old.has(node.name):
            continue
        before = old.node(node.name)
        if (before.kind, before.role, before.sysctls, before.settings) != \
                (node.kind, node.role, node.sysctls, node.settings):
            problems.append(f"node {node.name}: its kind or settings would change")
        was = {i.name: i for i in before.interfaces}
        now = {i.name: i for i in node.interfaces}
        for name in was.keys() - now.keys():
            if (node.name, name) not in removed_ends:
                problems.append(f"interface {node.name}/{name} would go, but it is no link's end that goes")
        for name in now.keys() - was.keys():
            if (node.name, name) not in added_ends:
                problems.append(f"interface {node.name}/{name} would be added, but it is no new link's end "
                                "(in-node devices cannot be added at run time)")
        for name in was.keys() & now.keys():
            if not _same(was[name], now[name]):
                problems.append(f"interface {node.name}/{name} would change "
                                f"({_difference(was[name], now[name])})")
        if before.routes != node.routes:
            gone = tuple(r for r in before.routes if r not in node.routes)
            fresh = tuple(r for r in node.routes if r not in before.routes)
            routes.append((node.name, gone, fresh))
    for concern in concerns.REGISTRY:
        if concern.name not in RUNTIME_CONCERNS and old.concern(concern.name) != new.concern(concern.name):
            problems.append(f"the {concern.name} settings would change")
    for backend in backends.REGISTRY.values():
        problem = backend.change_problem(old, new, added_ends, removed_ends)
        if problem:
            problems.append(problem)
    if problems:
        raise UsageError("a running network cannot make this change: " + "; ".join(problems) +
                         "; build the network anew with it")
    return Change(added_nodes, removed_nodes, added_links, removed_links,
                  _reshaped(old, new, added_ends), tuple(routes))


def _difference(a: Interface, b: Interface) -> str:
    fields = [f.name for f in dataclasses.fields(Interface) if f.name != "link" and getattr(a, f.name) != getattr(b, f.name)]
    return ", ".join(f"{f} {getattr(a, f)!r} -> {getattr(b, f)!r}" for f in fields)


def _shaping_records(plan: Plan) -> dict[tuple[str, str], object]:
    return {(r.node, r.interface): r for r in plan.concern("shaping") or ()}


def _reshaped(old: Plan, new: Plan, added_ends) -> tuple[tuple[str, str], ...]:
    before, after = _shaping_records(old), _shaping_records(new)
    keys = [k for k in dict.fromkeys([*before, *after]) if k not in added_ends and new.has(k[0])
            and any(i.name == k[1] for i in new.node(k[0]).interfaces)]
    return tuple(k for k in keys if before.get(k) != after.get(k))


# ---------------------------------------------------------------- applying a change

def apply(change: Change, old: Plan, new: Plan, journal: Journal, worker: nsfs.NetnsWorker,
          index: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    """Make ``change`` (from ``diff(old, new)``); returns the interface indexes of the new plan.

    Removals come first. If an addition fails, what it added is removed again and
    DeployError says so (the removals of the same change stay done).
    """
    ctx = DeployContext(new, journal, worker, index={k: v for k, v in index.items()})
    _remove(ctx, old, change.removed_links, change.removed_nodes)
    for key in [k for k in ctx.index if not new.has(k[0]) or k in _link_ends(change.removed_links)]:
        del ctx.index[key]
    if change.routes:
        _routes(ctx, change)
    if not (change.added_nodes or change.added_links or change.reshaped):
        _hosts(ctx, new, ())
        return ctx.index
    try:
        nsfs.ensure_netns_dir()
        _add_nodes(ctx, change.added_nodes)
        _add_links(ctx, change.added_links)
        if change.routes:
            _routes(ctx, change)                  # routes through the new links
        _switches(ctx, old, new, change)
        _shaping(ctx, new, change)
        _hosts(ctx, new, change.added_nodes)
        _carrier(ctx, change.added_links)
    except BaseException as exc:
        _remove(ctx, new, change.added_links, change.added_nodes)
        if isinstance(exc, (netlink.NetlinkError, OSError)) and not isinstance(exc, DeployError):
            raise DeployError(f"changing the network failed: {exc}; what this change added was removed") from exc
        raise
    return ctx.index


def _link_ends(links: Iterable[Link]) -> set[tuple[str, str]]:
    return {e for l in links for e in (l.a, l.b)}


# ---------------------------------------------------------------- removals

def _remove(ctx: DeployContext, plan: Plan, links: Iterable[Link], nodes: Iterable[Node]) -> None:
    links, nodes = list(links), list(nodes)
    gone = {n.name for n in nodes}
    for backend in backends.REGISTRY.values():
        ports = [e for l in links for e in (l.a, l.b) if e[0] not in gone and plan.has(e[0])
                 and backends.of_node(plan, e[0]) is backend]
        if ports:
            backend.detach_ports(ctx, ports)
    by_node: dict[str, list[str]] = {}
    for link in links:
        for node, ifname in (link.a, link.b):
            if node not in gone and nsfs.exists(ctx.ns(node)):
                by_node.setdefault(node, []).append(ifname)
                break                          # deleting one end of a veth deletes both
    for node, names in by_node.items():
        ctx.worker.run_inside(ctx.ns(node), linkedit.delete, names)
    if nodes:
        _remove_nodes(ctx, nodes)


def _remove_nodes(ctx: DeployContext, nodes: list[Node]) -> None:
    names = {ctx.ns(n.name) for n in nodes}
    entries = [e for e in ctx.journal.entries()
               if getattr(e, "netns", None) in names or getattr(e, "name", None) in names
               or getattr(e, "path", None) in {os.path.join(ETC_NETNS, n) for n in names}]
    removal = Removal(ctx.journal, entries)
    for entry in entries:
        entry.release(removal)
    inodes = {i for i in (procs.namespace_inode(nsfs.netns_path(n)) for n in names) if i is not None}
    if inodes:
        procs.stop_all(procs.in_namespaces(inodes))
    for entry in reversed(entries):
        entry.stop(removal)
    for entry in reversed(entries):
        entry.remove(removal)
    for name in names:                          # made but not yet journaled as anything else
        nsfs.remove(name)


# ---------------------------------------------------------------- additions

def _add_nodes(ctx: DeployContext, nodes: tuple[Node, ...]) -> None:
    if not nodes:
        return
    ctx.record(Netns(ctx.ns(n.name)) for n in nodes)
    for node in nodes:
        for position, intf in enumerate(node.interfaces, start=2):
            ctx.index[(node.name, intf.name)] = position
        unsupported = [i.name for i in node.interfaces if i.kind in ("macvlan",)]
        if unsupported:
            raise UsageError(f"node {node.name}: macvlan devices ({', '.join(unsupported)}) cannot be added "
                             "to a running network; build the network with them")

        def setup(node: Node = node) -> None:
            for key, value in node.sysctls:
                try:
                    nsfs.write_sysctl(key, value)
                except FileNotFoundError:
                    pass                    # names an interface made below; set again then
        ctx.worker.call(ctx.worker.create_here, ctx.ns(node.name), setup)
    devices = [(n, i) for n in nodes for i in n.interfaces if i.kind in ("bridge", "dummy")]
    if not devices:
        return
    ctx.record(LinkEntry(ctx.ns(n.name), i.name) for n, i in devices)
    fds = nsfs.open_all(ctx.ns(n.name) for n in nodes)
    try:
        def make() -> None:
            with netlink.Batch() as batch:
                for node, intf in devices:
                    fd = fds[ctx.ns(node.name)]
                    if intf.kind == "bridge":
                        b = intf.bridge
                        batch.bridge(intf.name, ctx.index[(node.name, intf.name)], intf.mac, fd, stp=b.stp,
                                     ageing=b.ageing, forward_delay=b.forward_delay, priority=b.priority,
                                     vlan_filtering=b.vlan_filtering)
                    else:
                        batch.device("dummy", intf.name, ctx.index[(node.name, intf.name)], intf.mac, fd)
                batch.commit()
        ctx.worker.call(make)
    finally:
        nsfs.close_all(fds)


def _free_indexes(ctx: DeployContext, links: tuple[Link, ...]) -> None:
    """An ifindex for every new link end: after the highest one in use in its namespace."""
    nodes = sorted({e[0] for l in links for e in (l.a, l.b)})
    for node in nodes:
        used = ctx.worker.run_inside(ctx.ns(node), linkedit.indexes)
        taken = set(used.values()) | {v for (n, _), v in ctx.index.items() if n == node}
        nxt = max(taken | {1}) + 1
        for link in links:
            for end in (link.a, link.b):
                if end[0] == node and end not in ctx.index:
                    ctx.index[end] = nxt
                    nxt += 1


def _add_links(ctx: DeployContext, links: tuple[Link, ...]) -> None:
    if not links:
        return
    plan = ctx.plan
    _free_indexes(ctx, links)
    ctx.record(LinkEntry(ctx.ns(e[0]), e[1]) for l in links for e in (l.a, l.b))
    nodes = sorted({e[0] for l in links for e in (l.a, l.b)})
    fds = nsfs.open_all(ctx.ns(n) for n in nodes)
    peers: dict[str, list[str]] = {}
    try:
        def make() -> None:
            with netlink.Batch() as batch:
                for link in links:
                    primary, peer = _primary(plan, link)
                    p = plan.node(primary[0]).interface(primary[1])
                    q = plan.node(peer[0]).interface(peer[1])
                    batch.veth(p.name, ctx.index[primary], p.mac, fds[ctx.ns(primary[0])],
                               _bridge_index(ctx, primary[0], p), q.name, ctx.index[peer], q.mac,
                               fds[ctx.ns(peer[0])])
                    peers.setdefault(peer[0], []).append(peer[1])
                batch.commit()
        ctx.worker.call(make)
    finally:
        nsfs.close_all(fds)
    for node in nodes:
        spec = plan.node(node)
        ends = [(i, i.name in peers.get(node, ())) for i in spec.interfaces
                if (node, i.name) in _link_ends(links)]

        def configure(spec: Node = spec, ends=ends) -> None:
            with netlink.Batch() as batch:
                for intf, is_peer in ends:
                    idx = ctx.index[(spec.name, intf.name)]
                    if is_peer:
                        batch.set_link(idx, intf.name, up=True, master=_bridge_index(ctx, spec.name, intf))
                    for cidr in intf.addresses:
                        batch.address(idx, f"{spec.name}/{intf.name}", cidr)
                batch.commit()
            for key, value in spec.sysctls:            # per-interface sysctls of the new ends
                if any(f".{intf.name}." in key for intf, _ in ends):
                    nsfs.write_sysctl(key, value)
        ctx.worker.run_inside(ctx.ns(node), configure)


def _primary(plan: Plan, link: Link) -> tuple[tuple[str, str], tuple[str, str]]:
    """The end made up (and enslaved) in the create request: one with a bridge, if any."""
    a = plan.node(link.a[0]).interface(link.a[1]).master
    b = plan.node(link.b[0]).interface(link.b[1]).master
    return (link.b, link.a) if b and not a else (link.a, link.b)


def _bridge_index(ctx: DeployContext, node: str, intf: Interface) -> int | None:
    spec = ctx.plan.node(node)
    if not intf.master or spec.interface(intf.master).kind != "bridge":
        return None
    return ctx.index[(node, intf.master)]


def _routes(ctx: DeployContext, change: Change) -> None:
    for node, gone, fresh in change.routes:
        if not ctx.plan.has(node):
            continue
        if gone:
            ctx.worker.run_inside(ctx.ns(node), linkedit.delete_routes, [(r.dst, r.via) for r in gone])
        if fresh:
            ctx.worker.run_inside(ctx.ns(node), linkstate.replace_routes, [(r.dst, r.via) for r in fresh])


def _switches(ctx: DeployContext, old: Plan, new: Plan, change: Change) -> None:
    added = {n.name for n in change.added_nodes}
    for name, backend in backends.REGISTRY.items():
        records = [r for r in new.backend(name) or () if getattr(r, "node", None) in added]
        if records:
            delta = dataclasses.replace(new, backends=((name, tuple(records)),), concerns=(),
                                        links=tuple(l for l in change.added_links
                                                    if l.a[0] in added or l.b[0] in added))
            backend.start(DeployContext(delta, ctx.journal, ctx.worker, index=ctx.index))
        ports = [e for l in change.added_links for e in (l.a, l.b)
                 if e[0] not in added and new.node(e[0]).role == "l2" and backends.of_node(new, e[0]) is backend]
        if ports:
            backend.attach_ports(ctx, ports)


def _shaping(ctx: DeployContext, new: Plan, change: Change) -> None:
    if change.reshaped:
        by_node: dict[str, list[str]] = {}
        for node, ifname in change.reshaped:
            by_node.setdefault(node, []).append(ifname)
        for node, names in by_node.items():
            ctx.worker.run_inside(ctx.ns(node), linkedit.clear_shaping, names)
    wanted = set(change.reshaped) | _link_ends(change.added_links)
    records = tuple(r for r in new.concern("shaping") or () if (r.node, r.interface) in wanted)
    if records:
        shaping = concerns.by_name("shaping")
        delta = dataclasses.replace(new, concerns=(("shaping", records),))
        shaping.configure(DeployContext(delta, ctx.journal, ctx.worker, index=ctx.index))


def _hosts(ctx: DeployContext, plan: Plan, added: Iterable[Node]) -> None:
    """Rewrite the run's hosts files (names may have come or gone) and link new nodes to theirs."""
    files: dict[frozenset, str] = {}
    directory = ctx.journal.dir
    existing = sorted(f for f in os.listdir(directory) if f.startswith("hosts."))
    for name in existing:
        os.unlink(os.path.join(directory, name))
    added = {n.name for n in added}
    new_dirs = [n for n in plan.nodes if n.role == "l3" and n.name in added]
    ctx.record(Dir(os.path.join(ETC_NETNS, ctx.ns(n.name))) for n in new_dirs)
    for node in plan.nodes:
        if node.role != "l3":
            continue
        folder = os.path.join(ETC_NETNS, ctx.ns(node.name))
        if node.name not in added and not os.path.isdir(folder):
            continue
        nets = frozenset(ipaddress.ip_interface(a).network for a in node.addresses)
        if nets not in files:
            files[nets] = os.path.join(directory, f"hosts.{len(files)}")
            with open(files[nets], "w") as f:
                f.write(hosts_text(plan, nets))
        os.makedirs(folder, exist_ok=True)
        link = os.path.join(folder, "hosts")
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(files[nets], link)


def _carrier(ctx: DeployContext, links: tuple[Link, ...], timeout: float = CARRIER_TIMEOUT) -> None:
    todo: dict[str, set[int]] = {}
    for link in links:
        for node, ifname in (link.a, link.b):
            todo.setdefault(node, set()).add(ctx.index[(node, ifname)])
    deadline = time.monotonic() + timeout
    while todo:
        todo = {node: left for node, indexes in todo.items()
                if (left := ctx.worker.run_inside(ctx.ns(node), netlink.links_without_carrier, indexes))}
        if not todo:
            return
        if time.monotonic() > deadline:
            raise DeployError(f"no carrier on the new links of {', '.join(sorted(todo))} after {timeout:.0f} s")
        time.sleep(0.01)


__all__ = ["Change", "apply", "diff", "netns_name"]
