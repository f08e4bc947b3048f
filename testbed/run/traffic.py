"""Traffic between the nodes of a running network: ping, iperf3, counters, packet capture.

    stats = ping(net["h1"], "h2", count=5)                 # PingStats: loss %, RTT min/avg/max/mdev
    flow = iperf3(net["h1"], net["h2"], duration=2)        # IperfResult: Mbit/s, retransmits, series
    both = concurrent([Flow(net["h1"], net["h2"]), Flow(net["h3"], net["h4"], port=5202)])
    with counting([net["h3"]]) as window:                  # counters before/after (netlink)
        ...
    window.delta["h3"]["h3-eth0"]["rx_packets"]
    with Capture(net["h3"], "h3-eth0", "/tmp/h3.pcap") as cap:   # tcpdump, stopped by PID
        ...
    cap.count(unicast_only=True)

Parsers (parse_ping, parse_iperf3) read the output of iputils ping and of ``iperf3 -J``
and need no network. Anything a node handle offers (``run``, ``popen``, ``counters``,
``ip``, ``name``) is all these helpers use; with testbed's own node handles the target
address is the one on a subnet shared with the sender, when there is one.

This module is the one place that runs ping and iperf3: experiments, the ``testbed>``
shell (iperf, iperfudp) and ``testbed run --test ping|iperf`` all go through it.
iperf3 servers are started with popen (one test, ``-s -1``), waited for until their port
listens, and stopped by PID whatever happens; nothing outside the run is signalled.
"""
from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Protocol, Sequence

from testbed.planning.reach import target_address
from testbed.run import pcap
from testbed.errors import CommandFailed, UsageError
from testbed.kernel import procs
from testbed.tools import require_tools

IPERF3_PORT = 5201
SERVER_READY_TIMEOUT = 5.0
FRAME_HEADERS = 14 + 20 + 20 + 12      # Ethernet, IPv4, TCP and its timestamp option, per segment


class TrafficNode(Protocol):
    name: str

    @property
    def ip(self) -> str | None: ...

    def run(self, command: Any, **kwargs: Any) -> subprocess.CompletedProcess: ...

    def popen(self, command: Any, **kwargs: Any) -> subprocess.Popen: ...

    def counters(self) -> dict[str, dict[str, int]]: ...


class TrafficError(CommandFailed):
    """A traffic tool failed or printed something that cannot be read."""


def address_of(target: "TrafficNode | str", source: "TrafficNode | None" = None, family: int | None = None) -> str:
    """An IP address for a node handle or a literal address.

    With a ``source`` and testbed node handles (which know their network's plan), the
    target's address on a subnet shared with the source, else its first address; of
    ``family`` (4 or 6) only, when one is given.
    """
    if isinstance(target, str):
        return target
    net = getattr(target, "net", None)
    plan = getattr(net, "live_plan", None) or getattr(net, "plan", None)
    if source is not None and plan is not None:
        address = target_address(plan, source.name, target.name, family)
        if address:
            return address
        if family is not None:
            raise UsageError(f"{source.name!r} and {target.name!r} do not both have IPv{family} addresses")
    address = target.ip if family != 6 else getattr(target, "ip6", None)
    if not address or (family == 4 and ":" in address):
        raise UsageError(f"node {target.name!r} has no {f'IPv{family} ' if family else ''}address to send traffic to")
    return address


def _release(node: TrafficNode, proc: subprocess.Popen) -> None:
    """Tell the node's network that a process it journaled is gone (testbed node handles)."""
    forget = getattr(getattr(node, "net", None), "_forget", None)
    if forget is not None:
        forget(proc.pid)


def stop(node: TrafficNode, proc: subprocess.Popen, grace: float = 2.0) -> str:
    """Wait ``grace`` s for the process to end, then SIGTERM (SIGKILL) it by PID; its stderr."""
    try:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            procs.end_child(proc)
        err = proc.stderr.read() if proc.stderr is not None else ""
        return err.decode(errors="replace") if isinstance(err, bytes) else (err or "")
    finally:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        _release(node, proc)


# ------------------------------------------------------------------ ping

_SUMMARY = re.compile(r"^(\d+) packets transmitted, (\d+) (?:packets )?received(.*)$", re.M)
_LOSS = re.compile(r"([\d.]+)% packet loss")
_ERRORS = re.compile(r"\+(\d+) errors")
_DUPLICATES = re.compile(r"\+(\d+) duplicates")
_CONNECT_ERROR = re.compile(r"^ping: (?:connect|sendmsg): (.*)$", re.M)
_RTT = re.compile(r"(?:rtt|round-trip) min/avg/max/(?:mdev|stddev) = "
                  r"([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms")


@dataclass
class PingStats:
    """What iputils ping reports at the end; RTTs in ms, None when nothing came back."""

    transmitted: int
    received: int
    loss_percent: float
    errors: int = 0
    duplicates: int = 0
    rtt_min: float | None = None
    rtt_avg: float | None = None
    rtt_max: float | None = None
    rtt_mdev: float | None = None
    error: str | None = None               # why nothing was sent, if so

    def as_dict(self, prefix: str = "") -> dict[str, Any]:
        return {prefix + k: v for k, v in asdict(self).items()}

    @property
    def loss_fraction(self) -> float:
        """Lost probes over sent ones, exact (iputils rounds its percentage); 1.0 if none sent."""
        return 1.0 if not self.transmitted else (self.transmitted - self.received) / self.transmitted

    def summary(self, src: str, dst: str) -> str:
        """'ping h1 -> h2: 20 sent, 20 received, 0.00% loss; rtt min/avg/max/mdev a/b/c/d ms'."""
        text = (f"ping {src} -> {dst}: {self.transmitted} sent, {self.received} received, "
                f"{100 * self.loss_fraction:.2f}% loss")
        if self.rtt_avg is not None:
            text += (f"; rtt min/avg/max/mdev {self.rtt_min:.3f}/{self.rtt_avg:.3f}/"
                     f"{self.rtt_max:.3f}/{self.rtt_mdev:.3f} ms")
        if self.error:
            text += f" ({self.error})"
        return text


def parse_ping(text: str) -> PingStats:
    """Read the statistics lines of iputils ping output."""
    summary = _SUMMARY.search(text)
    refused = _CONNECT_ERROR.search(text)
    if summary is None and refused is not None:     # nothing sent: no route, unreachable network
        return PingStats(0, 0, 100.0, error=refused.group(1).strip())
    if summary is None:
        first = text.strip().splitlines()[0] if text.strip() else "no output"
        raise TrafficError(f"ping printed no statistics ({first!r}); is the target address valid?")
    rest = summary.group(3)
    loss = _LOSS.search(rest)
    errors, duplicates = _ERRORS.search(rest), _DUPLICATES.search(rest)
    stats = PingStats(int(summary.group(1)), int(summary.group(2)), float(loss.group(1)) if loss else 100.0,
                      int(errors.group(1)) if errors else 0, int(duplicates.group(1)) if duplicates else 0)
    rtt = _RTT.search(text)
    if rtt is not None:
        stats.rtt_min, stats.rtt_avg, stats.rtt_max, stats.rtt_mdev = (float(x) for x in rtt.groups())
    return stats


def ping(node: TrafficNode, target: "TrafficNode | str", *, count: int = 5, interval: float = 0.2,
         wait: float = 1.0, size: int | None = None, warmup: float = 0.0, family: int | None = None,
         cpu: int | None = None) -> PingStats:
    """Ping from ``node`` to a node or address, ``count`` probes ``interval`` s apart; over
    ``family`` (4 or 6) when given, else to the address a node would pick (IPv4 first).

    With ``cpu``, ping runs on that CPU only (taskset). A veth carries a packet in the
    sender's softirq, on the sender's CPU, so two pings pinned to one CPU see that CPU's
    moments alike: compare paths that way, not from pings on different CPUs (on a virtual
    machine one CPU can be held up while the other runs).

    With ``warmup`` > 0, uncounted single pings go first until one comes back (for at most
    ``warmup`` s), so that ARP has resolved the neighbour: on a lossy link ARP itself loses
    frames, and the probes queued behind a failed resolution would be counted as link loss.
    """
    require_tools("ping", *(("taskset",) if cpu is not None else ()))
    address = address_of(target, node, family)
    if warmup > 0:
        warm_up(node, address, warmup)
    argv = ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", str(wait)]
    if cpu is not None:
        argv = ["taskset", "--cpu-list", str(cpu), *argv]
    if size is not None:
        argv += ["-s", str(size)]
    argv.append(address)
    # ping ends by itself; the timeout only guards against a hang. A busy machine (or an
    # emulated guest) stretches every interval, so it allows three times the schedule.
    result = node.run(argv, timeout=3 * (count * interval + wait) + 30)
    return parse_ping(result.stdout + result.stderr)


def warm_up(node: TrafficNode, address: str, limit: float, wait: float = 0.2) -> bool:
    """Single pings from ``node`` until one is answered or ``limit`` s pass; answered?"""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if node.run(["ping", "-n", "-c", "1", "-W", str(wait), address], timeout=wait + 10).returncode == 0:
            return True
    return False


def loss_bound(p: float, n: int, sigmas: float = 4.0) -> float:
    """Half-width of a ``sigmas``-sigma binomial interval of a loss fraction ``p`` over n trials."""
    return sigmas * math.sqrt(p * (1 - p) / n)


# ------------------------------------------------------------------ iperf3

@dataclass
class Interval:
    start: float
    end: float
    bits_per_second: float
    retransmits: int | None = None
    packets: int | None = None


@dataclass
class IperfResult:
    """One iperf3 test, read from its JSON: rates in bit/s, as seen by the receiver."""

    protocol: str                          # "TCP" or "UDP"
    seconds: float
    bytes: int
    bits_per_second: float                 # received rate (TCP: sum_received; UDP: sum)
    sent_bits_per_second: float
    retransmits: int | None = None         # TCP only
    jitter_ms: float | None = None         # UDP only
    lost_packets: int | None = None
    packets: int | None = None
    lost_percent: float | None = None
    intervals: list[Interval] = field(default_factory=list)
    mss: int | None = None                 # TCP only: the sender's maximum segment size

    @property
    def mbps(self) -> float:
        return self.bits_per_second / 1e6

    @property
    def efficiency(self) -> float:
        """TCP goodput per bit of frames on the wire: mss / (mss + headers)."""
        mss = self.mss or 1448
        return mss / (mss + FRAME_HEADERS)

    def expected_mbps(self, bw_mbps: float) -> float:
        """The TCP goodput a link of ``bw_mbps`` (counted in whole frames, as tc does) should give."""
        return bw_mbps * self.efficiency

    def summary(self, src: str, dst: str) -> str:
        """One line for people: rate received, sent, and TCP retransmits or UDP loss and jitter."""
        if self.protocol == "UDP":
            return (f"iperf3 UDP {src} -> {dst}: {self.mbps:.3f} Mbit/s received over {self.seconds:.3g} s "
                    f"(sent {self.sent_bits_per_second / 1e6:.3f}, {self.lost_percent or 0:.2f}% lost, "
                    f"jitter {self.jitter_ms or 0:.3f} ms)")
        return (f"iperf3 TCP {src} -> {dst}: {self.mbps:.3f} Mbit/s received over {self.seconds:.3g} s "
                f"(sent {self.sent_bits_per_second / 1e6:.3f}, {self.retransmits or 0} retransmits, "
                f"MSS {self.mss or 1448}; frames on the wire {self.mbps / self.efficiency:.3f} Mbit/s)")

    def as_dict(self, prefix: str = "", series: bool = False) -> dict[str, Any]:
        """Scalar fields (and the per-interval series, if asked) with an optional key prefix."""
        data = {k: v for k, v in asdict(self).items() if k != "intervals"}
        data["mbps"] = self.mbps
        if series:
            data["intervals"] = [asdict(i) for i in self.intervals]
        return {prefix + k: v for k, v in data.items()}


def format_bps(bps: float) -> str:
    """10_000_000 -> '10 Mbits/sec' (iperf's units, three significant digits)."""
    for unit, scale in (("Gbits/sec", 1e9), ("Mbits/sec", 1e6), ("Kbits/sec", 1e3)):
        if bps >= scale:
            return f"{bps / scale:.3g} {unit}"
    return f"{bps:.0f} bits/sec"


def parse_iperf3(text: str) -> IperfResult:
    """Read the output of ``iperf3 -c ... -J`` (client side, TCP or UDP)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrafficError(f"iperf3 printed no JSON ({exc}); first bytes: {text[:120]!r}") from None
    if data.get("error"):
        raise TrafficError(f"iperf3: {data['error']}")
    start, end = data.get("start", {}), data.get("end", {})
    protocol = start.get("test_start", {}).get("protocol", "TCP")
    intervals = [Interval(i["sum"]["start"], i["sum"]["end"], i["sum"]["bits_per_second"],
                          i["sum"].get("retransmits"), i["sum"].get("packets"))
                 for i in data.get("intervals", []) if not i["sum"].get("omitted")]
    try:
        if protocol == "UDP":
            total = end["sum"]
            sent = end.get("sum_sent", total)
            received = end.get("sum_received", total)
            return IperfResult("UDP", received["seconds"], received["bytes"], received["bits_per_second"],
                               sent["bits_per_second"], jitter_ms=total.get("jitter_ms"),
                               lost_packets=total.get("lost_packets"), packets=total.get("packets"),
                               lost_percent=total.get("lost_percent"), intervals=intervals)
        sent, received = end["sum_sent"], end["sum_received"]
    except KeyError as exc:
        raise TrafficError(f"iperf3 JSON has no end.{exc.args[0]}: the test did not finish") from None
    mss = start.get("tcp_mss_default") or start.get("tcp_mss")
    return IperfResult("TCP", received["seconds"], received["bytes"], received["bits_per_second"],
                       sent["bits_per_second"], retransmits=sent.get("retransmits"), intervals=intervals,
                       mss=int(mss) if mss else None)


def wait_listening(node: TrafficNode, port: int, timeout: float = SERVER_READY_TIMEOUT,
                   proc: subprocess.Popen | None = None) -> None:
    """Wait until something in ``node`` listens on TCP ``port`` (or ``proc``, its server, exits)."""
    deadline = time.monotonic() + timeout
    while True:
        out = node.run(["ss", "-Hltn", f"sport = :{port}"], timeout=5).stdout
        if out.strip():
            return
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr is not None else ""
            err = err.decode(errors="replace") if isinstance(err, bytes) else (err or "")
            raise TrafficError(f"{node.name}: the server for port {port} exited {proc.returncode} "
                               f"before listening: {' '.join(err.split())[:200] or 'no output'}")
        if time.monotonic() > deadline:
            raise TrafficError(f"{node.name}: nothing listens on TCP port {port} after {timeout} s "
                               "(did its server start?)")
        time.sleep(0.05)


# iperf3 sizes UDP datagrams by the control connection's MSS (up to 32 kB on loopback);
# a fixed Ethernet-sized payload makes packet counts the same on every interface.
UDP_LENGTH = 1448


@dataclass
class Flow:
    """An iperf3 test from ``client`` to ``server``; start() it, then result()."""

    client: TrafficNode
    server: TrafficNode
    duration: float = 2.0
    udp: bool = False
    bitrate: str | None = None             # e.g. "20M"; iperf3's default is 1M for UDP
    port: int = IPERF3_PORT
    interval: float = 0.5
    streams: int = 1
    extra: Sequence[str] = ()
    reverse: bool = False                  # the server sends (iperf3 -R)
    omit: float = 0.0                      # seconds of slow start left out of the result (-O)
    length: int | None = None              # bytes per write / UDP datagram (-l); UDP default UDP_LENGTH
    family: int | None = None              # 4 or 6: the server's address of that family (None: as address_of picks)
    _server: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _client: subprocess.Popen | None = field(default=None, init=False, repr=False)

    def client_argv(self) -> list[str]:
        if self.duration < 1:           # iperf3 reads whole seconds, and -t 0 means "forever"
            raise UsageError(f"iperf3 duration {self.duration:g} s: give at least 1 second")
        argv = ["iperf3", "-c", address_of(self.server, self.client, self.family), "-p", str(self.port), "-J",
                "-t", f"{self.duration:g}", "-i", f"{self.interval:g}", "-P", str(self.streams)]
        if self.udp:
            argv.append("-u")
        if self.bitrate:
            argv += ["-b", self.bitrate]
        if self.omit:
            argv += ["-O", f"{self.omit:g}"]
        if self.reverse:
            argv.append("-R")
        length = self.length or (UDP_LENGTH if self.udp and not {"-l", "--length"} & set(self.extra) else None)
        if length:
            argv += ["-l", str(length)]
        return argv + list(self.extra)

    def start_server(self) -> None:
        """Start ``iperf3 -s -1`` in the server node and wait until its port listens."""
        require_tools("iperf3", "ss")
        self._server = self.server.popen(["iperf3", "-s", "-1", "-p", str(self.port)], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_listening(self.server, self.port, proc=self._server)
        except BaseException:
            self._stop_server()
            raise

    def start_client(self) -> None:
        self._client = self.client.popen(self.client_argv(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)

    def start(self) -> "Flow":
        self.start_server()
        try:
            self.start_client()
        except BaseException:
            self._stop_server()
            raise
        return self

    def result(self) -> IperfResult:
        """Wait for the client (stopped by PID if interrupted) and read its report."""
        client, self._client = self._client, None
        if client is None:
            raise UsageError("Flow.result() before Flow.start()")
        try:
            out, err = client.communicate(timeout=self.duration + self.omit + 30)
        except BaseException:
            client.kill()
            client.communicate()
            raise
        finally:
            _release(self.client, client)
            self._stop_server()
        if not out.strip():
            raise TrafficError(f"iperf3 {self.client.name} -> {self.server.name} exited "
                               f"{client.returncode} without output: {err.strip()[:200]}")
        return parse_iperf3(out)

    def stop(self) -> None:
        """Stop whatever of this flow still runs (client, server), by PID."""
        client, self._client = self._client, None
        if client is not None:
            stop(self.client, client, grace=0)
        self._stop_server()

    def _stop_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            stop(self.server, server)


def iperf3(client: TrafficNode, server: TrafficNode, **options: Any) -> IperfResult:
    """One iperf3 test from client to server (options as for Flow); blocks for its duration."""
    return Flow(client, server, **options).start().result()


def concurrent(flows: Sequence[Flow]) -> list[IperfResult]:
    """Run several flows at once: every server first, then every client, then collect."""
    ports = [(id(f.server), f.port) for f in flows]
    if len(set(ports)) != len(ports):
        raise UsageError("concurrent flows to the same server need different ports (Flow(port=...))")
    try:
        for flow in flows:
            flow.start_server()
        for flow in flows:
            flow.start_client()
        return [flow.result() for flow in flows]
    finally:
        for flow in flows:
            flow.stop()


# ------------------------------------------------------------------ counters

def counter_delta(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """after - before for every interface present in both (the "up" flag is not a counter)."""
    return {ifname: {k: v - before[ifname].get(k, 0) for k, v in after[ifname].items() if k != "up"}
            for ifname in after if ifname in before}


@dataclass
class CounterWindow:
    """Interface counters of some nodes at the start and end of a window."""

    nodes: Sequence[TrafficNode]
    before: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    after: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    def open(self) -> None:
        self.before = {n.name: n.counters() for n in self.nodes}

    def close(self) -> None:
        self.after = {n.name: n.counters() for n in self.nodes}

    @property
    def delta(self) -> dict[str, dict[str, dict[str, int]]]:
        """node -> interface -> counter -> change over the window."""
        return {name: counter_delta(self.before[name], self.after[name]) for name in self.after}


@contextmanager
def counting(nodes: Sequence[TrafficNode]) -> Iterator[CounterWindow]:
    """Read the nodes' interface counters before and after the block."""
    window = CounterWindow(list(nodes))
    window.open()
    yield window
    window.close()


# ------------------------------------------------------------------ capture

class Capture:
    """tcpdump on one interface of a node into a pcap file; started by popen, stopped by PID."""

    def __init__(self, node: TrafficNode, intf: str, path: str, bpf: str | None = None,
                 snaplen: int = 96, start_timeout: float = 30.0):
        self.node, self.intf, self.path = node, intf, path
        self.argv = ["tcpdump", "-n", "--immediate-mode", "-i", intf, "-s", str(snaplen), "-U", "-w", path, "-Z", "root"]
        if bpf:
            self.argv.append(bpf)
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self.stderr = ""

    def start(self) -> "Capture":
        require_tools("tcpdump")
        self.proc = self.node.popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + self.start_timeout
        said = ""
        while True:
            line = self.proc.stderr.readline()
            if "listening on" in line:         # tcpdump says so once the socket is bound
                return self
            said += line
            if not line and self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop(settle=0)
                raise TrafficError(f"{self.node.name}: tcpdump on {self.intf} did not start within "
                                   f"{self.start_timeout:g} s: {(said + self.stderr).strip()[:200]}")

    def stop(self, settle: float = 0.2) -> None:
        """After ``settle`` s for frames in flight, send SIGINT to tcpdump's PID and wait for it."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            time.sleep(settle)
            proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        self.stderr += err or ""

    def __enter__(self) -> "Capture":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def count(self, unicast_only: bool = False, exclude_macs: Sequence[str] = ()) -> tuple[int, int]:
        """(frames, bytes on the wire) in the file; optionally only unicast frames, or not to/from some MACs."""
        return pcap.count(self.path, unicast_only=unicast_only, exclude_macs=exclude_macs)
