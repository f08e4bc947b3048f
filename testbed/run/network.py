"""The running network: build it from a graph or Plan, use it, tear it down.

    with Network(graph) as net:
        print(net["h1"].cmd("ping -c1 h2"))
        result = net.pingall()
        net.link_down("h1", "s1")

Node handles are in node.py, pingall in pingall.py, changes to a running network
(add_node, add_link, set_link with shaping, remove_link, remove_node) in changes.py; this
module is the lifecycle (build, run-time services of the concerns, kinds' start hooks,
teardown), links and the concerns' and backends' run-time views (counters, flows).
"""
from __future__ import annotations

import dataclasses
import os
import subprocess
import threading
import time
from typing import Any, Callable, Iterator, Mapping, Sequence

import networkx as nx

from testbed import backends, concerns, kinds
from testbed.concerns import portsec
from testbed.deploy import build
from testbed.deploy.context import Progress, if_indexes, netns_name
from testbed.deploy.teardown import deferred_signals, teardown
from testbed.errors import CommandFailed, DeployError, EnvironmentProblem, UsageError
from testbed.kernel import caps, cgroups, linkstate, nft, nsfs
from testbed.kernel.journal import File, Journal, Process, new_run_id, run_dir
from testbed.kernel.procs import process_start_time, stop_signal
from testbed.model.plan import Plan
from testbed.planning.pipeline import plan as make_plan
from testbed.planning.reach import Reachability
from testbed.run import changes
from testbed.run import pingall as pingall_module
from testbed.run.node import Node
from testbed.run.pingall import PairResult, PingallResult
from testbed.tools import require_tools

__all__ = ["ARP_POLICIES", "Network", "Node", "PairResult", "PingallResult"]

ARP_POLICIES = ("auto", "static", "dynamic")
LINK_UP_TIMEOUT = 5.0     # seconds for a link brought up to get its carrier
READY_TIMEOUT = 20.0      # seconds for a run-time service to come up
CONVERGE_TIMEOUT = 60.0   # seconds for routing protocols to install the routes they will have


class ServiceError(DeployError):
    """A run-time service (DHCP server, snooper, client, a server kind's command) did not come up."""


def require_root() -> None:
    if os.geteuid() != 0:
        raise EnvironmentProblem("building a network needs root (network namespaces, netlink): "
                                 "run it with sudo, or as root")
    require_tools("ip")


class Network:
    """A network built from a graph (or a Plan) in namespaces of its own."""

    def __init__(self, topology: nx.Graph | Plan, *, source: str = "topology",
                 params: Mapping[str, Any] | None = None, run_id: str | None = None,
                 progress: Progress | None = None, arp: str = "auto", switch: str | None = None):
        if arp not in ARP_POLICIES:
            raise UsageError(f"arp {arp!r}: use one of {', '.join(ARP_POLICIES)}")
        self.arp = arp
        mode = "static" if arp == "static" else "dynamic"
        self.plan = topology if isinstance(topology, Plan) else make_plan(
            topology, source, params, mode, features=caps.features, switch=switch)
        self.static_arp = self.plan.arp == "static"
        self.run_id = run_id or new_run_id()
        self.progress = progress
        self.journal: Journal | None = None
        self.worker: nsfs.NetnsWorker | None = None
        self.nodes: dict[str, Node] = {}
        self._procs: dict[int, subprocess.Popen] = {}
        self._relays: dict[tuple, Any] = {}            # (node, address, port, directory) -> relay.Relay
        self._lock = threading.Lock()
        self._reach: Reachability | None = None
        self.leases: dict[tuple[str, str], str] = {}    # (node, ifname) -> CIDR given at run time (DHCP)
        self.down: set[int] = set()                     # indexes of the links taken down
        # how long each build phase and the teardown took: name -> (wall s, CPU s of this process)
        self.timings: dict[str, tuple[float, float]] = {}
        self._live_plan: Plan | None = None
        self.silent: set[int] = set()                   # ... of those, the ones down without losing carrier
        self._cut: set[tuple[str, str]] = set()        # link ends dropping every frame (silent failures)
        self.converged = False                         # routing settled since the last link change
        # what run-time changes need: the graph (None when built from a Plan), interface indexes
        self._graph = changes.clone(topology) if isinstance(topology, nx.Graph) else None
        self._switch = switch
        self._batch: changes.Batch | None = None
        self.index: dict[tuple[str, str], int] = {}

    # ------------------------------------------------------------ lifecycle

    def start(self) -> "Network":
        require_root()
        self.worker = nsfs.NetnsWorker()
        meta = {"source": self.plan.source, "params": dict(self.plan.params), "nodes": len(self.plan.nodes),
                "links": len(self.plan.links)}
        try:
            self.journal = Journal.create(self.run_id, meta)
            self.timings.update(build.build(self.plan, self.journal, self.worker, self.progress))
        except BaseException:
            if self.journal is not None:     # build() rolled back; this covers a signal before it began
                with deferred_signals():
                    teardown(self.journal)
                self.journal = None
            self.worker.close()
            self.worker = None
            raise
        self.index = if_indexes(self.plan)
        self.nodes = {n.name: Node(self, n, netns_name(self.run_id, n.name), self._environment(n.name))
                      for n in self.plan.nodes}
        try:
            for concern in concerns.REGISTRY:        # run-time services: DHCP servers, snoopers, clients
                self.leases.update(concern.start(self))
            if self.leases:
                self._live_plan = with_addresses(self.plan, self.leases)
            for node in self.plan.nodes:             # the kinds' own start hooks (a server's command)
                kind = kinds.of(node.kind)
                if kind.start is not None:
                    kind.start(self.nodes[node.name], dict(node.settings))
        except BaseException:
            self.stop()
            raise
        return self

    def _environment(self, node: str) -> dict[str, str]:
        backend = backends.of_node(self.plan, node)
        env = backend.environment(self.run_id, node) if backend is not None else {}
        for concern in concerns.REGISTRY:
            env.update(concern.environment(self.plan, self.run_id, node))
        return env

    def stop(self) -> dict[str, int]:
        """Stop our processes and delete everything the journal lists; safe to call twice."""
        if self.journal is None:
            return {}
        with deferred_signals():
            wall, cpu = time.perf_counter(), time.process_time()
            for relay in self._relays.values():
                relay.close()
            self._relays.clear()
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
            self.timings["teardown"] = (time.perf_counter() - wall, time.process_time() - cpu)
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
        """The end systems (kinds that count as hosts: host, server...)."""
        return [n for n in self.nodes.values() if kinds.of(n.kind).endpoint]

    @property
    def switches(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.plan.role == "l2"]

    @property
    def routers(self) -> list[Node]:
        """Nodes that get static routes from the graph (routers)."""
        return [n for n in self.nodes.values() if kinds.of(n.kind).static_routes]

    # ------------------------------------------------------------ processes and files

    def _spawn(self, argv: list[str], **kwargs: Any) -> subprocess.Popen:
        proc = subprocess.Popen(argv, **kwargs)
        with self._lock:
            self._procs[proc.pid] = proc
        if self.journal is not None:
            self.journal.record([Process(proc.pid, process_start_time(proc.pid))])
        return proc

    def _forget(self, pid: int) -> None:
        with self._lock:
            self._procs.pop(pid, None)

    def run_file(self, name: str) -> str:
        """A file of a service in the run's folder, journaled so teardown removes it."""
        path = os.path.join(run_dir(self.run_id), name)
        self.journal.record([File(path)])
        return path

    def relay(self, address: str, port: int, node: str | None = None, directory: str | None = None) -> str:
        """The path of a Unix socket whose connections reach TCP ``address:port``: inside
        ``node``'s namespace, or with no node on this machine's loopback (nothing else: a
        run never reaches beyond the machine). For a switch's OpenFlow controller (``unix:PATH``),
        which its namespace keeps it from reaching over TCP. The socket is made in
        ``directory`` (Open vSwitch connects only to sockets in its own run folder: the
        switch node's OVS_RUNDIR), else in the run's folder. One relay per target and
        directory; closed at stop()."""
        import ipaddress
        from testbed.run import relay
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise UsageError(f"relay to {address!r}: not an IP address") from None
        if not 0 < port < 65536:
            raise UsageError(f"relay to {address}:{port}: port {port} is not a TCP port (1-65535)")
        if node is None and not ip.is_loopback:
            raise UsageError(f"relay to {address}:{port}: outside the run only this machine's loopback "
                             "(127.0.0.1, ::1) is reachable; name the node that has the address")
        key = (node, str(ip), port, directory)
        if key not in self._relays:
            opener = None
            if node is not None:
                ns = self[node].netns
                opener = lambda family: self.worker.run_inside(ns, relay.stream_socket, family)  # noqa: E731
            name = f"relay-{node or 'local'}-{ip}-{port}.sock".replace(":", "_")
            path = os.path.join(directory or run_dir(self.run_id), name)
            self.journal.record([File(path)])
            self._relays[key] = relay.Relay(path, relay.tcp_connector(str(ip), port, opener),
                                            name=f"relay-{ip}-{port}")
        return self._relays[key].path

    def popen_logged(self, node: Node, argv: list[str], log: str, **kwargs: Any) -> subprocess.Popen:
        """Start a service in ``node`` with its stderr appended to ``log``."""
        with open(log, "a") as err:
            return node.popen(argv, stdout=subprocess.DEVNULL, stderr=err, **kwargs)

    def wait_ready(self, what: str, check: Callable[[], bool], proc: subprocess.Popen | None = None,
                   timeout: float = READY_TIMEOUT) -> None:
        """Wait until ``check()`` holds; ServiceError when ``proc`` exits first or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if proc is not None and proc.poll() is not None:
                raise ServiceError(f"{what} exited with status {proc.returncode} before it was ready")
            time.sleep(0.05)
        raise ServiceError(f"{what} was not ready within {timeout:.0f} s")

    # ------------------------------------------------------------ CPU limits

    def limit_cpu(self, node: str, fraction: float, period_us: int = 100_000, pids: Sequence[int] = ()) -> None:
        """Let the processes started in ``node`` from now on (and ``pids``, already running there)
        use ``fraction`` of one CPU (0.5: half a CPU per ``period_us``), through a cgroup of the
        run (v2 or v1)."""
        if not 0 < fraction <= (os.cpu_count() or 1):
            raise UsageError(f"limit_cpu({node!r}, {fraction}): give a fraction of a CPU above 0 "
                             f"(at most {os.cpu_count() or 1}, this machine's CPUs)")
        handle = self[node]
        tree = cgroups.hierarchy()
        paths = cgroups.node_paths(tree, self.run_id, node)
        self.journal.record([cgroups.Cgroup(p) for p in paths])
        cgroups.create(paths)
        leaves = [p for p in paths if os.path.basename(p) == node]
        cgroups.set_quota(tree, leaves[0], fraction, period_us)
        handle.cgroups = leaves
        for pid in pids:
            cgroups.join(leaves, pid)

    def cpu_seconds(self, node: str) -> float:
        """CPU time used by the processes of ``node`` that are CPU-limited (limit_cpu)."""
        handle = self[node]
        if not handle.cgroups:
            raise UsageError(f"node {node!r} has no CPU limit (Network.limit_cpu) to read its CPU time from")
        return cgroups.usage_seconds(cgroups.hierarchy(), handle.cgroups[-1])

    # ------------------------------------------------------------ links

    def link(self, a: str, b: str) -> list:
        """The plan's links between nodes a and b."""
        found = [l for l in self.plan.links if {l.a[0], l.b[0]} == {a, b}]
        if not found:
            raise UsageError(f"no link between {a!r} and {b!r}")
        return found

    def set_link(self, a: str, b: str, up: bool | None = None, silent: bool = False, *, key: Any = None,
                 **settings: Any) -> None:
        """Change the links between a and b: ``up`` brings both ends up or down; shaping
        settings (bw, delay, jitter, loss, queue: a value, a dict keyed by the sending end, or
        None to remove one) re-plan the link's shaping and re-apply it, e.g.
        ``net.set_link("h1", "s1", bw=20)``. What the kernel cannot do is refused first.

        Taking a link down makes the kernel drop the routes through it, so bringing it up
        installs the planned routes of both ends again, once their IPv6 addresses (if any)
        are usable again. ``silent=True`` takes it down without telling anyone: both ends keep
        their carrier and drop every frame they receive (an nftables netdev ingress rule), like
        a cable cut behind a media converter, so routing protocols notice only when their
        hellos stop (dead interval, BFD). ``up`` ends either.
        """
        if settings:
            changes.request(self, changes.shape_link(a, b, settings, key))
        if up is None:
            return
        links = self.link(a, b)
        ends = [end for link in links for end in (link.a, link.b)]
        if up or not silent:
            for node, intf in ends:
                self[node].set_link_state(intf, up)
        for node, intf in ends:
            if up and (node, intf) in self._cut:
                self.worker.run_inside(self[node].netns, nft.run, _cut_rules(intf, cut=False))
                self._cut.discard((node, intf))
            elif not up and silent and (node, intf) not in self._cut:
                self.worker.run_inside(self[node].netns, nft.run, _cut_rules(intf, cut=True))
                self._cut.add((node, intf))
        indexes = {link.index for link in links}
        if up:
            self.down -= indexes
            self.silent -= indexes
        else:
            self.down |= indexes
            if silent:
                self.silent |= indexes
        self._reach = None                               # the expected reachability follows the links
        self.converged = False
        if up:
            self._wait_carrier(ends)
            build.wait_ipv6_usable(self.worker, self.plan, lambda node: self[node].netns, (a, b))
            for name in (a, b):
                routes = [(r.dst, r.via) for r in self[name].plan.installed_routes]
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

    # ------------------------------------------------------------ changes at run time (changes.py)

    def add_node(self, name: str, **attrs: Any) -> Node | None:
        """Add a node (attributes as in a topology, ``kind`` first) to the running network;
        returns its handle (None inside ``changes()``, until the block ends)."""
        changes.request(self, changes.add_node(name, attrs))
        return self.nodes.get(name)

    def add_link(self, a: str, b: str, key: Any = None, **attrs: Any) -> None:
        """Add a link (attributes as in a topology) between two nodes of the running network
        (``key``: its key in a MultiGraph)."""
        changes.request(self, changes.add_link(a, b, attrs, key))

    def remove_link(self, a: str, b: str, key: Any = None) -> None:
        """Remove the links between a and b (only the one with ``key`` in a MultiGraph, if given)."""
        changes.request(self, changes.remove_link(a, b, key))

    def remove_node(self, name: str) -> None:
        """Remove a node, its links and everything running inside it."""
        changes.request(self, changes.remove_node(name))

    def changes(self):
        """``with net.changes():`` make every change of the block together (one re-plan, one deploy)."""
        return changes.batch(self)

    def _adopt(self, graph: nx.Graph, plan: Plan, index: dict[tuple[str, str], int]) -> None:
        """Take a changed network's graph, plan and interface indexes; refresh the node handles."""
        if self.down:                         # links taken down keep so by their ends, not their indexes
            ends = {frozenset((l.a, l.b)) for l in self.plan.links if l.index in self.down}
            quiet = {frozenset((l.a, l.b)) for l in self.plan.links if l.index in self.silent}
            self.down = {l.index for l in plan.links if frozenset((l.a, l.b)) in ends}
            self.silent = {l.index for l in plan.links if frozenset((l.a, l.b)) in quiet}
        self._graph, self.plan, self.index = graph, plan, index
        self.nodes = {n.name: self.nodes[n.name] if n.name in self.nodes else
                      Node(self, n, netns_name(self.run_id, n.name), self._environment(n.name)) for n in plan.nodes}
        for n in plan.nodes:
            self.nodes[n.name].plan = n
        self._reach = None
        self._live_plan = with_addresses(plan, self.leases) if self.leases else None

    @property
    def graph(self) -> nx.Graph | None:
        """The graph the network was built from, with the changes made at run time (a copy)."""
        return None if self._graph is None else changes.clone(self._graph)

    def link_down(self, a: str, b: str, silent: bool = False) -> None:
        self.set_link(a, b, False, silent=silent)

    def link_up(self, a: str, b: str) -> None:
        self.set_link(a, b, True)

    # ------------------------------------------------------------ traffic

    @property
    def live_plan(self) -> Plan:
        """The plan with the addresses given at run time (DHCP leases) filled in."""
        return self._live_plan or self.plan

    @property
    def reachability(self) -> Reachability:
        if self._reach is None:
            self._reach = Reachability(self.live_plan, frozenset(self.down))
        return self._reach

    def converge(self, timeout: float = CONVERGE_TIMEOUT) -> float:
        """Wait until the routing protocols (every concern that runs something that settles) have
        installed the routes they will have with the links as they are now; the seconds it took.
        Raises an error naming, per router, the routes still missing or wrong after ``timeout``."""
        started = time.monotonic()
        for concern in concerns.REGISTRY:
            concern.converge(self, max(0.0, timeout - (time.monotonic() - started)))
        self.converged = True
        return time.monotonic() - started

    def pingall(self, hosts: Sequence[str] | None = None, count: int = 1, timeout: float = 1.0) -> PingallResult:
        """Ping every ordered pair of hosts in parallel; compare with the expected reachability.
        After a build or a link change, routing is first given time to converge (``converge``)."""
        if not self.converged:
            self.converge()
        return pingall_module.pingall(self, hosts, count, timeout)

    def ping_pairs(self, pairs: Sequence[tuple[str, str]], count: int = 1,
                   timeout: float = 1.0) -> list[tuple[int, int, list[float]]]:
        """Ping (node, address) pairs at once: (sent, received, RTTs in ms) each (pingall.ping_pairs)."""
        return pingall_module.ping_pairs(self, pairs, count, timeout)

    def install_static_arp(self) -> int:
        """Add permanent neighbour entries between every pair of addresses on each LAN."""
        return pingall_module.install_static_arp(self)

    def counters(self) -> dict[str, dict[str, dict[str, int]]]:
        """node -> interface -> counters, for every node."""
        return {name: node.counters() for name, node in self.nodes.items()}

    # ------------------------------------------------------------ switches and concerns

    def backend_of(self, node: str):
        """The switch backend that built ``node`` (UsageError when it is not a switch)."""
        backend = backends.of_node(self.plan, self[node].name)
        if backend is None:
            raise UsageError(f"{node!r} is a {self[node].kind}, not a switch")
        return backend

    def ovs(self, switch: str):
        """The private Open vSwitch instance (testbed.ovs.daemons.Instance) of an OVS switch."""
        return self.backend_of(switch).instance(self, switch)

    def dpctl(self, switch: str, datapath: bool = False) -> str:
        """An OVS switch's OpenFlow flows (``ovs-ofctl dump-flows``); datapath=True: the datapath's."""
        return self.backend_of(switch).dump_flows(self, switch, datapath)

    def ofctl(self, switch: str, *args: str) -> str:
        """Run ``ovs-ofctl ARGS`` on an OVS switch, e.g. ofctl("s1", "add-flow", "s1", "actions=NORMAL")."""
        return self.ovs(switch).ofctl(*args)

    def concern_counters(self, concern: str, node: str) -> dict:
        """A concern's counters at ``node`` (testbed.concerns)."""
        self[node]
        return concerns.by_name(concern).counters(self, node)

    def port_security_counters(self, switch: str) -> dict[str, dict[str, int]]:
        """port -> {counter: dropped packets} of a switch's port security / DHCP snooping rules."""
        return self.concern_counters("portsec", switch)

    def nat_counters(self, node: str) -> dict[str, int]:
        """Packets a NAT masqueraded, forwarded in, and blocked inbound."""
        return self.concern_counters("nat", node)

    def dhcp_bindings(self, switch: str) -> list:
        """The (port, MAC, IP) bindings a DHCP-snooping switch learned."""
        self[switch]
        return portsec.bindings(self, switch)


def _cut_rules(intf: str, cut: bool) -> str:
    """nftables text that makes ``intf`` drop every frame it receives (cut) or stop doing so."""
    table = "testbed_cut_" + "".join(c if c.isalnum() else "_" for c in intf)
    if not cut:
        return f"delete table netdev {table}\n"
    return (f"table netdev {table} {{\n  chain in {{\n    type filter hook ingress device \"{intf}\" priority -500; "
            "policy drop;\n  }\n}\n")


def with_addresses(plan: Plan, given: dict[tuple[str, str], str]) -> Plan:
    """``plan`` with addresses given at run time put on their interfaces (each in place of the
    planned ones of its family: a DHCP lease leaves a planned IPv6 address where it is)."""
    def merged(intf, cidr: str) -> tuple[str, ...]:
        six = ":" in cidr
        return (cidr,) + tuple(a for a in intf.addresses if (":" in a) != six)

    nodes = []
    for node in plan.nodes:
        intfs = tuple(dataclasses.replace(i, addresses=merged(i, given[(node.name, i.name)]))
                      if (node.name, i.name) in given else i for i in node.interfaces)
        nodes.append(dataclasses.replace(node, interfaces=intfs))
    return dataclasses.replace(plan, nodes=tuple(nodes))
