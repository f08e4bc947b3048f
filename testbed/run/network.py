"""The running network: build it from a graph or Plan, use it, tear it down.

    with Network(graph) as net:
        print(net["h1"].cmd("ping -c1 h2"))
        result = net.pingall()
        net.link_down("h1", "s1")

Commands run inside a node's namespace through ``ip netns exec`` (so /etc/netns files
apply); no shell is kept per host. Processes started with popen() are journaled by PID
and stopped at teardown.
"""
from __future__ import annotations

import errno
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

import networkx as nx

from testbed.concerns import bridge_vlans
from testbed.ovs import deploy as ovs_deploy
from testbed.planning import planner
from testbed.concerns import shaping
from testbed.deploy.build import (Deployment, Progress, if_indexes, netns_name, require_root, signals_blocked,
                            static_neighbours, teardown)
from testbed.errors import CommandFailed, UsageError
from testbed.concerns import services, status
from testbed.deploy.journal import Journal, new_run_id
from testbed.kernel import caps, icmp, linkstate, netlink, nsfs
from testbed.model.plan import Node as NodePlan, Plan
from testbed.kernel.procs import process_start_time, stop_signal
from testbed.planning.reach import Reachability, target_address


ARP_POLICIES = ("auto", "static", "dynamic")
# The kernel keeps at most net.ipv4.neigh.default.gc_thresh3 (1024 by default) neighbour
# entries for all namespaces together and forgets none younger than 5 s, so real ARP
# between more pairs than that at once fails with ENOBUFS. With arp="auto", an all-pairs
# test of more pairs installs permanent entries (exempt from that limit) first.
ARP_DYNAMIC_MAX_PAIRS = 400
OVS_WINDOW = 64                 # probes in flight through Open vSwitch userspace datapaths

LINK_UP_TIMEOUT = 5.0     # seconds for a link brought up to get its carrier


class Node:
    """A handle on one node of a running network."""

    def __init__(self, net: "Network", plan: NodePlan):
        self.net = net
        self.plan = plan
        self.name = plan.name
        self.kind = plan.kind
        self.netns = netns_name(net.run_id, plan.name)
        # An OVS switch's own OVS: ovs-vsctl/ovs-ofctl/ovs-appctl run here reach it, not the system's.
        self.ovs_dir = (ovs_deploy.instance_dir(net.run_id, plan.name)
                        if any(i.kind == "ovs" for i in plan.interfaces) else None)

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name} in netns {self.netns}>"

    @property
    def intfs(self) -> list[str]:
        return [i.name for i in self.plan.interfaces]

    @property
    def ip(self) -> str | None:
        addresses = self.net.live_plan.node(self.name).addresses
        return addresses[0].split("/")[0] if addresses else None

    def _argv(self, command: str | Sequence[str]) -> list[str]:
        args = ["sh", "-c", command] if isinstance(command, str) else list(command)
        return ["ip", "netns", "exec", self.netns, *args]

    def run(self, command: str | Sequence[str], *, timeout: float | None = None, check: bool = False,
            input: str | None = None) -> subprocess.CompletedProcess:
        """Run a command inside the node and wait; a string goes through ``sh -c``."""
        proc = self.popen(command, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            self.net._forget(proc.pid)
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if check and result.returncode != 0:
            raise CommandFailed(f"{self.name}: {command!r} exited {result.returncode}: {err.strip()[:300]}")
        return result

    def cmd(self, command: str | Sequence[str], **kwargs: Any) -> str:
        """Run a command and return its output (stdout then stderr), like Mininet's cmd()."""
        result = self.run(command, **kwargs)
        return result.stdout + result.stderr

    def popen(self, command: str | Sequence[str], **kwargs: Any) -> subprocess.Popen:
        """Start a command inside the node; it is journaled and stopped at teardown."""
        kwargs.setdefault("start_new_session", True)
        if self.ovs_dir is not None:
            env = dict(kwargs.get("env") or os.environ)
            for var in ("OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR"):
                env.setdefault(var, self.ovs_dir)
            kwargs["env"] = env
        return self.net._spawn(self._argv(command), **kwargs)

    def counters(self) -> dict[str, dict[str, int]]:
        """Interface counters of this node, from netlink."""
        return self.net.worker.run_inside(self.netns, linkstate.counters)

    def set_link_state(self, intf: str, up: bool) -> None:
        self.net.worker.run_inside(self.netns, linkstate.set_up, [intf], up)


@dataclass
class PairResult:
    src: str
    dst: str
    dst_ip: str | None
    sent: int
    received: int
    expected: bool | None                  # None: depends on traffic order (see Reachability)
    rtt_ms: float | None = None

    @property
    def loss(self) -> float:
        return 100.0 if self.sent == 0 else 100.0 * (self.sent - self.received) / self.sent

    @property
    def ok(self) -> bool:
        """Expected pairs lose nothing; pairs that should not connect get nothing through."""
        if self.expected is None:
            return True
        return self.loss == 0.0 if self.expected else self.received == 0


@dataclass
class PingallResult:
    hosts: list[str]
    pairs: list[PairResult]

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.pairs)

    @property
    def failures(self) -> list[PairResult]:
        return [p for p in self.pairs if not p.ok]

    @property
    def loss(self) -> float:
        """Percent of probes lost between pairs expected to connect (others should lose all)."""
        expected = [p for p in self.pairs if p.expected]
        sent = sum(p.sent for p in expected)
        return 0.0 if not sent else 100.0 * (sent - sum(p.received for p in expected)) / sent

    def matrix(self, max_hosts: int = 30) -> str:
        """A reachability matrix: loss % per pair; '-' expected unreachable and unreached, '!' marks wrong,
        '?' a pair whose fate depends on traffic order (not judged)."""
        hosts = self.hosts
        lines = []
        if len(hosts) <= max_hosts:
            cells = {(p.src, p.dst): p for p in self.pairs}
            width = max(5, *(len(h) for h in hosts)) + 1
            lines.append("src\\dst".ljust(width) + "".join(h.rjust(width) for h in hosts))
            for src in hosts:
                row = src.ljust(width)
                for dst in hosts:
                    p = cells.get((src, dst))
                    if p is None:
                        text = ""
                    elif p.expected is False and p.received == 0:
                        text = "-"
                    elif p.expected is None:
                        text = f"{p.loss:.0f}%?"
                    else:
                        text = f"{p.loss:.0f}%" + ("" if p.ok else "!")
                    row += text.rjust(width)
                lines.append(row)
        expected = [p for p in self.pairs if p.expected]
        lines.append(f"{len(self.pairs)} pairs, {len(expected)} expected to connect, "
                     f"{len(self.failures)} wrong, {self.loss:.1f}% of expected probes lost")
        for p in self.failures[:20]:
            why = f"{p.loss:.0f}% loss" if p.expected else "reachable but should not be"
            lines.append(f"  {p.src} -> {p.dst} ({p.dst_ip}): {why}")
        return "\n".join(lines)


class Network:
    """A network built from a graph (or a Plan) in namespaces of its own."""

    def __init__(self, topology: nx.Graph | Plan, *, source: str = "topology",
                 params: Mapping[str, Any] | None = None, run_id: str | None = None,
                 progress: Progress | None = None, arp: str = "auto", switch: str | None = None):
        if arp not in ARP_POLICIES:
            raise UsageError(f"arp {arp!r}: use one of {', '.join(ARP_POLICIES)}")
        self.arp = arp
        mode = "static" if arp == "static" else "dynamic"
        self.plan = topology if isinstance(topology, Plan) else planner.plan(
            topology, source, params, mode, features=caps.features() if shaping.used(topology) or bridge_vlans.used(topology) else None,
            switch=switch)
        self._static_arp = self.plan.arp == "static"
        self.run_id = run_id or new_run_id()
        self.progress = progress
        self.journal: Journal | None = None
        self.worker: nsfs.NetnsWorker | None = None
        self.nodes: dict[str, Node] = {}
        self._procs: dict[int, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._reach: Reachability | None = None
        self.leases: dict[tuple[str, str], str] = {}    # (node, ifname) -> CIDR given by DHCP
        self._live_plan: Plan | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> "Network":
        require_root()
        self.worker = nsfs.NetnsWorker()
        meta = {"source": self.plan.source, "params": dict(self.plan.params), "nodes": len(self.plan.nodes),
                "links": len(self.plan.links)}
        try:
            self.journal = Journal.create(self.run_id, meta)
            Deployment(self.plan, self.journal, self.worker, self.progress).build()
        except BaseException:
            if self.journal is not None:     # build() rolled back; this covers a signal before it began
                teardown(self.journal)
                self.journal = None
            self.worker.close()
            self.worker = None
            raise
        self.nodes = {n.name: Node(self, n) for n in self.plan.nodes}
        try:
            self.leases = services.start(self)      # DHCP servers, snoopers, clients
            self._live_plan = services.with_leases(self.plan, self.leases) if self.leases else None
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> dict[str, int]:
        """Stop our processes and delete everything the journal lists; safe to call twice."""
        if self.journal is None:
            return {}
        with signals_blocked():
            for proc in list(self._procs.values()):
                if proc.poll() is None:
                    stop_signal(proc.pid)      # all at once; teardown waits, then kills what is left
            counts = teardown(self.journal, progress=self.progress)
            for proc in list(self._procs.values()):
                try:
                    proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self._procs.clear()
            self.journal = None
            if self.worker is not None:
                self.worker.close()
                self.worker = None
        return counts

    def __enter__(self) -> "Network":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ nodes

    def __getitem__(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise UsageError(f"no node {name!r}; nodes: {', '.join(self.nodes)}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.nodes

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    @property
    def hosts(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind == "host"]

    @property
    def switches(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.plan.role == "l2"]

    @property
    def routers(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind == "router"]

    # ------------------------------------------------------------ processes

    def _spawn(self, argv: list[str], **kwargs: Any) -> subprocess.Popen:
        proc = subprocess.Popen(argv, **kwargs)
        with self._lock:
            self._procs[proc.pid] = proc
        if self.journal is not None:
            self.journal.record([{"type": "process", "pid": proc.pid, "start": process_start_time(proc.pid)}])
        return proc

    def _forget(self, pid: int) -> None:
        with self._lock:
            self._procs.pop(pid, None)

    # ------------------------------------------------------------ links

    def link(self, a: str, b: str) -> list:
        """The plan's links between nodes a and b."""
        found = [l for l in self.plan.links if {l.a[0], l.b[0]} == {a, b}]
        if not found:
            raise UsageError(f"no link between {a!r} and {b!r}")
        return found

    def set_link(self, a: str, b: str, up: bool) -> None:
        """Bring both ends of every link between a and b up or down.

        Taking a link down makes the kernel drop the routes through it, so bringing it up
        installs the planned routes of both ends again.
        """
        ends = [end for link in self.link(a, b) for end in (link.a, link.b)]
        for node, intf in ends:
            self[node].set_link_state(intf, up)
        if up:
            self._wait_carrier(ends)
            for name in (a, b):
                routes = [(r.dst, r.via) for r in self[name].plan.routes]
                if routes:
                    self.worker.run_inside(self[name].netns, linkstate.replace_routes, routes)

    def _wait_carrier(self, ends: list[tuple[str, str]], timeout: float = LINK_UP_TIMEOUT) -> None:
        """Wait until the kernel reports every end operationally up (carrier arrives a moment
        after the admin state, and a bridge port forwards only then)."""
        deadline = time.monotonic() + timeout
        pending = list(ends)
        while pending:
            pending = [(node, intf) for node, intf in pending
                       if self.worker.run_inside(self[node].netns, linkstate.operstates, [intf]).get(intf) != "UP"]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise CommandFailed(f"link ends {', '.join(f'{n}/{i}' for n, i in pending)} did not come up "
                                    f"within {timeout:.0f} s")
            time.sleep(0.01)

    def link_down(self, a: str, b: str) -> None:
        self.set_link(a, b, False)

    def link_up(self, a: str, b: str) -> None:
        self.set_link(a, b, True)

    # ------------------------------------------------------------ traffic

    @property
    def live_plan(self) -> Plan:
        """The plan with the addresses DHCP gave at run time filled in."""
        return self._live_plan or self.plan

    @property
    def reachability(self) -> Reachability:
        if self._reach is None:
            self._reach = Reachability(self.live_plan)
        return self._reach

    def pingall(self, hosts: Sequence[str] | None = None, count: int = 1, timeout: float = 1.0) -> PingallResult:
        """Ping every ordered pair of hosts in parallel; compare with the expected reachability."""
        names = list(hosts) if hosts is not None else [n.name for n in self.hosts]
        pairs: list[PairResult] = []
        for src in names:
            for dst in names:
                if src == dst:
                    continue
                ip = target_address(self.live_plan, src, dst)
                pairs.append(PairResult(src, dst, ip, 0, 0, self.reachability.expected(src, dst)))
        # a host without an address has nothing to ping (0.0.0.0 would answer from the sender itself)
        probed = [p for p in pairs if p.dst_ip is not None]
        probes = [icmp.Probe(self[p.src].netns, p.dst_ip) for p in probed]
        if self.arp == "auto" and not self._static_arp and len(probes) > ARP_DYNAMIC_MAX_PAIRS:
            self.install_static_arp()
        window = 1024 if self._static_arp else 16
        if ovs_deploy.ovs_nodes(self.plan):        # a userspace datapath reads its ports through
            window = min(window, OVS_WINDOW)       # AF_PACKET sockets: their buffers overflow
        icmp.mesh(lambda ns: self.worker.run_inside(ns, icmp.open_socket), probes, count=count,
                  timeout=timeout, window=window)
        for pair, probe in zip(probed, probes):
            pair.sent, pair.received = probe.sent, probe.received
            pair.rtt_ms = min(probe.rtts) if probe.rtts else None
        return PingallResult(names, pairs)

    def install_static_arp(self) -> int:
        """Add permanent neighbour entries between every pair of addresses on each LAN."""
        index = if_indexes(self.plan)
        entries = static_neighbours(self.plan)

        def add(node: str, items) -> None:
            with netlink.Batch() as batch:
                for ifname, ip, mac in items:
                    batch.neighbour(index[(node, ifname)], ip, mac)
                try:
                    batch.commit()
                except netlink.NetlinkError as exc:
                    if exc.errno != errno.EEXIST:
                        raise
        for node, items in entries.items():
            self.worker.run_inside(self[node].netns, add, node, items)
        self._static_arp = True
        return sum(len(v) for v in entries.values())

    def counters(self) -> dict[str, dict[str, dict[str, int]]]:
        """node -> interface -> counters, for every node."""
        return {name: node.counters() for name, node in self.nodes.items()}

    # ------------------------------------------------------------ Open vSwitch

    def ovs(self, switch: str):
        """The private Open vSwitch instance (testbed.ovs.daemons.Instance) of an OVS switch."""
        if self.journal is None:
            raise UsageError("the network is not running")
        return ovs_deploy.find(self.journal, switch)

    def dpctl(self, switch: str, datapath: bool = False) -> str:
        """An OVS switch's OpenFlow flows (``ovs-ofctl dump-flows``); datapath=True: the datapath's."""
        return ovs_deploy.dump_flows(self.ovs(switch), datapath)

    def ofctl(self, switch: str, *args: str) -> str:
        """Run ``ovs-ofctl ARGS`` on an OVS switch, e.g. ofctl("s1", "add-flow", "s1", "actions=NORMAL")."""
        return self.ovs(switch).ofctl(*args)

    # ------------------------------------------------------------ features (testbed.concerns)

    def port_security_counters(self, switch: str) -> dict[str, dict[str, int]]:
        """port -> {counter: dropped packets} of a switch's port security / DHCP snooping rules."""
        return status.port_security_counters(self, switch)

    def nat_counters(self, node: str) -> dict[str, int]:
        """Packets a NAT masqueraded, forwarded in, and blocked inbound."""
        return status.nat_counters(self, node)

    def dhcp_bindings(self, switch: str) -> list:
        """The (port, MAC, IP) bindings a DHCP-snooping switch learned."""
        return status.dhcp_bindings(self, switch)

