"""kind: server — a host that runs a command of its own once the network is up.

    g.add_node("web", kind="server", command="python3 -m http.server 80", ready_port=80)

The command starts inside the node after the build (like any ``node.popen``: journaled
by PID, stopped at teardown with everything else the node runs); with ``ready_port``
the build waits until something listens on that TCP port, so the first request made
after ``Network.start()`` finds the server up. Everything else is as for a host.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from testbed.kinds.host import HOST, L3_ATTRS
from testbed.model import values
from testbed.model.schema import Attr, Invalid, attr, table


def _parse_command(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or "\n" in value:
        raise Invalid(f"command {value!r} must be one line of shell command", "e.g. command='python3 -m http.server 80'")
    return value


SERVER_ATTRS = dict(L3_ATTRS, **table(
    Attr("command", _parse_command, "the shell command the server runs once the network is up",
         type="str", example="command='python3 -m http.server 80'", required=True),
    attr("ready_port", values.number(minimum=1, maximum=65535, integer=True),
         "a TCP port the command listens on: the build waits for it", type="int 1..65535", example="ready_port=80"),
))


def _plan(spec) -> tuple[tuple[str, Any], ...]:
    settings = [("command", spec.get("command"))]
    if spec.get("ready_port") is not None:
        settings.append(("ready_port", spec.get("ready_port")))
    return tuple(settings)


def _start(node, settings: Mapping[str, Any]) -> None:
    """Start the command in ``node`` (a running node handle); wait for its port if it has one."""
    proc = node.popen(settings["command"])
    if settings.get("ready_port"):
        node.wait_listening(int(settings["ready_port"]), proc=proc)


SERVER = replace(
    HOST,
    name="server",
    description="a host that runs its `command` once the network is up (and waits for `ready_port`)",
    attrs=SERVER_ATTRS,
    plan=_plan,
    start=_start,
)
