"""Dynamic routing: FRR daemons in routers (OSPF, BGP, RIP, IS-IS, BFD), configured from the graph.

    g.add_node("r1", kind="router", routing={"ospf": {"area": 0}})
    g.add_node("r2", kind="router", routing={"bgp": {"asn": 65002}, "ospf": {}})
    g.add_edge("r1", "r2", ospf={"cost": 10, "hello": 1, "dead": 4}, bfd=True)

What a router with ``routing`` gets (spec.py: the attributes; derive.py: the rules):

- plan: its ports (IPv4; IPv6 for OSPFv3), sessions, loopback and router ID (derive.py), its frr.conf (frrconf.py)
  and the routes it will have once converged (fib.py, over igp.py and bgp.py); no static
  routes from the core (``owns_routes``): routing and static routes are exclusive per router;
- expected reachability: those converged routes;
- deploy: its loopback on lo, L4 hashing for ECMP, then one set of FRR daemons in its
  namespace with files and sockets of its own in the run's folder (daemons.py);
- run time: ``vtysh`` inside the node reaches its own daemons; ``converge`` waits until
  every router's kernel routes are the expected ones (converge.py).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from testbed.concerns.base import Concern
from testbed.concerns.routing import converge as convergence
from testbed.concerns.routing import daemons, fib
from testbed.concerns.routing.derive import routed_nodes, derive
from testbed.concerns.routing.frrconf import render
from testbed.concerns.routing.records import RouterRoutes, RoutingPlan
from testbed.concerns.routing.spec import (IGPS, igp_link_parser, parse_bfd, parse_bgp_link, parse_frr_config,
                                           parse_routing)
from testbed.errors import Problem
from testbed.kernel import netlink, nsfs, procs
from testbed.model.schema import Attr, table

__all__ = ["CONCERN", "Routing", "RoutingPlan"]

MULTIPATH_HASH = ("net.ipv4.fib_multipath_hash_policy", "1")     # ECMP by 5-tuple: flows spread over paths
IPV6_FORWARDING = (("net.ipv6.conf.all.forwarding", "1"), ("net.ipv6.fib_multipath_hash_policy", "1"),
                   ("net.ipv6.conf.all.keep_addr_on_down", "1"),   # a link down and up keeps its IPv6 address
                   ("net.ipv6.conf.all.accept_dad", "0"))
LINK_ATTRS = ("ospf", "isis", "rip", "bgp", "bfd")


class Routing(Concern):
    name = "routing"
    node_attrs = table(
        Attr("routing", parse_routing, "routing protocols the router runs (FRR): ospf, bgp, rip, isis, with "
             "router_id, loopback, ecmp; a router with routing gets no static routes",
             type="dict protocol -> settings, or a protocol name", default="no routing (static routes)",
             example="routing={'ospf': {'area': 0}, 'bgp': {'asn': 65001}}"),
        Attr("frr_config", parse_frr_config, "FRR configuration appended to the generated one (what the schema "
             "lacks)", type="str", example="frr_config='router ospf\\n log-adjacency-changes detail\\n'"),
    )
    link_attrs = table(
        Attr("ospf", igp_link_parser("ospf"), "OSPF on this link: False, or {cost, area, hello, dead, passive, "
             "network}; cost may be {node: cost}", type="False or dict", example="ospf={'cost': 20, 'area': 0}"),
        Attr("isis", igp_link_parser("isis"), "IS-IS on this link: False, or {metric, hello, passive}",
             type="False or dict", example="isis={'metric': 20}"),
        Attr("rip", igp_link_parser("rip"), "RIP on this link: False, or {passive}", type="False or dict",
             example="rip=False"),
        Attr("bgp", parse_bgp_link, "False: no eBGP session over this link", type="bool", example="bgp=False"),
        Attr("bfd", parse_bfd, "BFD for the OSPF/IS-IS adjacencies and BGP sessions on this link",
             type="bool or {interval (ms), multiplier}", default="False", example="bfd=True"),
    )
    link_settings = LINK_ATTRS

    def accepts(self, kind: Any) -> bool:
        return bool(kind.forwards)

    def owns_routes(self, topo) -> frozenset[str]:
        return frozenset(n.name for n in routed_nodes(topo))

    def problems(self, topo) -> list[Problem]:
        found = []
        for node in topo.nodes:
            if node.get("frr_config") is not None and node.get("routing") is None:
                found.append(Problem(f"node {node.name!r}", "has frr_config but no routing",
                                     "give it routing={...}; frr_config is appended to its FRR configuration"))
        for link in topo.links:
            specs = {e.node: topo.node(e.node).get("routing") for e in link.ends}
            for protocol in IGPS:
                setting = link.get(protocol)
                if setting is None:
                    continue
                if not any(s is not None and getattr(s, protocol) for s in specs.values()):
                    found.append(Problem(link.label, f"sets {protocol} but neither end runs {protocol.upper()}",
                                         f"add {protocol} to an end's routing, or drop the setting"))
                if isinstance(setting.cost, dict):
                    for name in setting.cost:
                        if name not in specs:
                            found.append(Problem(link.label, f"{protocol} cost names {name!r}, which is not an "
                                                 "end of this link", f"key it by {link.u!r} or {link.v!r}"))
            if link.get("bgp") is True:
                asns = [s.bgp.asn if s is not None and s.bgp else None for s in specs.values()]
                if None in asns or asns[0] == asns[1]:
                    found.append(Problem(link.label, "bgp=True needs BGP routers of different ASNs at both ends",
                                         "give both ends bgp={'asn': ...} with different ASNs"))
            if link.get("bfd") is not None:
                if not any(s is not None and (s.ospf or s.isis or s.bgp) for s in specs.values()):
                    found.append(Problem(link.label, "has bfd but neither end runs OSPF, IS-IS or BGP",
                                         "BFD speeds up failure detection of those protocols (RIP has none)"))
        return found

    def depends_on_kernel(self, topo) -> bool:
        return bool(routed_nodes(topo))         # so that the plan knows whether FRR is installed

    def plan(self, planned) -> RoutingPlan | None:
        if not routed_nodes(planned.topo):
            return None
        routers, problems = derive(planned)
        planned.problems.extend(problems)
        planned.problems.extend(_unused_bfd(planned.topo, routers))
        rendered = []
        for router in routers:
            config, own = render(router, planned.topo.node(router.node).get("frr_config"))
            rendered.append(replace(router, config=config, own_config_line=own))
        solution = fib.solve(rendered)
        return RoutingPlan(tuple(rendered), tuple(RouterRoutes(r.node, solution.records(r.node)) for r in rendered),
                           tuple(sorted(solution.unstable)))

    def refusal(self, topo, plan, features) -> str | None:
        records = plan.concern(self.name)
        if features is None or records is None:
            return None
        lacking = daemons.missing(d for r in records.routers for d in r.daemons)
        if not lacking:
            return None
        return (f"routers {', '.join(r.node for r in records.routers)} run FRR, but {', '.join(lacking)} is "
                f"missing: apt-get install {daemons.PACKAGE} (or `make install`)")

    def reach(self, plan, records: RoutingPlan | None, effects) -> None:
        if records is None:
            return
        if effects.down:                                # the routes as they become with those links down
            solution = fib.solve(records.routers, frozenset(effects.down))
            converged = [RouterRoutes(r.node, solution.records(r.node)) for r in records.routers]
            unstable = solution.unstable
        else:
            converged, unstable = list(records.converged), set(records.unstable)
        for entry in converged:
            effects.routes[entry.node] = [(r.prefix, r.via[0] if r.via else None) for r in entry.routes]
        effects.uncertain |= set(unstable)              # routes the model could not settle

    def configure(self, ctx) -> None:
        records: RoutingPlan | None = ctx.plan.concern(self.name)
        if records is None:
            return
        daemons.require((d for r in records.routers for d in r.daemons), (r.node for r in records.routers))
        for router in records.routers:
            ctx.worker.run_inside(ctx.ns(router.node), _loopback, router.loopback,
                                  tuple(p.ifname for p in router.ports6))
        instances = [daemons.Instance(r.node, ctx.ns(r.node), daemons.router_dir(ctx.run_id, r.node))
                     for r in records.routers]
        ctx.record(daemons.FrrRouter(i.node, i.netns, i.dir) for i in instances)

        def spawn(netns: str, argv: list[str], output: str) -> int:
            return ctx.worker.run_inside(netns, procs.spawn, argv, output)
        daemons.start_all(list(zip(instances, records.routers)), ctx.record, spawn)
        ctx.tick("routing daemons", len(instances), len(instances))

    def environment(self, plan, run_id: str, node: str) -> dict[str, str]:
        records: RoutingPlan | None = plan.concern(self.name)
        if records is None or records.router(node) is None:
            return {}
        return {"PATH": daemons.Instance(node, "", daemons.router_dir(run_id, node)).bin}

    def converge(self, net, timeout: float) -> float:
        records: RoutingPlan | None = net.plan.concern(self.name)
        if records is None:
            return 0.0
        return convergence.wait(net, records, timeout)


def _loopback(cidr: str, ipv6: tuple[str, ...] = ()) -> None:
    """(inside a router's namespace) its loopback address on lo, and ECMP hashing by 5-tuple;
    with IPv6 interfaces (OSPFv3), IPv6 forwarding, the same hashing for IPv6, IPv6 addresses
    kept while a link is down (the kernel drops them by default; IPv4 keeps its own), and no
    duplicate address detection on them (the plan's addresses are unique; a link coming back
    up is usable at once, not after a second or two)."""
    with netlink.Batch() as batch:
        batch.address(1, "lo", cidr)
        batch.commit()
    nsfs.write_sysctl(*MULTIPATH_HASH)
    if ipv6:
        for setting in IPV6_FORWARDING:
            nsfs.write_sysctl(*setting)
        for ifname in ipv6:                  # (a name may hold dots: not through write_sysctl's key)
            with open(f"/proc/sys/net/ipv6/conf/{ifname}/accept_dad", "w") as f:
                f.write("0")


def _unused_bfd(topo, routers) -> list[Problem]:
    """A link asking for BFD where no OSPF/IS-IS adjacency or BGP session runs over it."""
    used = {p.link for r in routers for p in r.ports + r.ports6 if p.bfd} | \
        {s.link for r in routers if r.bgp for s in r.bgp.sessions if s.bfd}
    found = []
    for link in topo.links:
        specs = [topo.node(e.node).get("routing") for e in link.ends]
        if link.get("bfd") is not None and link.index not in used and \
                any(s is not None and (s.ospf or s.isis or s.bgp) for s in specs):
            found.append(Problem(link.label, "has bfd but no OSPF/IS-IS adjacency or BGP session runs over it",
                                 "BFD watches a protocol's neighbour on the link: put routers running it at both ends"))
    return found


CONCERN = Routing()
