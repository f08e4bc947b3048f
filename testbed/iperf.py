"""iperf3 between two nodes of a running network (TCP, or UDP at a given rate).

The server is started with popen inside the server node (``iperf3 -s -1``, one test then
exit), and stopped by its PID whatever happens; the client runs with ``-J`` and its JSON
report is parsed. Nothing outside the run is ever signalled.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from testbed.errors import CommandFailed, UsageError
from testbed.reach import target_address

PORT = 5201
READY_TIMEOUT = 5.0


@dataclass(frozen=True)
class IperfResult:
    client: str
    server: str
    server_ip: str
    protocol: str                 # "tcp" or "udp"
    sent_bps: float               # as the sender counted it
    received_bps: float           # as the receiver counted it
    requested: str | None = None  # UDP target rate, e.g. "10M"
    lost_percent: float | None = None
    jitter_ms: float | None = None


def format_bps(bps: float) -> str:
    """10_000_000 -> '10.0 Mbits/sec' (iperf's units)."""
    for unit, scale in (("Gbits/sec", 1e9), ("Mbits/sec", 1e6), ("Kbits/sec", 1e3)):
        if bps >= scale:
            return f"{bps / scale:.3g} {unit}"
    return f"{bps:.0f} bits/sec"


def run(net: Any, client: str, server: str, *, seconds: float = 5.0, udp_bw: str | None = None,
        port: int = PORT) -> IperfResult:
    """Measure throughput from ``client`` to ``server`` with iperf3."""
    if client == server:
        raise UsageError(f"iperf: client and server are both {client!r}; give two different nodes")
    ip = target_address(net.plan, client, server)
    if ip is None:
        raise UsageError(f"iperf: {server!r} has no IP address to reach")
    srv = net[server].popen(["iperf3", "-s", "-1", "--forceflush", "-p", str(port)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_listening(srv, server)
        argv = ["iperf3", "-c", ip, "-p", str(port), "-t", f"{seconds:g}", "-J"]
        if udp_bw is not None:
            argv += ["-u", "-b", udp_bw]
        done = net[client].run(argv, timeout=seconds + 20)
    finally:
        _stop(net, srv)
    return parse(done.stdout, client, server, ip, udp_bw)


def _wait_listening(srv: subprocess.Popen, server: str) -> None:
    """Wait for the server's "Server listening" line (read unbuffered from its pipe)."""
    deadline = time.monotonic() + READY_TIMEOUT
    fd = srv.stdout.fileno()
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen += chunk
            if b"listening" in seen.lower():
                return
        elif srv.poll() is not None:
            break
    text = seen.decode(errors="replace").replace("-", "").strip()
    raise CommandFailed(f"iperf: the iperf3 server on {server} did not start: {text[:200] or 'no output'}")


def _stop(net: Any, srv: subprocess.Popen) -> None:
    if srv.poll() is None:
        srv.terminate()
        try:
            srv.wait(timeout=2)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
    if srv.stdout is not None:
        srv.stdout.close()
    net._forget(srv.pid)


def parse(text: str, client: str, server: str, ip: str, udp_bw: str | None = None) -> IperfResult:
    """Read iperf3's ``-J`` client report."""
    try:
        report = json.loads(text)
    except json.JSONDecodeError:
        raise CommandFailed(f"iperf: {client} -> {server}: no JSON report from iperf3: {text.strip()[:200]}") from None
    if report.get("error"):
        raise CommandFailed(f"iperf: {client} -> {server} ({ip}): {report['error']}")
    end = report.get("end", {})
    if udp_bw is None:
        sent, received = end.get("sum_sent", {}), end.get("sum_received", {})
        return IperfResult(client, server, ip, "tcp", float(sent.get("bits_per_second", 0.0)),
                           float(received.get("bits_per_second", 0.0)))
    sent = end.get("sum_sent") or end.get("sum", {})
    received = end.get("sum_received") or end.get("sum", {})
    return IperfResult(client, server, ip, "udp", float(sent.get("bits_per_second", 0.0)),
                       float(received.get("bits_per_second", 0.0)), udp_bw,
                       float(received.get("lost_percent", 0.0)), float(received.get("jitter_ms", 0.0)))
