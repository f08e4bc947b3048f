"""Waiting for convergence: every router's kernel routes as the model says they will be.

The routes FRR installed (zebra's protocols) are read from each router's namespace by
netlink and compared, prefix by prefix, with what the solver computes for the links that
are up now: every expected route there with the expected next hops (all of them, or as
many as the router's ``ecmp`` allows), and no other route of a routing protocol. Where
links run BFD, its sessions must be up too (``show bfd peers json``), so that a failure
right after convergence is detected by BFD. The wait polls until that holds, or says,
per router, which routes (or BFD peers) are missing or wrong. OSPFv3's routes and BFD peers
have the neighbours' link-local addresses, read from the routers and named by the global
address of the same interface (as the model has them).
"""
from __future__ import annotations

import ipaddress
import json
import subprocess
import time

from testbed.concerns.routing import daemons, fib, igp
from testbed.concerns.routing.records import RoutingPlan
from testbed.errors import CommandFailed, DeployError
from testbed.kernel import linkstate

# rtnetlink protocol numbers of the routes zebra installs (FRR's zebra/rt_netlink.h)
ZEBRA_PROTOCOLS = {186: "bgp", 187: "isis", 188: "ospf", 189: "rip", 196: "static", 11: "zebra"}
POLL = 0.1
BFD_READ_TIMEOUT = 10.0     # seconds for bfdd to answer one `show bfd peers` (then asked again)
DEFAULT_TIMEOUT = 60.0
SHOWN = 6


class NotConverged(CommandFailed):
    """The routing protocols did not install the expected routes in time (a failed check: exit 1)."""


def expected(records: RoutingPlan, down: frozenset[int], cut: frozenset[int] = frozenset()
             ) -> dict[str, dict[str, tuple[str, ...]]]:
    """node -> prefix -> next hops, for the links that are up (``cut``: down without losing carrier)."""
    solution = fib.solve(records.routers, down - cut, cut) if down else None
    result = {}
    for router in records.routers:
        routes = solution.records(router.node) if solution is not None else records.routes_of(router.node)
        result[router.node] = {r.prefix: r.via for r in routes}
    return result


def bfd_peers(records: RoutingPlan, down: frozenset[int], cut: frozenset[int] = frozenset()) -> dict[str, set[str]]:
    """node -> addresses of the BFD peers it has with the links that are up (routers running bfdd)."""
    v = igp.view(records.routers, down - cut, cut)
    found: dict[str, set[str]] = {}
    for router in records.routers:
        if "bfdd" not in router.daemons:
            continue
        peers = found.setdefault(router.node, set())
        for port in v.up[router.node] + [p for p in router.ports6 if p.link not in down - cut]:
            if not port.bfd or v.isolated(port):
                continue
            for other, theirs in v.segments.get(port.segment, ()) if port in router.ports else \
                    [(r.node, p) for r in records.routers for p in r.ports6
                     if p.segment == port.segment and p.link not in down - cut]:
                if other == router.node:
                    continue
                for protocol in ("ospf", "isis"):
                    mine, yours = getattr(port, protocol), getattr(theirs, protocol)
                    if mine and yours and not mine.passive and not yours.passive:
                        peers.add(theirs.ip)
        for s in (router.bgp.sessions if router.bgp else ()):
            if s.bfd and any(p.ip == s.local_address and not v.isolated(p) for p in v.up[router.node]) and \
                    any(p.ip == s.peer_address and not v.isolated(p) for p in v.up.get(s.peer, ())):
                peers.add(s.peer_address)
    return found


def bfd_up(inst: daemons.Instance, names: dict[str, str] | None = None, timeout: float = BFD_READ_TIMEOUT
           ) -> set[str] | None:
    """Addresses of the router's BFD peers that are up (link-local ones named by ``names``), as
    bfdd alone says (vtysh -d bfdd: no other daemon can hold the answer up); None when bfdd
    did not answer within ``timeout`` (asked again at the next poll)."""
    try:
        peers = json.loads(inst.vtysh("show bfd peers json", daemon="bfdd", timeout=timeout) or "[]")
    except DeployError:
        return None
    except (json.JSONDecodeError, subprocess.SubprocessError):
        return set()
    names = names or {}
    return {names.get(p.get("peer"), p.get("peer")) for p in peers
            if isinstance(p, dict) and p.get("status") == "up"}


def installed(worker, netns: str, ipv6: bool = False, names: dict[str, str] | None = None
              ) -> dict[str, tuple[str, ...]]:
    """prefix -> next hops of the routes a routing daemon installed in ``netns`` (a blackhole: ());
    with ``ipv6`` its IPv6 routes too, their link-local next hops shown by ``names`` (link-local
    -> the neighbour's global address, as the model has them)."""
    routes = worker.run_inside(netns, linkstate.ipv4_routes)
    if ipv6:
        names = names or {}
        routes += [(dst, proto, tuple(sorted(names.get(g, g) for g in gateways)), blackhole)
                   for dst, proto, gateways, blackhole in worker.run_inside(netns, linkstate.ipv6_routes)]
    return {dst: (() if blackhole else gateways) for dst, proto, gateways, blackhole in routes
            if proto in ZEBRA_PROTOCOLS}


def link_local_names(worker, records: RoutingPlan, netns_of) -> dict[str, str]:
    """link-local address -> the global address of the same IPv6 routing interface, over every
    router with IPv6 interfaces (OSPFv3's next hops are the neighbours' link-local addresses)."""
    names = {}
    for router in records.routers:
        if not router.ports6:
            continue
        local = worker.run_inside(netns_of(router.node), linkstate.link_locals)
        for port in router.ports6:
            if port.ifname in local:
                names[local[port.ifname]] = port.ip
    return names


def differences(want: dict[str, tuple[str, ...]], have: dict[str, tuple[str, ...]], ecmp: int,
                skip: frozenset[str] = frozenset()) -> list[str]:
    """What is missing or wrong at one router, one text each (empty: converged)."""
    found = []
    for prefix, via in want.items():
        if prefix in skip:
            continue
        got = have.get(prefix)
        if got is None:
            found.append(f"{prefix} {_via(via)} missing")
        elif not _matches(via, got, ecmp):
            found.append(f"{prefix} {_via(via)}, has {_via(got)}")
    for prefix, got in have.items():
        if prefix not in want and prefix not in skip:
            found.append(f"{prefix} {_via(got)} should not be there")
    return found


def _matches(want: tuple[str, ...], got: tuple[str, ...], ecmp: int) -> bool:
    if not want:
        return not got
    if len(want) <= ecmp:
        return set(got) == set(want)
    return set(got) <= set(want) and len(got) == ecmp


def _via(hops: tuple[str, ...]) -> str:
    return "blackhole" if not hops else "via " + ",".join(hops)


def wait(net, records: RoutingPlan, timeout: float = DEFAULT_TIMEOUT) -> float:
    """Seconds until every router has its expected routes; NotConverged naming what is missing."""
    started = time.monotonic()
    down = frozenset(net.down)
    cut = frozenset(net.silent)
    want = expected(records, down, cut)
    unstable = set(records.unstable)
    routers = [r for r in records.routers if r.node not in unstable]
    skip = {r.node: frozenset(str(ipaddress.ip_network(p)) for p in r.kernel_routes) for r in routers}
    bfd = bfd_peers(records, down, cut)
    deadline = started + timeout
    ipv6 = any(r.ports6 for r in records.routers)
    names: dict[str, str] = {}
    while True:                                 # every router matches in the same pass
        if ipv6:                                # interfaces that came back up have their link-local again
            names = link_local_names(net.worker, records, lambda node: net[node].netns)
        report = {r.node: differences(want[r.node], installed(net.worker, net[r.node].netns, bool(r.ports6), names),
                                      r.ecmp, skip[r.node])
                  for r in routers}
        if not any(report.values()):
            for node, peers in bfd.items():     # routes are right: are the BFD sessions up too?
                inst = daemons.Instance(node, net[node].netns, daemons.router_dir(net.run_id, node))
                up = bfd_up(inst, names, max(1.0, min(BFD_READ_TIMEOUT, deadline - time.monotonic())))
                if up is None:
                    report[node] = ["bfdd did not answer `show bfd peers`"]
                    continue
                missing = sorted(peers - up, key=lambda a: ipaddress.ip_address(a))
                if missing:
                    report[node] = [f"BFD session with {a} not up" for a in missing]
        pending = {node for node, wrong in report.items() if wrong}
        if not pending:
            return time.monotonic() - started
        if time.monotonic() > deadline:
            lines = [f"{node}: " + "; ".join(report[node][:SHOWN]) + (" ..." if len(report[node]) > SHOWN else "")
                     for node in sorted(pending)]
            raise NotConverged(f"routing did not converge within {timeout:.0f} s; routes missing or wrong "
                               f"at {len(pending)} router(s):\n  " + "\n  ".join(lines))
        time.sleep(POLL)
