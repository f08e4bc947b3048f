"""Node kinds behind a registry: one small module per kind.

A :class:`Kind` is the source of truth about a node: which attributes it accepts (its
schema), whether it switches frames or owns addresses, whether it forwards IP, can be a
hosts' gateway, gets static routes, counts as a host for pingall; and optional hooks the
pipeline calls (``plan`` for the node's own planned settings, ``start`` once the network
is up, ``gateway_ifnames`` where it is a gateway). Nothing outside this package compares
kind names: it asks the Kind.

Adding a kind is one module here and one line in ``REGISTRY``.
"""
from __future__ import annotations

from typing import Any

from testbed.kinds import host, nat, router, server, switching
from testbed.kinds.base import FREE_ATTRS, Kind

__all__ = ["FREE_ATTRS", "Kind", "REGISTRY", "all_kinds", "get", "names", "of"]
# One line per kind.
REGISTRY: dict[str, Kind] = {k.name: k for k in (
    host.HOST,
    router.ROUTER,
    nat.NAT,
    *switching.KINDS,
    server.SERVER,
)}


def get(name: Any) -> Kind | None:
    """The kind called ``name`` (None for an unknown name or a value that cannot be one)."""
    return REGISTRY.get(name) if isinstance(name, str) else None


def of(name: str) -> Kind:
    """The kind of a planned node (its name comes from a Plan, so it exists)."""
    return REGISTRY[name]


def names() -> list[str]:
    return sorted(REGISTRY)


def all_kinds() -> list[Kind]:
    return [REGISTRY[n] for n in sorted(REGISTRY)]
