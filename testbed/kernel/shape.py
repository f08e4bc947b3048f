"""Shape one node's links: planned qdiscs on egress (tc.py), loss on ingress (nft.py).

Called inside the node's namespace by the deploy worker thread; nothing here needs a
journal entry, since qdiscs and nftables tables vanish with their namespace.
"""
from __future__ import annotations

from typing import Mapping

from pyroute2 import IPRoute

from testbed.kernel import nft, tc
from testbed.model.plan import Node


def shape_node(node: Node, index: Mapping[tuple[str, str], int]) -> None:
    """Apply every interface's qdiscs, then one nftables transaction for its ingress drops."""
    shaped = [i for i in node.interfaces if i.qdiscs]
    if shaped:
        with IPRoute() as ipr:
            for intf in shaped:
                tc.apply(ipr, index[(node.name, intf.name)], f"{node.name}/{intf.name}", intf.qdiscs)
    drops = [(i.name, i.ingress_loss) for i in node.interfaces if i.ingress_loss]
    if drops:
        try:
            nft.apply_ingress_loss(drops)
        except nft.NftError as exc:
            raise nft.NftError(f"node {node.name}: {exc}") from None
