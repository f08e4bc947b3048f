"""Converged BGP routes, computed from the records: a path-vector fixed point.

Every BGP router originates its ``networks`` (those in its routing table: connected,
blackholed or learned) and what it redistributes; sessions are up when their link is
(eBGP) or when each end reaches the other's loopback without BGP (iBGP). Rounds of
"choose the best path, advertise it" run until nothing changes. The decision process is
FRR's as the generated configuration sets it up (``bgp bestpath compare-routerid``, MEDs
all 0, ``as-path multipath-relax``): locally originated, shorter AS path, lower origin,
eBGP over iBGP, lower IGP metric to the next hop, then lower router ID, shorter cluster
list, lower peer address. Paths equal down to the IGP metric share the traffic (ECMP).
Advertising: eBGP peers get the best path with the router's ASN prepended and itself as
next hop; iBGP peers get locally originated and eBGP-learned paths (next-hop-self); a
route reflector reflects a client's paths to everyone and a non-client's to its clients.
A path whose next hop lies inside its own prefix (an iBGP router's loopback announced with
next-hop-self) is unusable unless the next hop is on a connected subnet: zebra will not
resolve it (FRR shows it "inaccessible").
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import Callable

from testbed.concerns.routing.igp import Net, View
from testbed.concerns.routing.records import Session

MAX_ROUNDS = 200
IGP, INCOMPLETE = 0, 2

# node, next-hop IP -> (IGP metric, next hops, on a connected subnet) through routes other than BGP's, or None
Resolver = Callable[[str, str], "tuple[int, frozenset[str], bool] | None"]


@dataclass(frozen=True)
class Path:
    prefix: Net
    as_path: tuple[int, ...]
    origin: int
    next_hop: str
    local: bool = False
    ebgp: bool = False
    peer: str | None = None              # the router it was learned from
    peer_rid: str = "0.0.0.0"            # that router's ID (the originator's, for reflected paths)
    peer_address: str = "0.0.0.0"
    originator: str | None = None        # the router that put it into iBGP (set when reflected)
    clusters: tuple[str, ...] = ()


def _ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def decision_key(path: Path, igp_metric: int) -> tuple:
    return (0 if path.local else 1, len(path.as_path), path.origin, 0 if path.ebgp else 1, igp_metric,
            _ip(path.peer_rid), len(path.clusters), _ip(path.peer_address))


MULTIPATH = 5                            # paths equal in the first five keys share the traffic


@dataclass
class Best:
    path: Path
    multipath: list[tuple[Path, frozenset[str]]]     # (path, its resolved next hops), best first


def _session_up(v: View, node: str, s: Session, resolve: Resolver) -> bool:
    if not s.ibgp:
        mine = any(p.ip == s.local_address and not v.isolated(p) for p in v.up[node])
        theirs = any(p.ip == s.peer_address and not v.isolated(p) for p in v.up.get(s.peer, ()))
        return mine and theirs
    return resolve(node, s.peer_address) is not None and resolve(s.peer, s.local_address) is not None


def solve(v: View, resolve: Resolver, sources: Callable[[str, tuple[str, ...]], set[Net]],
          in_rib: Callable[[str, Net], bool]) -> tuple[dict[str, dict[Net, Best]], bool]:
    """(node -> prefix -> best path and multipath set, settled) of every BGP router."""
    speakers = {n: r for n, r in v.routers.items() if r.bgp is not None}
    rid = {n: r.router_id for n, r in v.routers.items()}
    local: dict[str, list[Path]] = {}
    for node, router in speakers.items():
        paths = [Path(ipaddress.ip_network(p), (), IGP, "0.0.0.0", local=True)
                 for p in router.bgp.networks if in_rib(node, ipaddress.ip_network(p))]
        paths += [Path(net, (), INCOMPLETE, "0.0.0.0", local=True)
                  for net in sorted(sources(node, router.bgp.redistribute))]
        local[node] = paths
    sessions = {n: [s for s in r.bgp.sessions if _session_up(v, n, s, resolve)] for n, r in speakers.items()}
    received: dict[str, dict[tuple[Net, str], Path]] = {n: {} for n in speakers}
    best: dict[str, dict[Net, Best]] = {}
    for _ in range(MAX_ROUNDS):
        best = {n: _select(n, local[n] + list(received[n].values()), resolve) for n in speakers}
        incoming: dict[str, dict[tuple[Net, str], Path]] = {n: {} for n in speakers}
        for node in speakers:
            for s in sessions[node]:
                if s.peer not in speakers or not any(x.peer == node for x in sessions[s.peer]):
                    continue
                for prefix, chosen in best[node].items():
                    path = _advertise(node, speakers[node], s, chosen.path, rid)
                    if path is not None and _accepts(s.peer, speakers[s.peer], path, rid):
                        incoming[s.peer][(prefix, node)] = path
        if incoming == received:
            return best, True
        received = incoming
    return best, False


def _select(node: str, paths: list[Path], resolve: Resolver) -> dict[Net, Best]:
    by_prefix: dict[Net, list[tuple[tuple, Path, frozenset[str]]]] = {}
    for path in paths:
        if path.local:
            metric, hops = 0, frozenset()
        else:
            found = resolve(node, path.next_hop)
            if found is None:
                continue                        # the next hop is unreachable: the path is not used
            metric, hops, connected = found
            if not connected and ipaddress.ip_address(path.next_hop) in path.prefix:
                continue                        # zebra resolves no next hop inside the path's own prefix

        by_prefix.setdefault(path.prefix, []).append((decision_key(path, metric), path, hops))
    result = {}
    for prefix, candidates in by_prefix.items():
        candidates.sort(key=lambda c: c[0])
        top = candidates[0][0]
        equal = [(p, h) for k, p, h in candidates if k[:MULTIPATH] == top[:MULTIPATH]]
        result[prefix] = Best(candidates[0][1], equal)
    return result


def _advertise(node: str, router, s: Session, path: Path, rid: dict[str, str]) -> Path | None:
    """What ``node`` sends ``s.peer`` of its best ``path`` (None: nothing)."""
    if path.peer == s.peer:
        return None
    me = router.bgp
    if not s.ibgp:
        return Path(path.prefix, (me.asn,) + path.as_path, path.origin, s.local_address, ebgp=True,
                    peer=node, peer_rid=rid[node], peer_address=s.local_address)
    if path.local or path.ebgp:
        return Path(path.prefix, path.as_path, path.origin, s.local_address, peer=node,
                    peer_rid=rid[node], peer_address=s.local_address)
    if not me.rr:
        return None                             # iBGP-learned paths go to no iBGP peer
    came_from_client = any(x.peer == path.peer and x.client for x in me.sessions)
    if not came_from_client and not s.client:
        return None
    originator = path.originator or path.peer
    return replace(path, peer=node, peer_rid=rid[originator], peer_address=s.local_address,
                   originator=originator, clusters=(rid[node],) + path.clusters)


def _accepts(node: str, router, path: Path, rid: dict[str, str]) -> bool:
    if path.ebgp:
        return router.bgp.asn not in path.as_path
    return path.originator != node and rid[node] not in path.clusters
