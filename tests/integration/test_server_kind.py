"""The server kind for real: its command runs once the network is up and dies with it."""
from __future__ import annotations

import os
import sys

import networkx as nx

from testbed import Network
from testbed.kernel.procs import process_alive

FETCH = ("import urllib.request,sys; "
         "print(urllib.request.urlopen('http://' + sys.argv[1] + ':8000/', timeout=10).status)")


def test_a_server_runs_its_command_when_up_and_it_stops_with_the_network(tmp_path):
    (tmp_path / "index.html").write_text("hello\n")
    g = nx.Graph()
    g.add_node("web", kind="server", ready_port=8000,
               command=f"cd {tmp_path} && exec {sys.executable} -m http.server 8000 --bind 0.0.0.0")
    g.add_node("h1", kind="host")
    g.add_node("s1", kind="switch")
    g.add_edge("web", "s1")
    g.add_edge("h1", "s1")
    with Network(g, source="server") as net:
        assert [n.name for n in net.hosts] == ["web", "h1"]
        # ready_port: the build waited, so the very first request finds the server up
        out = net["h1"].cmd([sys.executable, "-c", FETCH, net["web"].ip], timeout=30)
        assert out.strip() == "200", out
        listening = net["web"].cmd(["ss", "-Hltnp", "sport = :8000"])
        pid = int(listening.split("pid=")[1].split(",")[0])
        assert process_alive(pid, None)
    assert not process_alive(pid, None) or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert not os.path.exists(f"/run/netns/{net.run_id}-web")
