"""Small things every compatibility module uses: notes said once, addresses with a prefix."""
from __future__ import annotations

from mininet.log import warn

DEFAULT_PREFIX = 8             # Mininet's default prefix length (ipBase 10.0.0.0/8)
_said: set[str] = set()


def say_once(key: str, text: str) -> None:
    """Tell the user something about how a Mininet feature runs here, once per process."""
    if key not in _said:
        _said.add(key)
        warn(f"*** Note: {text}\n")


def cidr(ip: str, prefix: int | None = None) -> str:
    """'10.0.0.1' -> '10.0.0.1/8' (a given prefix, else Mininet's default); a CIDR stays as it is."""
    return ip if "/" in str(ip) else f"{ip}/{prefix if prefix is not None else DEFAULT_PREFIX}"
