"""traffic.py's process handling and reports, with a stand-in node that runs commands
on this machine (loopback, no namespaces, no root): iperf3 servers start, are waited for,
stopped by PID and forgotten; summaries and argument lists have the documented form."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from typing import Any

import pytest

from testbed.run import traffic
from testbed.model.plan import Plan
from testbed.run.traffic import Flow, IperfResult, PingStats, TrafficError, format_bps, parse_iperf3

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")


class FakeNet:
    """What traffic.py asks of a testbed network: the plan and _forget(pid)."""

    def __init__(self, plan: Any = None):
        self.plan = plan
        self.forgotten: list[int] = []

    def _forget(self, pid: int) -> None:
        self.forgotten.append(pid)


class LocalNode:
    """A node handle whose commands run here, on loopback."""

    def __init__(self, name: str, ip: str | None = "127.0.0.1", net: FakeNet | None = None):
        self.name, self._ip, self.net = name, ip, net or FakeNet()
        self.started: list[subprocess.Popen] = []

    @property
    def ip(self) -> str | None:
        return self._ip

    def run(self, command: Any, **kwargs: Any) -> subprocess.CompletedProcess:
        return subprocess.run(command, capture_output=True, text=True, **kwargs)

    def popen(self, command: Any, **kwargs: Any) -> subprocess.Popen:
        proc = subprocess.Popen(command, **kwargs)
        self.started.append(proc)
        return proc

    def counters(self) -> dict[str, dict[str, int]]:
        return {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fixture(name: str) -> str:
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


needs_iperf3 = pytest.mark.skipif(any(shutil.which(t) is None for t in ("iperf3", "ss")),
                                  reason="needs iperf3 and ss")


@needs_iperf3
@pytest.mark.timeout(60)
def test_flow_on_loopback_stops_and_forgets_its_processes():
    server, client = LocalNode("srv"), LocalNode("cli")
    result = traffic.iperf3(client, server, duration=1, interval=0.25, port=free_port())
    assert result.protocol == "TCP" and result.mbps > 1 and result.mss
    (srv_proc,), (cli_proc,) = server.started, client.started
    assert srv_proc.poll() is not None and cli_proc.poll() is not None
    assert server.net.forgotten == [srv_proc.pid] and client.net.forgotten == [cli_proc.pid]


@needs_iperf3
@pytest.mark.timeout(60)
def test_udp_reverse_flow_on_loopback():
    server, client = LocalNode("srv"), LocalNode("cli")
    result = traffic.iperf3(client, server, duration=1, udp=True, bitrate="2M", reverse=True,
                            port=free_port())
    assert result.protocol == "UDP" and result.packets > 10 and result.jitter_ms is not None
    assert "UDP cli -> srv" in result.summary("cli", "srv")


@needs_iperf3
@pytest.mark.timeout(30)
def test_a_server_that_cannot_listen_is_reported_and_stopped():
    port = free_port()
    holder = socket.socket()
    holder.bind(("0.0.0.0", port))         # bound, not listening: iperf3 cannot take the port
    try:
        server = LocalNode("srv")
        with pytest.raises(TrafficError, match="exited .* before listening"):
            Flow(LocalNode("cli"), server, port=port).start()
        assert server.started[0].poll() is not None and server.net.forgotten == [server.started[0].pid]
    finally:
        holder.close()


@needs_iperf3
@pytest.mark.timeout(30)
def test_interrupted_flow_kills_client_and_server():
    server, client = LocalNode("srv"), LocalNode("cli")
    flow = Flow(client, server, duration=30, port=free_port()).start()
    time.sleep(0.5)
    flow._client.send_signal(2)             # what Ctrl-C does to the client's process group
    with pytest.raises(TrafficError):
        flow.result()
    assert all(p.poll() is not None for p in server.started + client.started)
    assert len(server.net.forgotten) == 1 and len(client.net.forgotten) == 1


def test_result_before_start_is_a_usage_error():
    from testbed.errors import UsageError
    with pytest.raises(UsageError, match="before Flow.start"):
        Flow(LocalNode("a"), LocalNode("b")).result()


def test_durations_below_one_second_are_refused():
    from testbed.errors import UsageError
    with pytest.raises(UsageError, match="at least 1 second"):
        Flow(LocalNode("a"), LocalNode("b"), duration=0.5).client_argv()


def test_client_argv_options():
    flow = Flow(LocalNode("a"), LocalNode("b", ip="10.0.0.2"), duration=3, udp=True, bitrate="10M",
                port=5202, omit=0.5, reverse=True, extra=["-l", "1200"])
    assert flow.client_argv() == ["iperf3", "-c", "10.0.0.2", "-p", "5202", "-J", "-t", "3", "-i", "0.5",
                                  "-P", "1", "-u", "-b", "10M", "-O", "0.5", "-R", "-l", "1200"]


def test_address_of_prefers_a_subnet_shared_with_the_source():
    from testbed.planning.pipeline import plan
    import networkx as nx
    g = nx.Graph()
    for n in ("h1", "h2"):
        g.add_node(n, kind="host")
    g.add_node("r1", kind="router")
    g.add_edge("h1", "r1")
    g.add_edge("h2", "r1")
    p: Plan = plan(g)
    net = FakeNet(p)
    r1_first = p.node("r1").addresses[0].split("/")[0]
    h1, h2, r1 = LocalNode("h1", net=net), LocalNode("h2", net=net), LocalNode("r1", ip=r1_first, net=net)
    seen_from_h2 = traffic.address_of(r1, h2)
    assert seen_from_h2 != r1_first and seen_from_h2 in [a.split("/")[0] for a in p.node("r1").addresses]
    assert traffic.address_of(r1, h1) == r1_first and traffic.address_of(r1) == r1_first
    assert traffic.address_of("10.9.9.9", h1) == "10.9.9.9"


def test_tcp_summary_and_expected_goodput():
    result = parse_iperf3(fixture("iperf3_tcp.json"))
    assert result.mss == 1448
    assert result.efficiency == pytest.approx(1448 / 1514)
    assert result.expected_mbps(100) == pytest.approx(100 * 1448 / 1514)
    text = result.summary("h1", "h2")
    assert text.startswith("iperf3 TCP h1 -> h2: 9522.633 Mbit/s received over 2")
    assert "745 retransmits, MSS 1448; frames on the wire" in text
    assert float(text.split("received")[0].split(":")[1].split()[0]) == pytest.approx(result.mbps, abs=1e-3)


def test_ping_summary_and_exact_loss():
    stats = PingStats(200, 139, 30.0, rtt_min=0.01, rtt_avg=0.02, rtt_max=0.05, rtt_mdev=0.004)
    assert stats.loss_fraction == pytest.approx(61 / 200)
    assert stats.summary("h1", "h2") == ("ping h1 -> h2: 200 sent, 139 received, 30.50% loss; "
                                         "rtt min/avg/max/mdev 0.010/0.020/0.050/0.004 ms")
    assert PingStats(0, 0, 100.0, error="Network is unreachable").summary("a", "b") == \
        "ping a -> b: 0 sent, 0 received, 100.00% loss (Network is unreachable)"


def test_loss_bound_is_four_binomial_sigmas():
    assert traffic.loss_bound(0.19, 2000) == pytest.approx(4 * (0.19 * 0.81 / 2000) ** 0.5)
    assert traffic.loss_bound(0.0, 500) == 0.0


@pytest.mark.parametrize("bps, text", [(9.52e9, "9.52 Gbits/sec"), (10e6, "10 Mbits/sec"),
                                       (999.4e3, "999 Kbits/sec"), (12, "12 bits/sec")])
def test_format_bps(bps, text):
    assert format_bps(bps) == text


@pytest.mark.skipif(shutil.which("ping") is None, reason="needs iputils ping")
@pytest.mark.timeout(30)
def test_ping_warm_up_on_loopback():
    node = LocalNode("h1")
    assert traffic.warm_up(node, "127.0.0.1", 2.0)
    stats = traffic.ping(node, node, count=2, interval=0.2, warmup=2.0)
    assert (stats.transmitted, stats.received) == (2, 2)


class RecordingNode(LocalNode):
    """Keeps the last command it ran."""

    def run(self, command: Any, **kwargs: Any) -> subprocess.CompletedProcess:
        self.argv = list(command)
        return super().run(command, **kwargs)


@pytest.mark.skipif(any(shutil.which(t) is None for t in ("ping", "taskset")), reason="needs ping and taskset")
@pytest.mark.timeout(30)
def test_ping_pinned_to_one_cpu_runs_there():
    cpu = max(os.sched_getaffinity(0))
    node = RecordingNode("h1")
    stats = traffic.ping(node, node, count=2, interval=0.2, cpu=cpu)
    assert (stats.transmitted, stats.received) == (2, 2)
    prefix = node.argv[:node.argv.index("ping")]
    probe = node.run([*prefix, "grep", "Cpus_allowed_list", "/proc/self/status"])    # what ping ran under
    assert probe.stdout.split() == ["Cpus_allowed_list:", str(cpu)], probe.stdout


def test_iperf_result_as_dict_has_mss():
    assert IperfResult("TCP", 1.0, 10, 80.0, 80.0, mss=1448).as_dict()["mss"] == 1448


class ScriptNode(LocalNode):
    """Runs a shell script in place of the command it is given (a stand-in for tcpdump)."""

    def __init__(self, script: str):
        super().__init__("h1")
        self.script = script

    def popen(self, command: Any, **kwargs: Any) -> subprocess.Popen:
        return super().popen(["sh", "-c", self.script], **kwargs)


def test_a_capture_that_says_it_listens_has_started_however_late(monkeypatch, tmp_path):
    # on a loaded machine the "listening on" line may come after the start timeout: it still started
    monkeypatch.setattr(traffic, "require_tools", lambda *tools: None)
    node = ScriptNode("echo 'listening on h1-eth0, link-type EN10MB' >&2; exec sleep 30")
    capture = traffic.Capture(node, "h1-eth0", str(tmp_path / "x.pcap"), start_timeout=0)
    assert capture.start() is capture and capture.proc.poll() is None
    capture.stop(settle=0)
    assert node.started[0].returncode is not None                      # stopped by its PID
    failing = traffic.Capture(ScriptNode("echo 'tcpdump: h1-eth0: No such device' >&2; exit 1"),
                              "h1-eth0", str(tmp_path / "y.pcap"))
    with pytest.raises(TrafficError, match="did not start within 30 s: tcpdump: h1-eth0: No such device"):
        failing.start()
