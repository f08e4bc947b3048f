"""Changing a running namespace's links, routes and qdiscs (run via NetnsWorker.run_inside).

What a build never needs and a running network changed at run time does: the interface
indexes in use, deleting links and routes, taking an interface's shaping off (its root
qdisc and its nftables loss chain) before new shaping goes on. Runs in the calling
thread's namespace with pyroute2 (imported on first use), like linkstate.
"""
from __future__ import annotations

import errno

from testbed.kernel import nft, xdp
from testbed.kernel.netlink import NetlinkError

TC_H_ROOT = 0xFFFFFFFF


def _iproute():
    from pyroute2 import IPRoute
    return IPRoute()


def _code(exc: BaseException) -> int:
    return getattr(exc, "code", None) or getattr(exc, "errno", None) or 0


def indexes() -> dict[str, int]:
    """ifname -> ifindex of every interface of this namespace (loopback included)."""
    with _iproute() as ipr:
        return {link.get("ifname"): link["index"] for link in ipr.get_links()}


def delete(names: list[str]) -> list[str]:
    """Delete the named interfaces (a veth takes its peer with it); the names that were there."""
    deleted = []
    with _iproute() as ipr:
        for name in names:
            found = ipr.link_lookup(ifname=name)
            if not found:
                continue
            try:
                ipr.link("del", index=found[0])
            except Exception as exc:   # pyroute2's NetlinkError
                if _code(exc) != errno.ENODEV:
                    raise NetlinkError(_code(exc) or errno.EIO, f"delete link {name}") from None
            deleted.append(name)
    return deleted


def set_master(name: str, master: str | None) -> None:
    """Make ``name`` a port of bridge ``master`` (None: of no bridge) and bring it up."""
    with _iproute() as ipr:
        index = _lookup(ipr, name)
        ipr.link("set", index=index, master=_lookup(ipr, master) if master else 0, state="up")


def _lookup(ipr, name: str) -> int:
    found = ipr.link_lookup(ifname=name)
    if not found:
        raise NetlinkError(errno.ENODEV, f"no interface {name}")
    return found[0]


def delete_routes(routes: list[tuple[str, str]]) -> None:
    """Delete (dst, via) routes of this namespace; routes already gone are fine."""
    with _iproute() as ipr:
        for dst, via in routes:
            try:
                ipr.route("del", dst="0.0.0.0/0" if dst == "default" else dst, gateway=via)
            except Exception as exc:
                if _code(exc) not in (errno.ESRCH, errno.ENOENT, errno.ENETUNREACH):
                    raise NetlinkError(_code(exc) or errno.EIO, f"delete route {dst} via {via}") from None


def clear_shaping(names: list[str]) -> None:
    """Take every planned shaping object off the named interfaces: the root qdisc (and the
    tree below it), the interface's nftables ingress loss chain or XDP loss program."""
    with _iproute() as ipr:
        for name in names:
            found = ipr.link_lookup(ifname=name)
            if not found:
                continue
            try:
                ipr.tc("del", index=found[0], handle=0, parent=TC_H_ROOT)
            except Exception as exc:
                # no root qdisc of ours there: ENOENT, or EINVAL for the default one
                if _code(exc) not in (errno.ENOENT, errno.EINVAL, errno.EOPNOTSUPP):
                    raise NetlinkError(_code(exc) or errno.EIO, f"delete root qdisc of {name}") from None
    xdp.remove_loss(names)
    present = _loss_chains()
    script = "".join(f"delete chain netdev {nft.TABLE} loss-{name}\n" for name in names if f"loss-{name}" in present)
    if script:
        nft.run(script)


def _loss_chains() -> set[str]:
    """The chains of this namespace's netdev loss table (empty when it has none)."""
    import json
    try:
        listed = json.loads(nft.run(f"list table netdev {nft.TABLE}", json_output=True) or "{}")
    except nft.NftError:
        return set()
    return {item["chain"]["name"] for item in listed.get("nftables", []) if "chain" in item}
