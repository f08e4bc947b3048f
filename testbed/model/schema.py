"""Attribute schemas: what a node, link or in-node device attribute may be, and its parser.

Every attribute a kind, a switch backend or a concern accepts is an :class:`Attr`. Its
``parse`` turns the value as written in the topology file into the value the rest of the
pipeline uses (a rate in bit/s, a boolean, a tuple...) or raises ``ValueError`` with a
short text saying what is wrong; topology resolution calls it exactly once per value.
The other fields document the attribute (``docs/reference.md`` is generated from them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from testbed.model.values import Checker


@dataclass(frozen=True)
class Attr:
    name: str
    parse: Callable[[Any], Any]      # raises ValueError("what is wrong") for a bad value
    help: str
    type: str = ""                   # for the reference: "CIDR", "bool", "int 1..65535", ...
    default: Any = None              # what applies when the attribute is not given
    example: str = ""                # a Python snippet, e.g. "ip='10.0.0.1/24'"
    per_end: bool = False            # links: a dict keyed by the link's node names
    either: bool = False             # links: one value, or a dict keyed by node name (per direction)
    required: bool = False           # a node of a kind that has it must give it


class Invalid(ValueError):
    """A bad value, said in full: ``what`` is wrong (without an "attribute 'x':" prefix),
    ``fix`` how to put it right, ``where`` (optional) a more precise place than the node or
    link, e.g. "route 2" or "interface 'br0'"."""

    def __init__(self, what: str, fix: str = "", where: str = ""):
        super().__init__(what)
        self.what, self.fix, self.where = what, fix, where


class Invalids(ValueError):
    """Several things wrong with one value, each an Invalid."""

    def __init__(self, items: list[Invalid]):
        super().__init__("; ".join(i.what for i in items))
        self.items = items


def checked(checker: Checker) -> Callable[[Any], Any]:
    """A parser that keeps a value as it is once ``checker`` finds nothing wrong with it."""
    def parse(value: Any) -> Any:
        error = checker(value)
        if error:
            raise ValueError(error)
        return value
    return parse


def attr(name: str, checker: Checker, help: str, **kwargs: Any) -> Attr:
    """An attribute whose value is kept as given once ``checker`` accepts it."""
    return Attr(name, checked(checker), help, **kwargs)


def table(*attrs: Attr) -> dict[str, Attr]:
    """name -> Attr, in the given order."""
    return {a.name: a for a in attrs}


def merged(*tables: Mapping[str, Attr]) -> dict[str, Attr]:
    result: dict[str, Attr] = {}
    for t in tables:
        result.update(t)
    return result
