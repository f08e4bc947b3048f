"""Measure a running network's links: iperf3 throughput and ping round trips between two hosts.

    result = iperf(net, "h1", "h2", seconds=3)     # IperfResult(.mbps, .expected_mbps(bw))
    stats = ping(net, "h1", "h2", count=2000)      # PingStats(.loss, .rtt_min/avg/max)

iperf3 runs as a server started with popen() in the destination (stopped by PID) and a
client with ``-J`` in the source. Pings come from one raw ICMP socket (kernel/icmp.py).
"""
from __future__ import annotations

import json
import math
import os
import select
import statistics
import subprocess
import time
from dataclasses import dataclass

from testbed.errors import CommandFailed
from testbed.kernel import icmp
from testbed.reach import target_address

HEADERS = 14 + 20 + 20 + 12      # Ethernet, IPv4, TCP and its timestamp option, per segment


@dataclass(frozen=True)
class IperfResult:
    src: str
    dst: str
    seconds: float
    received_bps: float            # goodput at the receiver, bits/s
    sent_bps: float
    mss: int
    retransmits: int

    @property
    def mbps(self) -> float:
        return self.received_bps / 1e6

    @property
    def efficiency(self) -> float:
        """Goodput per bit of frames on the wire: mss / (mss + headers)."""
        return self.mss / (self.mss + HEADERS)

    def expected_mbps(self, bw_mbps: float) -> float:
        """The goodput a link of ``bw_mbps`` (counted in whole frames, as tc does) should give."""
        return bw_mbps * self.efficiency

    def summary(self) -> str:
        return (f"iperf3 TCP {self.src} -> {self.dst}: {self.mbps:.3f} Mbit/s received over {self.seconds:g} s "
                f"(sent {self.sent_bps / 1e6:.3f}, {self.retransmits} retransmits, MSS {self.mss}; "
                f"frames on the wire {self.mbps / self.efficiency:.3f} Mbit/s)")


@dataclass(frozen=True)
class PingStats:
    src: str
    dst: str
    sent: int
    received: int
    rtts: tuple[float, ...]        # milliseconds

    @property
    def loss(self) -> float:
        return 100.0 if not self.sent else 100.0 * (self.sent - self.received) / self.sent

    def summary(self) -> str:
        text = f"ping {self.src} -> {self.dst}: {self.sent} sent, {self.received} received, {self.loss:.2f}% loss"
        if self.rtts:
            text += (f"; rtt min/avg/max/mdev {min(self.rtts):.3f}/{statistics.fmean(self.rtts):.3f}/"
                     f"{max(self.rtts):.3f}/{statistics.pstdev(self.rtts):.3f} ms")
        return text


def _wait_listening(proc: subprocess.Popen, timeout: float) -> None:
    """Read the server's unbuffered output until it says it listens."""
    seen = b""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        seen += chunk
        if b"listening" in seen.lower():
            return
    raise CommandFailed(f"iperf3 server did not start within {timeout:g} s: {seen.decode(errors='replace')[-200:]}")


def iperf(net, src: str, dst: str, seconds: float = 3.0, port: int = 5201, omit: float = 0.5,
          reverse: bool = False) -> IperfResult:
    """TCP throughput from ``src`` to ``dst`` (``reverse``: dst sends), measured by iperf3 -J."""
    ip = target_address(net.plan, src, dst)
    if ip is None:
        raise CommandFailed(f"{dst} has no address {src} can reach")
    server = net[dst].popen(["iperf3", "-s", "-1", "--forceflush", "-B", ip, "-p", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, bufsize=0)
    try:
        _wait_listening(server, 5.0)
        argv = ["iperf3", "-c", ip, "-p", str(port), "-t", f"{seconds:g}", "-J"]
        if omit:
            argv += ["-O", f"{omit:g}"]
        if reverse:
            argv.append("-R")
        done = net[src].run(argv, timeout=seconds + omit + 15)
        try:
            data = json.loads(done.stdout)
        except json.JSONDecodeError:
            raise CommandFailed(f"iperf3 {src} -> {dst} gave no JSON: {(done.stdout + done.stderr)[:300]}") from None
        if "error" in data:
            raise CommandFailed(f"iperf3 {src} -> {dst}: {data['error']}")
        end = data["end"]
        return IperfResult(src=dst if reverse else src, dst=src if reverse else dst, seconds=seconds,
                           received_bps=end["sum_received"]["bits_per_second"],
                           sent_bps=end["sum_sent"]["bits_per_second"],
                           mss=int(data["start"].get("tcp_mss_default") or 1448),
                           retransmits=int(end["sum_sent"].get("retransmits", 0)))
    finally:
        if server.poll() is None:
            server.terminate()
        try:
            server.wait(timeout=2)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout is not None:
            server.stdout.close()
        net._forget(server.pid)


def ping(net, src: str, dst: str, count: int = 100, interval: float = 0.01, timeout: float = 1.0,
         warmup: float = 5.0) -> PingStats:
    """``count`` echo requests from one socket in ``src``, every ``interval`` s; replies counted.

    First, uncounted, pings go out until one comes back (for at most ``warmup`` seconds), so
    that ARP has resolved the neighbour: on a lossy link ARP itself loses frames, and the
    pings queued behind a failed resolution would be counted as link loss.
    """
    ip = target_address(net.plan, src, dst)
    open_in = lambda ns: net.worker.run_inside(ns, icmp.open_socket)    # noqa: E731
    deadline = time.monotonic() + warmup
    while time.monotonic() < deadline:
        first = icmp.Probe(net[src].netns, ip or "0.0.0.0")
        icmp.mesh(open_in, [first], count=1, timeout=0.2)
        if first.received:
            break
    probe = icmp.Probe(net[src].netns, ip or "0.0.0.0")
    icmp.mesh(open_in, [probe], count=count, timeout=timeout, interval=interval)
    return PingStats(src, dst, probe.sent, probe.received, tuple(probe.rtts or ()))


def loss_bound(p: float, n: int, sigmas: float = 4.0) -> float:
    """Half-width of a ``sigmas``-sigma binomial interval of the loss fraction over n trials."""
    return sigmas * math.sqrt(p * (1 - p) / n)
