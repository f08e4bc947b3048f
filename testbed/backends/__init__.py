"""Switch backends behind a registry: the Linux bridge and Open vSwitch.

A switching node's ``backend`` attribute (or the run's ``--switch``) picks one; every
switch-specific step of planning, deploying and running goes through its
:class:`SwitchBackend` (testbed/backends/base.py).
"""
from __future__ import annotations

from testbed.backends import linux
from testbed.backends.base import SwitchBackend
from testbed.kernel.journal import ENTRY_TYPES
from testbed.ovs import backend as ovs

__all__ = ["DEFAULT", "REGISTRY", "SwitchBackend", "get", "names", "of_node"]

REGISTRY: dict[str, SwitchBackend] = {b.name: b for b in (linux.BACKEND, ovs.BACKEND)}
DEFAULT = "linux"


def journal_types() -> list[str]:
    """The journal entry types every backend registers (importing this package loads them),
    so a teardown of another process's run can read every entry."""
    return sorted(ENTRY_TYPES)


def get(name: str) -> SwitchBackend:
    return REGISTRY[name]


def names() -> list[str]:
    return list(REGISTRY)


def of_node(plan, node: str) -> SwitchBackend | None:
    """The backend that built switch ``node`` of a plan (None: not a switch)."""
    if plan.node(node).role != "l2":
        return None
    for backend in REGISTRY.values():
        if backend.name != DEFAULT and backend.builds(plan, node):
            return backend
    return REGISTRY[DEFAULT]
