"""Planned tc objects: what the shaping concern plans and testbed.kernel.tc applies."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Qdisc:
    """One tc object on an interface's egress: a qdisc or (``object`` "class") an htb class.

    Units of ``options``: rate and bandwidth bit/s, burst and quantum bytes, delay and
    jitter microseconds, loss percent, limit packets (red: limit, min, max, avpkt bytes).
    """

    kind: str                                  # "htb", "pfifo", "netem", "red"
    handle: str                                # "1:" for a qdisc, "1:1" for a class
    parent: str                                # "root" or the class it hangs from
    options: tuple[tuple[str, Any], ...] = ()
    object: str = "qdisc"                      # "qdisc" or "class"

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)
