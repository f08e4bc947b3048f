"""The routing concern's records in the Plan (``plan.concern("routing")``).

One :class:`Router` per router that runs routing daemons: its router ID and loopback,
the daemons it runs, its routing interfaces (:class:`Port`) with each protocol's settings
(IPv4 in ``ports``; IPv6 in ``ports6``, where OSPF is OSPFv3),
its BGP sessions, and the FRR configuration generated from all of that (``config``, one
string per line, as ``testbed plan`` shows it). ``converged`` holds the routes every such
router has once the protocols have converged with every link up (what the expected
reachability follows, and what ``--test converged`` waits for).
"""
from __future__ import annotations

from dataclasses import dataclass

from testbed.concerns.routing.spec import Bfd


@dataclass(frozen=True)
class OspfPort:
    area: str
    cost: int
    hello: int
    dead: int
    passive: bool
    network: str                    # "point-to-point" or "broadcast"


@dataclass(frozen=True)
class IsisPort:
    metric: int
    hello: int
    passive: bool
    point_to_point: bool


@dataclass(frozen=True)
class RipPort:
    passive: bool


@dataclass(frozen=True)
class Port:
    """One routing interface of a router: an address on a LAN (segment) of the plan."""

    ifname: str
    address: str                    # CIDR
    segment: int
    link: int | None                # the link of this interface (None: an in-node device)
    ospf: OspfPort | None = None
    isis: IsisPort | None = None
    rip: RipPort | None = None
    bfd: Bfd | None = None

    @property
    def ip(self) -> str:
        return self.address.split("/")[0]


@dataclass(frozen=True)
class Session:
    """A BGP session of a router: eBGP over a link's addresses, iBGP between loopbacks."""

    peer: str                       # the other router
    peer_address: str
    local_address: str
    remote_asn: int
    ibgp: bool
    client: bool = False            # the peer is this route reflector's client
    link: int | None = None         # eBGP: the link the session runs over
    bfd: Bfd | None = None


@dataclass(frozen=True)
class OspfRouter:
    redistribute: tuple[str, ...] = ()
    loopback_area: str = "0.0.0.0"


@dataclass(frozen=True)
class IsisRouter:
    net: str                        # the router's network entity title
    redistribute: tuple[str, ...] = ()


@dataclass(frozen=True)
class RipRouter:
    redistribute: tuple[str, ...] = ()
    update: int = 5
    timeout: int = 15
    garbage: int = 10


@dataclass(frozen=True)
class BgpRouter:
    asn: int
    networks: tuple[str, ...]       # prefixes it originates (loopback, stub LANs, announce)
    sessions: tuple[Session, ...]
    redistribute: tuple[str, ...] = ()
    rr: bool = False
    keepalive: int = 1
    hold: int = 3


@dataclass(frozen=True)
class Router:
    node: str
    router_id: str
    loopback: str                   # CIDR /32 on the router's lo
    ecmp: int                       # paths per destination
    daemons: tuple[str, ...]        # zebra first
    ports: tuple[Port, ...]
    ospf: OspfRouter | None = None
    isis: IsisRouter | None = None
    rip: RipRouter | None = None
    bgp: BgpRouter | None = None
    blackholes: tuple[str, ...] = ()          # announced prefixes it holds as blackhole routes (staticd)
    kernel_routes: tuple[str, ...] = ()       # destinations of its explicit ``routes`` (kernel routes)
    config: tuple[str, ...] = ()              # frr.conf, one string per line
    own_config_line: int = 0                  # the line where its frr_config begins (0: it has none)
    ports6: tuple[Port, ...] = ()             # IPv6 interfaces; ``ospf`` there is OSPFv3 (ospf6d)
    quiet6: tuple[str, ...] = ()              # of those, the ones whose prefix the other end announces alone

    def port(self, ifname: str) -> Port | None:
        return next((p for p in self.ports if p.ifname == ifname), None)

    @property
    def ospfv2(self) -> bool:
        """Whether it runs OSPFv2 (ospfd): OSPF on some IPv4 interface (not only OSPFv3)."""
        return self.ospf is not None and any(p.ospf for p in self.ports)

    @property
    def loopback_ip(self) -> str:
        return self.loopback.split("/")[0]


@dataclass(frozen=True)
class Route:
    """A route a router has once converged: ``via`` the next hops (sorted; () a blackhole)."""

    prefix: str
    protocol: str                   # "ospf", "ospf6", "isis", "rip", "bgp", "static"
    via: tuple[str, ...]


@dataclass(frozen=True)
class RouterRoutes:
    node: str
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class RoutingPlan:
    routers: tuple[Router, ...]
    converged: tuple[RouterRoutes, ...]
    unstable: tuple[str, ...] = ()            # routers whose routes the model could not settle

    def router(self, node: str) -> Router | None:
        return next((r for r in self.routers if r.node == node), None)

    def routes_of(self, node: str) -> tuple[Route, ...]:
        return next((r.routes for r in self.converged if r.node == node), ())
