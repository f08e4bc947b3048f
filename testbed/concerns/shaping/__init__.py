"""Link shaping: rate, delay, jitter, loss and queue of each direction of a link.

Pure planning (qdiscs and drop rules per interface) and the deploy hook that applies them
(testbed.kernel.tc and testbed.kernel.nft, inside each node's namespace). What the kernel
can do arrives as ``features``, a set of names from ``testbed.kernel.caps`` ("netem",
"htb", "nft-netdev"); ``None`` means a kernel with all of them (a stock kernel).

Per direction: any setting may be a dict keyed by the link's node names, and the value
under a node applies to what that node sends; a node left out gets no such setting.
An asymmetric access link, 2 Mbit/s up and 10 down from the host's side:

    G.add_edge("h1", "s1", bw={"h1": 2, "s1": 10}, delay="5ms")

Mechanisms, per direction (interface x sending to its peer y):

    bw (+ queue)          x: htb root 1:, class 1:1 at the rate, pfifo 10: (limit queue)
    bw + ecn              x: the same with red 10: instead of the pfifo (bytes: limit
                          queue x 1514, min K x 1514, max one byte more, ecn; W = 1)
    delay/jitter/loss     x: netem root 1: (when the kernel has netem); with bw the htb
                          tree hangs below it (netem 1: -> htb 2: -> class 2:1 -> pfifo 10:)
    loss without netem    y: nftables netdev ingress drop, ``numgen random`` (silent to the
                          sender, like loss on a wire; an egress drop would be reported to it);
                          where y is a port of a switch that reads its ports with packet
                          sockets (Open vSwitch's userspace datapath), which see frames before
                          that hook, an XDP drop program instead (testbed/kernel/xdp.py)
    queue alone           x: pfifo root limit queue (matters only when x is the bottleneck)

Without netem, delay and jitter are refused before anything is built.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Collection, Iterable, Mapping

from testbed.concerns.base import Concern
from testbed.concerns.shaping.units import (ATTRS, DEFAULT_QUEUE, FRAME, PARSERS, SettingError, format_rate,
                                            format_time, parse_loss, parse_queue, parse_rate, parse_time)
from testbed.errors import Problem
from testbed.kernel import nft, tc, xdp
from testbed.model.schema import Attr, table
from testbed.model.tc import Qdisc

__all__ = ["ATTRS", "CONCERN", "DEFAULT_QUEUE", "Direction", "LinkShaping", "Qdisc", "SettingError",
           "direction", "egress_qdiscs", "format_rate", "format_time", "netem_limit", "parse_loss",
           "parse_queue", "parse_rate", "parse_time", "plan_link", "red_queue", "unsupported"]

ALL_FEATURES = frozenset({"netem", "htb", "nft-netdev", "red"})


@dataclass(frozen=True)
class Direction:
    """The settings of one direction of a link (what one end sends), parsed."""

    bw: int | None = None            # bit/s
    delay: int | None = None         # microseconds
    jitter: int | None = None        # microseconds
    loss: float | None = None        # percent
    queue: int | None = None         # packets
    ecn: int | None = None           # packets: the marking threshold K

    @property
    def empty(self) -> bool:
        return all(getattr(self, a) in (None, 0) for a in ATTRS)


@dataclass(frozen=True)
class LinkShaping:
    """What one interface gets: egress tc objects (in creation order) and an ingress drop."""

    node: str
    interface: str
    qdiscs: tuple[Qdisc, ...] = ()
    ingress_loss: float | None = None          # percent dropped on arrival (nftables), no netem


def directed(parsed: Mapping[str, Any], sender: Any) -> Direction:
    """The settings of what ``sender`` sends, from parsed link attributes (a value or a
    dict of values keyed by node name, per attribute)."""
    found: dict[str, Any] = {}
    for attr in ATTRS:
        value = parsed.get(attr)
        if isinstance(value, Mapping):
            value = value.get(sender, value.get(str(sender)))
        if value:                                        # None or 0: unset
            found[attr] = value
    return Direction(**found)


def direction(settings: Mapping[str, Any], sender: Any) -> Direction:
    """The settings of what ``sender`` sends, from link settings as written (must be valid)."""
    parsed = {attr: ({end: PARSERS[attr](v) for end, v in value.items()} if isinstance(value, Mapping)
                     else PARSERS[attr](value))
              for attr, value in settings.items() if attr in ATTRS and value is not None}
    return directed(parsed, sender)


# ---------------------------------------------------------------- the plan of an interface

def htb_burst(bits: int) -> int:
    """Bytes of credit: 1 ms at the rate, at least two full frames."""
    return max(2 * FRAME, bits // 8 // 1000)


def htb_quantum(bits: int) -> int:
    """Bytes per round (one class: only keeps the kernel's r2q warning away)."""
    return min(200_000, max(FRAME, bits // 8 // 10))


def netem_limit(d: Direction) -> int:
    """Packets netem may hold: the queue alone, or (with htb below) the delay line as well."""
    if not d.bw:
        return d.queue or DEFAULT_QUEUE
    line = math.ceil(d.bw * ((d.delay or 0) + (d.jitter or 0)) / 1e6 / 8 / FRAME)
    return max(DEFAULT_QUEUE, 4 * line)


def egress_qdiscs(d: Direction, netem: bool) -> tuple[Qdisc, ...]:
    """The tc objects an interface needs on egress for direction ``d``."""
    uses_netem = bool(d.delay or d.jitter or (d.loss and netem))
    result: list[Qdisc] = []
    major = 1
    if uses_netem:
        opts: list[tuple[str, Any]] = []
        if d.delay:
            opts.append(("delay", d.delay))
        if d.jitter:
            opts.append(("jitter", d.jitter))
        if d.loss and netem:
            opts.append(("loss", d.loss))
        opts.append(("limit", netem_limit(d)))
        result.append(Qdisc("netem", "1:", "root", tuple(opts)))
        major = 2
    if d.bw:
        parent = "1:1" if uses_netem else "root"
        result.append(Qdisc("htb", f"{major}:", parent, (("default", 1),)))
        result.append(Qdisc("htb", f"{major}:1", f"{major}:", (
            ("rate", d.bw), ("ceil", d.bw), ("burst", htb_burst(d.bw)), ("cburst", htb_burst(d.bw)),
            ("quantum", htb_quantum(d.bw))), object="class"))
        result.append(red_queue(d, f"{major}:1") if d.ecn else
                      Qdisc("pfifo", "10:", f"{major}:1", (("limit", d.queue or DEFAULT_QUEUE),)))
    elif d.queue and not uses_netem:
        result.append(Qdisc("pfifo", "10:", "root", (("limit", d.queue),)))
    return tuple(result)


def red_queue(d: Direction, parent: str) -> Qdisc:
    """The marking queue of ``ecn``: RED on the instantaneous backlog, thresholds in whole frames."""
    return Qdisc("red", "10:", parent, (
        ("limit", (d.queue or DEFAULT_QUEUE) * FRAME), ("min", d.ecn * FRAME), ("max", d.ecn * FRAME + 1),
        ("avpkt", FRAME), ("bandwidth", d.bw), ("wlog", 0), ("probability", 1.0), ("ecn", True)))


def plan_link(parsed: Mapping[str, Any], a: tuple[str, str], b: tuple[str, str],
              features: Collection[str] | None = None) -> dict[tuple[str, str], LinkShaping]:
    """(node, ifname) -> LinkShaping for both ends of one link (parsed settings)."""
    feats = ALL_FEATURES if features is None else frozenset(features)
    netem = "netem" in feats
    egress: dict[tuple[str, str], tuple[Qdisc, ...]] = {}
    ingress: dict[tuple[str, str], float | None] = {a: None, b: None}
    for sender, receiver in ((a, b), (b, a)):
        d = directed(parsed, sender[0])
        egress[sender] = egress_qdiscs(d, netem)
        if d.loss and not netem:
            ingress[receiver] = d.loss
    return {end: LinkShaping(end[0], end[1], egress[end], ingress[end]) for end in (a, b)
            if egress[end] or ingress[end] is not None}


# ---------------------------------------------------------------- what the kernel cannot do

def needs(records: Iterable[LinkShaping]) -> dict[str, set[str]]:
    """feature -> the settings that need it, for the planned records of one link."""
    wanted: dict[str, set[str]] = {}
    for r in records:
        for q in r.qdiscs:
            if q.kind == "netem":
                for attr in ("delay", "jitter"):
                    if q.option(attr):
                        wanted.setdefault("netem", set()).add(attr)
                if q.option("loss"):
                    wanted.setdefault("loss", set()).add("loss")
            elif q.kind == "htb":
                wanted.setdefault("htb", set()).add("bw")
            elif q.kind == "red":
                wanted.setdefault("red", set()).add("ecn")
        if r.ingress_loss:
            wanted.setdefault("loss", set()).add("loss")
    return wanted


def unsupported(links: Iterable[tuple[str, Iterable[LinkShaping]]], features: Collection[str] | None) -> str | None:
    """A refusal naming every link that asks for what the kernel lacks, or None.

    ``links`` holds (label, the shaping records of both its ends) of each shaped link.
    """
    if features is None:
        return None
    feats = frozenset(features)
    missing: dict[str, list[str]] = {}
    for label, records in links:
        for feature, attrs in needs(records).items():
            if feature == "loss":
                if "netem" in feats or "nft-netdev" in feats:
                    continue
                feature = "netem or nftables netdev"
            elif feature in feats:
                continue
            missing.setdefault(feature, []).append(f"{label} ({', '.join(sorted(attrs))})")
    if not missing:
        return None
    lines = [f"this kernel has no {feature}, needed by: {'; '.join(where)}" for feature, where in missing.items()]
    settings = sorted({a.strip() for ws in missing.values() for w in ws
                       for a in w[w.rindex("(") + 1:-1].split(",")})
    lines.append("two ways out: run it on a stock kernel in a VM with `testbed run --vm ...`, "
                 f"or drop the {'/'.join(settings)} setting(s) from those links "
                 "(`testbed doctor` shows what this kernel can do)")
    return "\n".join(lines)


# ---------------------------------------------------------------- the concern

_DOC = {"bw": ("rate of what an end sends: Mbit/s, or '100kbit', '20Mbit', '2Gbit'", "rate", "bw=10"),
        "delay": ("one-way delay of each direction: '10ms', '1.5ms', '100us' (needs netem)", "time", "delay='5ms'"),
        "jitter": ("uniform variation of the delay (needs a delay)", "time", "jitter='1ms'"),
        "loss": ("percent of the frames an end sends that are lost", "percent 0..100", "loss=1"),
        "queue": ("packets that may wait for the link (tail drop)", "packets", "queue=100"),
        "ecn": ("ECN marking threshold K of the link's queue, in packets (RED; needs bw)", "packets", "ecn=20")}


class Shaping(Concern):
    name = "shaping"
    link_attrs = table(*(Attr(a, PARSERS[a], _DOC[a][0], type=_DOC[a][1], example=_DOC[a][2], either=True)
                         for a in ATTRS))
    link_settings = ATTRS

    def depends_on_kernel(self, topo) -> bool:
        return any(a in link.attrs for link in topo.links for a in ATTRS)

    def problems(self, topo) -> list[Problem]:
        found = []
        for link in topo.links:
            for end in (link.u, link.v):
                d = directed(link.attrs, end)
                if d.jitter and not d.delay:
                    found.append(Problem(link.label, f"jitter from {end!r} without a delay",
                                         "jitter varies a delay: set delay too, e.g. delay='10ms', jitter='2ms'"))
                if d.ecn and not d.bw:
                    found.append(Problem(link.label, f"ecn from {end!r} without a bw",
                                         "a queue to mark builds only behind a rate limit: set bw in the same "
                                         "direction"))
                if d.ecn and d.ecn >= (d.queue or DEFAULT_QUEUE):
                    found.append(Problem(link.label, f"ecn {d.ecn} from {end!r} is not below the queue "
                                         f"({d.queue or DEFAULT_QUEUE} packets)",
                                         "mark below the tail-drop limit: a smaller ecn or a larger queue"))
        return found

    def plan(self, planned) -> tuple[LinkShaping, ...] | None:
        shaped: dict[tuple[str, str], LinkShaping] = {}
        for link, spec in zip(planned.links, planned.topo.links):
            if any(a in spec.attrs for a in ATTRS):
                shaped.update(plan_link(spec.attrs, link.a, link.b, planned.features))
        order = [(n.name, i.name) for n in planned.nodes for i in n.interfaces]
        return tuple(shaped[k] for k in order if k in shaped) or None

    def refusal(self, topo, plan, features) -> str | None:
        by_end = {(r.node, r.interface): r for r in plan.concern(self.name) or ()}
        links = [(f"link {link.a[0]}--{link.b[0]}", [by_end[e] for e in (link.a, link.b) if e in by_end])
                 for link in plan.links]
        return unsupported([(label, records) for label, records in links if records], features)

    def reach(self, plan, records, effects) -> None:
        """A direction that loses every frame cuts the interface it would reach (or leave) off its LAN."""
        for r in records or ():
            if (r.ingress_loss or 0) >= 100 or any(q.kind == "netem" and (q.option("loss") or 0) >= 100
                                                   for q in r.qdiscs):
                effects.cut.add((r.node, r.interface))

    def configure(self, ctx) -> None:
        """qdiscs on egress (tc), then one nftables transaction per node for its ingress drops."""
        records = ctx.plan.concern(self.name) or ()
        by_node: dict[str, list[LinkShaping]] = {}
        for r in records:
            by_node.setdefault(r.node, []).append(r)
        for done, (node, items) in enumerate(by_node.items(), start=1):
            qdiscs = [(ctx.index[(node, r.interface)], f"{node}/{r.interface}", r.qdiscs) for r in items if r.qdiscs]
            drops = [(r.interface, r.ingress_loss) for r in items if r.ingress_loss]
            backend = ctx.backend(node) if drops else None
            tapped = backend is not None and backend.taps_ports(ctx.plan, node)
            ctx.worker.run_inside(ctx.ns(node), _shape_here, node, qdiscs, drops, tapped)
            ctx.tick("shaping", done, len(by_node))


def _shape_here(node: str, qdiscs, drops, tapped: bool = False) -> None:
    """(worker thread, inside the node) apply the egress qdiscs, then the ingress drops
    (XDP where packet sockets read the ports, ``tapped``; nftables otherwise)."""
    if qdiscs:
        tc.apply_all(qdiscs)
    if drops and tapped:
        xdp.apply_loss(drops)
    elif drops:
        try:
            nft.apply_ingress_loss(drops)
        except nft.NftError as exc:
            raise nft.NftError(f"node {node}: {exc}") from None


CONCERN = Shaping()


def of(plan, node: str, ifname: str) -> LinkShaping:
    """What an interface of a plan is shaped with (an empty record when it is not)."""
    return next((r for r in plan.concern(CONCERN.name) or () if (r.node, r.interface) == (node, ifname)),
                LinkShaping(node, ifname))
