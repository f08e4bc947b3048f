"""Kinds are the source of truth: their flags decide, and a new kind is one module.

The `server` kind (testbed/kinds/server.py) was added as one file and one registry line:
these tests use it through the public API only.
"""
from __future__ import annotations

import json

import networkx as nx
import pytest

from testbed import TopologyError, kinds, plan, validate


def _web(**attrs) -> nx.Graph:
    g = nx.Graph()
    g.add_node("web", kind="server", **attrs)
    g.add_node("h1", kind="host")
    g.add_node("s1", kind="switch")
    g.add_edge("web", "s1")
    g.add_edge("h1", "s1")
    return g


def test_the_server_kind_is_registered_and_behaves_as_a_host():
    server = kinds.get("server")
    assert server is not None and "server" in kinds.names()
    assert server.endpoint and not server.forwards and not server.switching and server.start is not None
    assert set(kinds.get("host").attrs) < set(server.attrs)


def test_a_server_needs_its_command():
    assert [str(p) for p in validate(_web())] == [
        "node 'web': a server needs 'command': the shell command the server runs once the network is up "
        "(e.g. command='python3 -m http.server 80')"]
    with pytest.raises(TopologyError):
        plan(_web(command=""))
    assert any("ready_port" in str(p) for p in validate(_web(command="x", ready_port=70000)))


def test_the_servers_settings_are_planned_and_shown():
    p = plan(_web(command="python3 -m http.server 80", ready_port=80))
    assert dict(p.node("web").settings) == {"command": "python3 -m http.server 80", "ready_port": 80}
    assert p.node("web").addresses == ["10.0.0.1/24"]                 # a host's addressing
    shown = {n["name"]: n for n in json.loads(p.to_json())["nodes"]}
    assert shown["web"]["settings"] == [["command", "python3 -m http.server 80"], ["ready_port", 80]]
    assert "settings" not in shown["h1"]                              # other plans keep their JSON


@pytest.mark.parametrize("name, flags", [
    ("host", dict(endpoint=True, forwards=False, gateway=False, static_routes=False)),
    ("router", dict(endpoint=False, forwards=True, gateway=True, static_routes=True)),
    ("nat", dict(endpoint=False, forwards=True, gateway=True, masquerades=True)),
    ("hub", dict(switching=True, learns=False)),
    ("switch", dict(switching=True, learns=True, takes_switch_option=True)),
    ("bridge", dict(switching=True, backends=("linux",))),
])
def test_kind_flags(name, flags):
    kind = kinds.get(name)
    assert {k: getattr(kind, k) for k in flags} == flags
