"""Time series of a running network: a queue's occupancy, TCP flows' windows, a ping train.

    with QueueMonitor(net["r"], "r-eth1", period=0.1) as queue, TcpMonitor(net["h1"], dport=5201) as tcp:
        ...                                       # traffic
    queue.samples                                 # [QueueSample(t, qlen, backlog, drops, marked)]
    tcp.busiest().samples                         # [TcpSample(t, cwnd, ssthresh, rtt_ms, ...)]
    train = PingTrain(net["h1"], net["h2"], interval=0.1, duration=30).start()
    train.result().replies                        # [(t, seq, rtt_ms)]

Every time is Unix time (``time.time()``), so series from different monitors (and ping's
``-D`` stamps) share one clock. The monitors read the kernel over netlink from a thread,
with a socket opened inside the node's namespace (testbed.kernel.qdisc_stats and
sockdiag): no process per sample, which matters in an emulated guest. A sample that
comes late (a busy machine) is taken late and stamped when it was taken; none is invented.
"""
from __future__ import annotations

import math
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from testbed.errors import UsageError
from testbed.kernel import qdisc_stats, sockdiag
from testbed.run.traffic import PingStats, TrafficError, _release, address_of, parse_ping

DEFAULT_PERIOD = 0.1


def _inside(node: Any, fn: Callable, *args: Any) -> Any:
    """Run ``fn(*args)`` in the node's namespace (testbed node handles)."""
    return node.net.worker.run_inside(node.netns, fn, *args)


class _Sampler:
    """A thread that calls ``sample()`` every ``period`` seconds until stopped."""

    def __init__(self, period: float, name: str):
        if not period > 0:
            raise UsageError(f"{name}: period must be positive, not {period!r}")
        self.period, self.name = period, name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.late = 0                       # samples taken more than one period late

    def sample(self) -> None:               # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def start(self):
        self.sample()                       # the first one here: a bad setting fails at once
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        due = time.monotonic() + self.period
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            try:
                self.sample()
            except BaseException as exc:     # kept and raised by stop(): a series with a hole is no series
                self.error = exc
                return
            due += self.period
            now = time.monotonic()
            if now > due + self.period:
                self.late += 1
                due = now

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10 + 5 * self.period)
            self._thread = None
        self._close()
        if self.error is not None:
            raise TrafficError(f"{self.name}: sampling failed: {type(self.error).__name__}: {self.error}")

    def _close(self) -> None:
        pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# ------------------------------------------------------------------ queues

def read_qdiscs(node: Any, intf: str) -> list[qdisc_stats.QdiscStats]:
    """The qdiscs on a node's interface now, with their counters (one netlink dump)."""
    sock = _inside(node, qdisc_stats.open_socket)
    try:
        try:
            index = _inside(node, socket.if_nametoindex, intf)
        except OSError:
            raise UsageError(f"{node.name} has no interface {intf!r}") from None
        return qdisc_stats.dump(sock, index)
    finally:
        sock.close()


@dataclass(frozen=True)
class QueueSample:
    t: float
    qlen: int                 # packets waiting
    backlog: int              # bytes waiting
    drops: int                # cumulative
    marked: int | None        # cumulative ECN marks (RED queues)
    sent_bytes: int           # cumulative bytes that left the queue


class QueueMonitor(_Sampler):
    """Samples one qdisc on a node's interface: by default the link's queue, handle "10:"
    (the pfifo or RED queue testbed's shaping puts under the rate limiter)."""

    def __init__(self, node: Any, intf: str, handle: str = "10:", period: float = DEFAULT_PERIOD):
        super().__init__(period, f"queue {node.name}/{intf} {handle}")
        self.node, self.intf, self.handle = node, intf, handle
        self.samples: list[QueueSample] = []
        self._sock: socket.socket | None = None
        self._ifindex = 0
        self.kind = ""

    def start(self) -> "QueueMonitor":
        self._sock = _inside(self.node, qdisc_stats.open_socket)
        try:
            self._ifindex = _inside(self.node, socket.if_nametoindex, self.intf)
        except OSError:
            self._close()
            raise UsageError(f"{self.node.name} has no interface {self.intf!r}") from None
        try:
            return super().start()
        except BaseException:
            self._close()
            raise

    def read(self) -> qdisc_stats.QdiscStats:
        assert self._sock is not None
        found = qdisc_stats.dump(self._sock, self._ifindex)
        for q in found:
            if q.handle == self.handle:
                return q
        shown = ", ".join(f"{q.kind} {q.handle}" for q in found) or "none"
        raise UsageError(f"{self.node.name}/{self.intf} has no qdisc {self.handle} (it has: {shown}); "
                         "is the link shaped (bw) in this direction?")

    def sample(self) -> None:
        q = self.read()
        self.kind = q.kind
        self.samples.append(QueueSample(time.time(), q.qlen, q.backlog, q.drops, q.marked, q.bytes))

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def series(self, t0: float | None = None) -> dict[str, list]:
        """Columns for results: time since ``t0`` (default: the first sample), qlen, backlog."""
        base = self.samples[0].t if t0 is None and self.samples else (t0 or 0.0)
        return {"t": [round(s.t - base, 3) for s in self.samples], "qlen": [s.qlen for s in self.samples],
                "backlog": [s.backlog for s in self.samples]}


# ------------------------------------------------------------------ TCP flows

@dataclass(frozen=True)
class TcpSample:
    t: float
    cwnd: int | None                # segments
    ssthresh: int | None            # segments (a huge number before the first loss)
    rtt_ms: float | None            # smoothed RTT
    bytes_acked: int | None
    retrans: int | None             # total retransmitted segments
    delivered_ce: int | None        # segments delivered with CE marks (ECN)
    data_segs_out: int | None = None    # data segments sent, retransmissions included
    unacked: int | None = None      # segments in flight (sent, not yet acknowledged)
    notsent_bytes: int | None = None    # written by the application, not sent yet
    snd_wnd: int | None = None      # bytes: the window the receiver last offered


@dataclass
class TcpFlow:
    """One TCP connection seen by a TcpMonitor: its samples and the last tcp_info."""

    key: str                        # "10.0.0.1:40000->10.0.0.2:5201"
    samples: list[TcpSample] = field(default_factory=list)
    last: sockdiag.TcpSocket | None = None

    @property
    def congestion(self) -> str | None:
        return self.last.congestion if self.last else None

    @property
    def bytes_acked(self) -> int:
        return (self.last.info.get("bytes_acked") or 0) if self.last else 0

    def series(self, t0: float | None = None) -> dict[str, list]:
        base = self.samples[0].t if t0 is None and self.samples else (t0 or 0.0)
        return {"t": [round(s.t - base, 3) for s in self.samples], "cwnd": [s.cwnd for s in self.samples],
                "rtt_ms": [s.rtt_ms for s in self.samples]}


class TcpMonitor(_Sampler):
    """Samples the established TCP sockets of a node (those to ``dport`` / ``dst`` only, if
    given): the same tcp_info ``ss -ti`` shows, every ``period`` seconds."""

    def __init__(self, node: Any, dport: int | None = None, dst: str | None = None,
                 period: float = DEFAULT_PERIOD):
        super().__init__(period, f"tcp {node.name}")
        self.node, self.dport, self.dst = node, dport, dst
        self.flows: dict[str, TcpFlow] = {}
        self._sock: socket.socket | None = None

    def start(self) -> "TcpMonitor":
        self._sock = _inside(self.node, sockdiag.open_socket)
        try:
            return super().start()
        except BaseException:
            self._close()
            raise

    def read(self) -> list[sockdiag.TcpSocket]:
        assert self._sock is not None
        return [s for s in sockdiag.dump(self._sock)
                if (self.dport is None or s.dport == self.dport) and (self.dst is None or s.dst == self.dst)]

    def sample(self) -> None:
        now = time.time()
        for s in self.read():
            key = f"{s.src}:{s.sport}->{s.dst}:{s.dport}"
            flow = self.flows.setdefault(key, TcpFlow(key))
            flow.last = s
            i = s.info
            flow.samples.append(TcpSample(now, s.cwnd, i.get("snd_ssthresh"), s.rtt_ms, i.get("bytes_acked"),
                                          i.get("total_retrans"), i.get("delivered_ce"), i.get("data_segs_out"),
                                          i.get("unacked"), i.get("notsent_bytes"), i.get("snd_wnd")))

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def busiest(self) -> TcpFlow:
        """The flow that had the most bytes acknowledged (iperf3's data stream, not its control one)."""
        if not self.flows:
            raise TrafficError(f"{self.name}: no TCP flow was seen"
                               + (f" to port {self.dport}" if self.dport else ""))
        return max(self.flows.values(), key=lambda f: f.bytes_acked)

    def data_flows(self, min_bytes: int = 100_000) -> list[TcpFlow]:
        """The flows that carried at least ``min_bytes`` (in first-seen order)."""
        return [f for f in self.flows.values() if f.bytes_acked >= min_bytes]


# ------------------------------------------------------------------ ping train

_REPLY = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=(\d+) .*?time=([\d.]+) ms", re.M)


def parse_ping_replies(text: str) -> list[tuple[float, int, float]]:
    """(Unix time, icmp_seq, RTT ms) of every reply line of ``ping -D`` output."""
    return [(float(t), int(seq), float(rtt)) for t, seq, rtt in _REPLY.findall(text)]


@dataclass
class PingTrainResult:
    replies: list[tuple[float, int, float]]
    stats: PingStats

    def series(self, t0: float) -> dict[str, list]:
        return {"t": [round(t - t0, 3) for t, _, _ in self.replies], "rtt_ms": [r for _, _, r in self.replies]}


class PingTrain:
    """``ping -D -i interval`` from a node for ``duration`` seconds, every reply kept with its time."""

    def __init__(self, node: Any, target: Any, interval: float = 0.1, duration: float = 10.0, wait: float = 5.0):
        if duration < 1 or interval <= 0:
            raise UsageError(f"ping train: duration {duration} s (at least 1) and interval {interval} s (> 0)")
        self.node, self.target = node, target
        self.interval, self.duration, self.wait = interval, duration, wait
        self._proc: subprocess.Popen | None = None
        self.started = 0.0

    def argv(self) -> list[str]:
        count = int(self.duration / self.interval)
        return ["ping", "-D", "-n", "-i", f"{self.interval:g}", "-c", str(count), "-W", f"{self.wait:g}",
                "-w", str(math.ceil(self.duration + self.wait)), address_of(self.target, self.node)]

    def start(self) -> "PingTrain":
        self.started = time.time()
        self._proc = self.node.popen(self.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        return self

    def result(self) -> PingTrainResult:
        """Wait for ping to finish (its -w deadline) and read every reply."""
        proc, self._proc = self._proc, None
        if proc is None:
            raise UsageError("PingTrain.result() before start()")
        try:
            out, _ = proc.communicate(timeout=self.duration + self.wait + 30)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)               # ping prints what it has on SIGINT
            out, _ = proc.communicate(timeout=10)
        finally:
            _release(self.node, proc)
        return PingTrainResult(parse_ping_replies(out), parse_ping(out))

    def stop(self) -> None:
        """Stop a train that is still running (by PID), discarding its output."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
        if proc is not None:
            _release(self.node, proc)
