"""Helpers for the integration tests: root skip, leftover checks, shipped topologies, probes."""
from __future__ import annotations

import os
import subprocess
import time
from contextlib import contextmanager
from typing import Iterator

import pytest

from testbed import Network, load
from testbed.kernel.journal import Process

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")

CONNECT = ("import socket,sys\n"
           "try:\n"
           "    s=socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))\n"
           "    s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n'); print(s.recv(12).decode(errors='replace'))\n"
           "except OSError as e: print('FAILED', type(e).__name__)\n")


def port_of(net: Network, host: str) -> str:
    """The switch port s1 gives ``host``."""
    return net.link(host, "s1")[0].other(host)[1]


def build_shipped(name: str, **params) -> Network:
    """A Network (not started) of topologies/<name>.py with the given parameters."""
    graph, used = load(f"topologies/{name}.py", {k: str(v) for k, v in params.items()})
    return Network(graph, source=name, params=used)


def pings(node, ip: str, count: int = 3) -> int:
    """How many of ``count`` quick pings from ``node`` to ``ip`` were answered."""
    out = node.cmd(["ping", "-c", str(count), "-i", "0.05", "-W", "1", ip])
    return int(next(l for l in out.splitlines() if "received" in l).split(",")[1].split()[0])


def namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def root_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@contextmanager
def nothing_left(net) -> Iterator[None]:
    """Check that the run left nothing: its namespaces (and so its nft tables), /etc/netns
    folders, run folder, and every process it started (dnsmasq, dhclient...) by PID."""
    before_links = root_links()
    names = {i.name for n in net.plan.nodes for i in n.interfaces}
    procs: list[tuple[int, int | None]] = []
    real_stop = net.stop

    def stop():
        if net.journal is not None:
            procs.extend((e.pid, e.start) for e in net.journal.entries() if isinstance(e, Process))
        return real_stop()
    net.stop = stop
    yield
    net.stop()
    prefix = net.run_id + "-"
    assert not {n for n in namespaces() if n.startswith(prefix)}
    if os.path.isdir("/etc/netns"):
        assert not [d for d in os.listdir("/etc/netns") if d.startswith(prefix)]
    assert not (root_links() - before_links) & names
    assert not os.path.exists(f"/run/testbed/{net.run_id}")
    from testbed.kernel.procs import process_alive
    assert not [pid for pid, start in procs if process_alive(pid, start) and alive(pid)]


def serve_http(node, port: int = 80):
    """Start a small HTTP server in ``node`` and wait until it listens."""
    proc = node.popen(["python3", "-m", "http.server", str(port), "--bind", "0.0.0.0"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if f":{port} " in node.cmd(["ss", "-Hltn"]):
            return proc
        time.sleep(0.1)
    raise AssertionError(f"http server in {node.name} did not start")


def connect(node, ip: str, port: int, timeout: float = 2.0) -> bool:
    """True when a TCP connection from ``node`` to ip:port gets an HTTP answer."""
    out = node.cmd(["python3", "-c", CONNECT, ip, str(port), str(timeout)], timeout=timeout + 20)
    return out.startswith("HTTP/")
