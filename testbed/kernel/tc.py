"""Apply planned qdiscs (testbed.model.tc.Qdisc) to interfaces with pyroute2's tc support.

Runs in the calling thread's namespace (a worker thread inside a node's namespace), so
no process is forked per node. Qdiscs vanish with their interface and namespace.
"""
from __future__ import annotations

from typing import Any, Iterable

from testbed.kernel import red
from testbed.kernel.netlink import NetlinkError
from testbed.model.tc import Qdisc

TC_H_ROOT = 0xFFFFFFFF


def handle(text: str) -> int:
    """tc notation to a 32-bit handle: "1:" -> 0x10000, "2:1" -> 0x20001, "root" -> TC_H_ROOT."""
    if text == "root":
        return TC_H_ROOT
    major, _, minor = text.partition(":")
    return (int(major or "0", 16) << 16) | int(minor or "0", 16)


def _kwargs(q: Qdisc) -> dict[str, Any]:
    """pyroute2 arguments of a planned object (rates in bytes/s, times in microseconds)."""
    o = dict(q.options)
    if q.kind == "htb" and q.object == "class":
        return {"rate": o["rate"] // 8, "ceil": o["ceil"] // 8, "burst": o["burst"], "cburst": o["cburst"],
                "quantum": o["quantum"]}
    if q.kind == "htb":
        return {"default": handle(f"0:{o['default']:x}")}
    if q.kind == "netem":
        return {k: o[k] for k in ("delay", "jitter", "loss", "limit") if k in o}
    if q.kind == "pfifo":
        return {"limit": o["limit"]}
    raise ValueError(f"no tc driver for {q.kind!r}")


def apply(ipr, index: int, ifname: str, qdiscs: Iterable[Qdisc]) -> None:
    """Create the planned objects on interface ``index`` in order (``ipr``: a pyroute2 IPRoute);
    NetlinkError names the failure."""
    from pyroute2.netlink.exceptions import NetlinkError as PyrNetlinkError   # pyroute2 loads in ~0.2 s
    for q in qdiscs:
        if q.kind == "red":                        # pyroute2 has no RED: red.py encodes it
            o = dict(q.options)
            try:
                red.add(index, handle(q.handle), handle(q.parent), red.RedParams(
                    limit=o["limit"], qth_min=o["min"], qth_max=o["max"], avpkt=o["avpkt"], bandwidth=o["bandwidth"],
                    wlog=o["wlog"], probability=o["probability"], ecn=o["ecn"]))
            except OSError as exc:
                raise NetlinkError(exc.errno or 0, f"add red qdisc {q.handle} on {ifname}") from None
            continue
        command = "add-class" if q.object == "class" else "add"
        try:
            ipr.tc(command, q.kind, index, handle(q.handle), parent=handle(q.parent), **_kwargs(q))
        except PyrNetlinkError as exc:
            raise NetlinkError(exc.code, f"add {q.kind} {q.object} {q.handle} on {ifname}") from None


def apply_all(interfaces: Iterable[tuple[int, str, Iterable[Qdisc]]]) -> None:
    """Apply (ifindex, label, qdiscs) of this thread's namespace over one netlink socket."""
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        for index, label, qdiscs in interfaces:
            apply(ipr, index, label, qdiscs)


def show(ipr, index: int) -> list[dict[str, Any]]:
    """The qdiscs on an interface: [{kind, handle, parent}] (for checks and tests)."""
    result = []
    for msg in ipr.get_qdiscs(index=index):
        result.append({"kind": msg.get_attr("TCA_KIND"), "handle": msg["handle"], "parent": msg["parent"]})
    return result
