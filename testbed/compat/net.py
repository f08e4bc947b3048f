"""``mininet.net`` on testbed: the Mininet class.

The same constructor, the same build/start/stop sequence (controllers, switches, hosts;
custom ``config()``/``start()``/``terminate()`` overrides run when Mininet runs them), the
same node and link methods, the same test methods and their output. Underneath, one
testbed Network (testbed/compat/engine.py): a Topo is built in one go, nodes and links
added later join the running network in one batch of run-time changes, and ``stop()``
tears down exactly what the run's journal lists.

What differs, and why:

* ``ping``/``pingAll``/``pingFull``: one echo per pair as Mininet, but every pair at once
  (raw ICMP sockets, testbed's pingall) instead of one ``ping -c1`` process after another;
  the output and the return values are Mininet's.
* ``iperf``: iperf3 (as every testbed measurement) rather than iperf 2; the result strings
  are formatted as Mininet's ('9.57 Mbits/sec').
* ``staticArp``: testbed's permanent neighbour entries between the hosts of each LAN.
* ``runCpuLimitTest``: reads the CPU time of testbed's cgroups.
* ``addNAT()`` with the NAT in the root namespace (Mininet's default, towards this
  machine's uplink) is refused: testbed never connects to the machine's own network.
"""
from __future__ import annotations

import math
import os
import random
import select
import subprocess
import time
from itertools import chain, groupby
from typing import Any, Callable

from mininet.log import debug, error, info, output, warn

from testbed.compat.engine import Engine
from testbed.compat.link import Intf, Link
from testbed.compat.node import (Controller, DefaultController, Host, Node, OVSKernelSwitch, resolve)
from testbed.compat.notes import say_once
from testbed.compat.nodelib import NAT
from testbed.compat.util import (BaseString, ensureRoot, fixLimits, ipAdd, macColonHex, netParse, numCores)
from testbed.errors import UsageError
from testbed.kernel import procs

VERSION = "2.3.0"
PING_TIMEOUT = 2.0            # seconds a ping waits for its reply when the script gives no timeout
IPERF_READY = 10.0            # seconds for an iperf server to listen
IPERF_GRACE = 30.0            # seconds beyond the test for iperf's client and the server's report


class Mininet:
    """Network emulation with hosts in network namespaces (on testbed)."""

    def __init__(self, topo: Any = None, switch: Any = OVSKernelSwitch, host: Any = Host,
                 controller: Any = DefaultController, link: Any = Link, intf: Any = Intf, build: bool = True,
                 xterms: bool = False, cleanup: bool = False, ipBase: str = "10.0.0.0/8", inNamespace: bool = False,
                 autoSetMacs: bool = False, autoStaticArp: bool = False, autoPinCpus: bool = False,
                 listenPort: int | None = None, waitConnected: Any = False):
        self.topo = topo
        self.switch = switch
        self.host = host
        self.controller = controller
        self.link = link
        self.intf = intf
        self.ipBase = ipBase
        self.ipBaseNum, self.prefixLen = netParse(self.ipBase)
        hostIP = (0xFFFFFFFF >> self.prefixLen) & self.ipBaseNum
        self.nextIP = hostIP if hostIP > 0 else 1
        self.inNamespace = inNamespace
        self.xterms = xterms
        self.cleanup = cleanup
        self.autoSetMacs = autoSetMacs
        self.autoStaticArp = autoStaticArp
        self.autoPinCpus = autoPinCpus
        self.numCores = numCores()
        self.nextCore = 0
        self.listenPort = listenPort
        self.waitConn = waitConnected
        self.hosts: list = []
        self.switches: list = []
        self.controllers: list = []
        self.links: list = []
        self.nameToNode: dict[str, Any] = {}
        self.terms: list = []
        self._engine = Engine()
        Mininet.init()
        if autoPinCpus:
            say_once("pin", "autoPinCpus: testbed does not pin hosts to CPUs; ignored")
        self.built = False
        if topo and build:
            self.build()

    @property
    def network(self):
        """The testbed Network underneath (built first if it is not yet)."""
        self._engine.realize()
        return self._engine.net

    # ------------------------------------------------------------ nodes

    def waitConnected(self, timeout: Any = None, delay: float = 0.5) -> bool:
        info("*** Waiting for switches to connect\n")
        waited = 0.0
        remaining = list(self.switches)
        if isinstance(timeout, bool):
            timeout = None if timeout else 0
        while True:
            for switch in tuple(remaining):
                if switch.connected():
                    info(f"{switch} ")
                    remaining.remove(switch)
            if not remaining:
                info("\n")
                return True
            if timeout is not None and waited >= timeout:
                break
            time.sleep(delay)
            waited += delay
        warn("Timed out after %d seconds\n" % waited)
        for switch in remaining:
            if not switch.connected():
                warn(f"Warning: {switch.name} is not connected to a controller\n")
        return False

    def _host_defaults(self, params: dict) -> dict:
        defaults = {"ip": ipAdd(self.nextIP, ipBaseNum=self.ipBaseNum, prefixLen=self.prefixLen) + f"/{self.prefixLen}"}
        if self.autoSetMacs:
            defaults["mac"] = macColonHex(self.nextIP)
        if self.autoPinCpus:
            defaults["cores"] = self.nextCore
            self.nextCore = (self.nextCore + 1) % self.numCores
        self.nextIP += 1
        defaults.update(params)
        return defaults

    def addHost(self, name: str, cls: Any = None, **params: Any):
        defaults = self._host_defaults(params)
        cls = cls or self.host
        with self._engine.constructing("host"):
            h = cls(name, **defaults)
        self.hosts.append(h)
        self.nameToNode[name] = h
        return h

    def delNode(self, node: Any, nodes: list | None = None) -> None:
        if nodes is None:
            nodes = (self.hosts if node in self.hosts else self.switches if node in self.switches else
                     self.controllers if node in self.controllers else [])
        node.stop(deleteIntfs=True)
        node.terminate()
        if node in nodes:
            nodes.remove(node)
        self.links = [l for l in self.links if node not in (l.intf1.node, l.intf2.node)]
        del self.nameToNode[node.name]
        if not isinstance(node, Controller) or node._as_host:
            self._engine.remove_node(node.name)

    def delHost(self, host: Any) -> None:
        self.delNode(host, nodes=self.hosts)

    def addSwitch(self, name: str, cls: Any = None, **params: Any):
        defaults = {"listenPort": self.listenPort, "inNamespace": self.inNamespace}
        defaults.update(params)
        cls = cls or self.switch
        with self._engine.constructing("switch"):
            sw = cls(name, **defaults)
        if not self.inNamespace and self.listenPort:
            self.listenPort += 1
        self.switches.append(sw)
        self.nameToNode[name] = sw
        return sw

    def delSwitch(self, switch: Any) -> None:
        self.delNode(switch, nodes=self.switches)

    def addController(self, name: Any = "c0", controller: Any = None, **params: Any):
        controller = controller or self.controller
        if isinstance(name, Controller):
            new = name
            name = new.name
        else:
            with self._engine.constructing("controller"):
                new = controller(name, **params)
        if new:
            self.controllers.append(new)
            self.nameToNode[name] = new
        return new

    def delController(self, controller: Any) -> None:
        self.delNode(controller)

    def addNAT(self, name: str = "nat0", connect: Any = True, inNamespace: bool = False, **params: Any):
        """A NAT node masquerading the network towards an outside link (``inetIntf``).

        Mininet's default puts the NAT in the root namespace, towards this machine's uplink:
        testbed never connects to the machine's own network, so that is refused."""
        if not inNamespace or not params.get("inetIntf"):
            raise UsageError("addNAT(): a NAT towards this machine's own network (its root namespace and uplink) "
                             "is something testbed never builds; give the NAT an emulated outside instead: "
                             "addNAT(inNamespace=True, inetIntf='<its interface to an outside switch>'), or "
                             "a testbed 'nat' node (topologies/nat.py)")
        nat = self.addHost(name, cls=NAT, inNamespace=inNamespace, subnet=self.ipBase, **params)
        if connect:
            if not isinstance(connect, Node):
                connect = self.switches[0]
            self.addLink(nat, connect)
            nat_ip = nat.params["ip"].split("/")[0]
            for host in self.hosts:
                if host.inNamespace and host is not nat:
                    host.setDefaultRoute(f"via {nat_ip}")
        return nat

    def getNodeByName(self, *args: str):
        if len(args) == 1:
            return self.nameToNode[args[0]]
        return [self.nameToNode[n] for n in args]

    def get(self, *args: str):
        return self.getNodeByName(*args)

    def __getitem__(self, key: str):
        return self.nameToNode[key]

    def __delitem__(self, key: str) -> None:
        self.delNode(self.nameToNode[key])

    def __iter__(self):
        for node in chain(self.hosts, self.switches, self.controllers):
            yield node.name

    def __len__(self) -> int:
        return len(self.hosts) + len(self.switches) + len(self.controllers)

    def __contains__(self, item: Any) -> bool:
        return item in self.nameToNode

    def keys(self) -> list[str]:
        return list(self)

    def values(self) -> list:
        return [self[name] for name in self]

    def items(self):
        return zip(self.keys(), self.values())

    @staticmethod
    def randMac() -> str:
        return macColonHex(random.randint(1, 2 ** 48 - 1) & 0xFEFFFFFFFFFF | 0x020000000000)

    # ------------------------------------------------------------ links

    def addLink(self, node1: Any, node2: Any, port1: int | None = None, port2: int | None = None,
                cls: Any = None, **params: Any):
        node1 = node1 if not isinstance(node1, BaseString) else self[node1]
        node2 = node2 if not isinstance(node2, BaseString) else self[node2]
        options = dict(params)
        if port1 is not None:
            options.setdefault("port1", port1)
        if port2 is not None:
            options.setdefault("port2", port2)
        if self.intf is not None:
            options.setdefault("intf", self.intf)
        cls = self.link if cls is None else cls
        new = cls(node1, node2, **options)
        self.links.append(new)
        return new

    def delLink(self, link: Any) -> None:
        link.delete()
        self.links.remove(link)

    def linksBetween(self, node1: Any, node2: Any) -> list:
        return [l for l in self.links if (node1, node2) in ((l.intf1.node, l.intf2.node), (l.intf2.node, l.intf1.node))]

    def delLinkBetween(self, node1: Any, node2: Any, index: int = 0, allLinks: bool = False) -> list:
        links = self.linksBetween(node1, node2)
        if not allLinks:
            links = [links[index]]
        for l in links:
            self.delLink(l)
        return links

    # ------------------------------------------------------------ building

    def configHosts(self) -> None:
        for host in self.hosts:
            info(host.name + " ")
            intf = host.defaultIntf()
            if intf:
                host.configDefault()
            else:
                host.configDefault(ip=None, mac=None)
        info("\n")

    def _reserve_topo(self, topo: Any) -> None:
        """Declare every node of the Topo before any node object is made (one build for all)."""
        next_ip = self.nextIP
        for name in topo.hosts():
            params = dict(topo.nodeInfo(name))
            factory, bound = resolve(params.pop("cls", None) or self.host)
            defaults = {"ip": ipAdd(next_ip, ipBaseNum=self.ipBaseNum, prefixLen=self.prefixLen) + f"/{self.prefixLen}"}
            if self.autoSetMacs:
                defaults["mac"] = macColonHex(next_ip)
            next_ip += 1
            defaults.update(bound)
            defaults.update(params)
            cls = factory if factory is not None and issubclass(factory, Node) else Host
            made = factory if factory is not None and issubclass(factory, Node) else None
            if issubclass(cls, Controller):
                cls = Host
            self._engine.reserve(name, cls.node_attrs(name, defaults), made)
        for name in topo.switches():
            params = dict(topo.nodeInfo(name))
            factory, bound = resolve(params.pop("cls", None) or self.switch)
            merged = {"inNamespace": self.inNamespace, **bound, **params}
            cls = factory if factory is not None and issubclass(factory, Node) else OVSKernelSwitch
            self._engine.reserve(name, cls.node_attrs(name, merged))

    def buildFromTopo(self, topo: Any = None) -> None:
        info("*** Creating network\n")
        if not self.controllers and self.controller:
            info("*** Adding controller\n")
            classes = self.controller if isinstance(self.controller, list) else [self.controller]
            for i, cls in enumerate(classes):
                if isinstance(cls, Controller):
                    self.addController(cls)
                else:
                    self.addController(f"c{i}", cls)
        self._reserve_topo(topo)
        self._engine.building = True
        try:
            self._add_topo(topo)
        finally:
            self._engine.building = False

    def _add_topo(self, topo: Any) -> None:
        info("*** Adding hosts:\n")
        for hostName in topo.hosts():
            self.addHost(hostName, **topo.nodeInfo(hostName))
            info(hostName + " ")
        info("\n*** Adding switches:\n")
        for switchName in topo.switches():
            params = topo.nodeInfo(switchName)
            cls = params.get("cls", self.switch)
            if hasattr(cls, "batchStartup"):
                params.setdefault("batch", True)
            self.addSwitch(switchName, **params)
            info(switchName + " ")
        info("\n*** Adding links:\n")
        for srcName, dstName, params in topo.links(sort=True, withInfo=True):
            self.addLink(**params)
            info(f"({srcName}, {dstName}) ")
        info("\n")

    def configureControlNetwork(self) -> None:
        raise UsageError("configureControlNetwork: Mininet(inNamespace=True) needs a control network, which "
                         "testbed does not build: each switch reaches its controllers inside its own namespace")

    def build(self) -> None:
        if self.topo:
            self.buildFromTopo(self.topo)
        if self.inNamespace:
            say_once("innamespace", "Mininet(inNamespace=True): every node has its own namespace here anyway; "
                                    "switches reach their controllers inside their namespaces (no control network)")
        self._engine.realize()
        info("*** Configuring hosts\n")
        self.configHosts()
        if self.xterms:
            self.startTerms()
        if self.autoStaticArp:
            self.staticArp()
        self.built = True

    def startTerms(self) -> None:
        say_once("xterms", "xterms: testbed opens no X11 terminals; use the CLI's `x NODE` (a tmux window, or "
                           "the command to paste)")

    def stopXterms(self) -> None:
        self.terms = []

    def staticArp(self) -> None:
        """Permanent neighbour entries between the hosts of each LAN (testbed's, all at once)."""
        self.network.install_static_arp()

    def start(self) -> None:
        if not self.built:
            self.build()
        self._engine.realize()
        info("*** Starting controller\n")
        for controller in self.controllers:
            info(controller.name + " ")
            controller.start()
        info("\n")
        info(f"*** Starting {len(self.switches)} switches\n")
        for switch in self.switches:             # controllers beside their switches, all at once
            if hasattr(switch, "controllers") and hasattr(switch, "_targets"):
                for controller in self.controllers:
                    controller.attach(switch)
        for switch in self.switches:
            info(switch.name + " ")
            switch.start(self.controllers)
        for swclass, switches in groupby(sorted(self.switches, key=lambda s: str(type(s))), type):
            switches = tuple(switches)
            if hasattr(swclass, "batchStartup"):
                swclass.batchStartup(switches)
        info("\n")
        if self.waitConn:
            self.waitConnected(self.waitConn)

    def stop(self) -> None:
        info(f"*** Stopping {len(self.controllers)} controllers\n")
        self._engine.stopping = True
        try:
            for controller in self.controllers:
                info(controller.name + " ")
                controller.stop()
            info("\n")
            if self.terms:
                self.stopXterms()
            info(f"*** Stopping {len(self.links)} links\n")
            for l in self.links:
                info(".")
                l.stop()
            info("\n")
            info(f"*** Stopping {len(self.switches)} switches\n")
            stopped: dict = {}
            for swclass, switches in groupby(sorted(self.switches, key=lambda s: str(type(s))), type):
                switches = tuple(switches)
                if hasattr(swclass, "batchShutdown"):
                    stopped.update({s: s for s in swclass.batchShutdown(switches)})
            for switch in self.switches:
                info(switch.name + " ")
                if switch not in stopped:
                    switch.stop()
                switch.terminate()
            info("\n")
            info(f"*** Stopping {len(self.hosts)} hosts\n")
            for host in self.hosts:
                info(host.name + " ")
                host.terminate()
        finally:
            self._engine.stop()
        info("\n*** Done\n")

    def run(self, test: Callable, *args: Any, **kwargs: Any) -> Any:
        self.start()
        info("*** Running test\n")
        result = test(*args, **kwargs)
        self.stop()
        return result

    def monitor(self, hosts: list | None = None, timeoutms: int = -1):
        hosts = hosts if hosts is not None else self.hosts
        poller = select.poll()
        for host in hosts:
            poller.register(host.stdout)
        while True:
            ready = poller.poll(timeoutms)
            for fd, event in ready:
                host = Node.fdToNode(fd)
                if event & select.POLLIN:
                    line = host.readline()
                    if line is not None:
                        yield host, line
            if not ready and timeoutms >= 0:
                yield None, None

    # ------------------------------------------------------------ tests

    def _pings(self, hosts: list, timeout: Any) -> dict:
        """(src, dst) -> (sent, received, rtts): one echo per ordered pair, the sources one after
        another in Mininet's order (so a host's own traffic teaches the switches where it is
        before the others ping it, as in Mininet), each source's destinations all at once."""
        wait = float(timeout) if timeout else PING_TIMEOUT
        net = self.network
        results: dict = {}
        pairs = [(s, d) for s in hosts for d in hosts if s is not d and d.intfs and d.IP()]
        if len(pairs) > 400 and net.arp == "auto" and not net.static_arp:
            net.install_static_arp()             # the kernel's shared neighbour table holds 1024
        for src in hosts:
            mine = [(s, d) for s, d in pairs if s is src]
            if mine:
                found = net.ping_pairs([(s.name, d.IP()) for s, d in mine], count=1, timeout=wait)
                results.update(zip(mine, found))
        return results

    @staticmethod
    def _parsePing(pingOutput: str) -> tuple[int, int]:
        import re
        if "connect: Network is unreachable" in pingOutput:
            return 1, 0
        m = re.search(r"(\d+) packets transmitted, (\d+)( packets)? received", pingOutput)
        if m is None:
            error(f"*** Error: could not parse ping output: {pingOutput}\n")
            return 1, 0
        return int(m.group(1)), int(m.group(2))

    def ping(self, hosts: list | None = None, timeout: Any = None) -> float:
        """Ping between all the given hosts (all hosts by default); the loss percentage."""
        packets = lost = 0
        if not hosts:
            hosts = self.hosts
            output("*** Ping: testing ping reachability\n")
        results = self._pings(hosts, timeout)
        for node in hosts:
            output(f"{node.name} -> ")
            for dest in hosts:
                if node is dest:
                    continue
                sent, received, _ = results.get((node, dest), (1, 0, [])) if dest.intfs else (0, 0, [])
                packets += sent
                lost += sent - received
                output(f"{dest.name} " if received else "X ")
            output("\n")
        if packets > 0:
            ploss = 100.0 * lost / packets
            output("*** Results: %i%% dropped (%d/%d received)\n" % (ploss, packets - lost, packets))
        else:
            ploss = 0
            output("*** Warning: No packets sent\n")
        return ploss

    @staticmethod
    def _parsePingFull(pingOutput: str) -> tuple:
        import re
        error_tuple = (1, 0, 0, 0, 0, 0)
        if re.search(r"[uU]nreachable", pingOutput):
            return error_tuple
        m = re.search(r"(\d+) packets transmitted, (\d+)( packets)? received", pingOutput)
        if m is None:
            return error_tuple
        sent, received = int(m.group(1)), int(m.group(2))
        m = re.search(r"rtt min/avg/max/mdev = (\d+\.\d+)/(\d+\.\d+)/(\d+\.\d+)/(\d+\.\d+) ms", pingOutput)
        if m is None:
            return error_tuple
        return (sent, received, *(float(g) for g in m.groups()))

    def pingFull(self, hosts: list | None = None, timeout: Any = None) -> list:
        """Ping between the given hosts; (src, dst, (sent, received, min, avg, max, mdev)) each."""
        all_outputs = []
        if not hosts:
            hosts = self.hosts
            output("*** Ping: testing ping reachability\n")
        results = self._pings(hosts, timeout)
        for node in hosts:
            output(f"{node.name} -> ")
            for dest in hosts:
                if node is dest:
                    continue
                sent, received, rtts = results.get((node, dest), (1, 0, []))
                if received and rtts:
                    mean = sum(rtts) / len(rtts)
                    mdev = math.sqrt(sum((r - mean) ** 2 for r in rtts) / len(rtts))
                    outputs = (sent, received, min(rtts), mean, max(rtts), mdev)
                else:
                    outputs = (1, 0, 0, 0, 0, 0)
                all_outputs.append((node, dest, outputs))
                output(f"{dest.name} " if received else "X ")
            output("\n")
        output("*** Results: \n")
        for src, dest, (sent, received, rttmin, rttavg, rttmax, rttdev) in all_outputs:
            output(f" {src}->{dest}: {sent}/{received}, ")
            output("rtt min/avg/max/mdev %0.3f/%0.3f/%0.3f/%0.3f ms\n" % (rttmin, rttavg, rttmax, rttdev))
        return all_outputs

    def pingAll(self, timeout: Any = None) -> float:
        return self.ping(timeout=timeout)

    def pingPair(self) -> float:
        return self.ping(hosts=[self.hosts[0], self.hosts[1]])

    def pingAllFull(self) -> list:
        return self.pingFull()

    def pingPairFull(self) -> list:
        return self.pingFull(hosts=[self.hosts[0], self.hosts[1]])

    @staticmethod
    def _parseIperf(iperfOutput: str) -> str:
        import re
        m = re.findall(r"([\d\.]+ \w+/sec)", iperfOutput)
        if m:
            return m[-1]
        error("could not parse iperf output: " + iperfOutput)
        return ""

    def iperf(self, hosts: list | None = None, l4Type: str = "TCP", udpBw: str = "10M", fmt: str | None = None,
              seconds: int = 5, port: int = 5001) -> list[str]:
        """iperf (2, as Mininet) between two hosts (the first and the last by default):
        [server rate, client rate] (UDP: [udpBw, server, client]), e.g. '9.57 Mbits/sec'."""
        hosts = hosts or [self.hosts[0], self.hosts[-1]]
        if len(hosts) != 2:
            raise UsageError(f"iperf takes two hosts, got {len(hosts)}")
        client, server = hosts
        if l4Type not in ("TCP", "UDP"):
            raise UsageError(f"Unexpected l4 type: {l4Type}")
        output("*** Iperf: testing", l4Type, "bandwidth between", client, "and", server, "\n")
        udp = l4Type == "UDP"
        args = ["iperf", "-p", str(port), *(["-u"] if udp else []), *(["-f", fmt] if fmt else [])]
        proc = server.popen([*args, "-s"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
        try:
            kind = "u" if udp else "t"
            if not _wait(lambda: server.handle.run(["ss", f"-Hl{kind}n", f"sport = :{port}"]).stdout.strip(),
                         IPERF_READY):
                raise UsageError(f"iperf: the server in {server} did not listen on port {port} within "
                                 f"{IPERF_READY:.0f} s")
            bw = ["-b", udpBw] if udp else []
            done = client.handle.run([*args, "-t", str(int(seconds)), "-c", server.IP(), *bw],
                                     timeout=seconds + IPERF_GRACE)
            cliout = done.stdout + done.stderr
            servout = _read_until(proc, lambda text: text.count("/sec") >= 1, IPERF_GRACE)
        finally:
            _stop(proc)
        debug(f"Client output: {cliout}\n")
        debug(f"Server output: {servout}\n")
        result = [self._parseIperf(servout), self._parseIperf(cliout)]
        if udp:
            result.insert(0, udpBw)
        output(f"*** Results: {result}\n")
        return result

    def iperfSingle(self, hl: list | None = None, l4Type: str = "TCP", udpBw: str = "10M", seconds: int = 5,
                    port: int = 5001) -> list[str]:
        """One iperf test between a pair of hosts (the first two by default)."""
        return self.iperf(hl or [self.hosts[0], self.hosts[1]], l4Type=l4Type, udpBw=udpBw, seconds=seconds,
                          port=port)

    def runCpuLimitTest(self, cpu: float, duration: int = 5) -> list[float]:
        """Busy loops in every host; the CPU fraction each got per second (testbed's cgroups)."""
        pct = cpu * 100
        info("*** Testing CPU %.0f%% bandwidth limit\n" % pct)
        hosts = self.hosts
        cores = numCores()
        procs = int(math.ceil(cores * cpu))
        pids: dict = {}
        for h in hosts:
            pids[h] = []
            for _ in range(procs):
                h.cmd("while true; do a=1; done &")
                pids[h].append(h.cmd("echo $!").strip())
        outputs: dict = {h: [] for h in hosts}
        used = {h: h.cpuSeconds() for h in hosts}
        for _ in range(duration):
            time.sleep(1)
            for h in hosts:
                now = h.cpuSeconds()
                outputs[h].append((now - used[h]) / cores * 100)
                used[h] = now
        for h, ids in pids.items():
            for pid in ids:
                h.cmd(f"kill -9 {pid}")
        fractions = [pct for values in outputs.values() for pct in values]
        output(f"*** Results: {fractions}\n")
        return fractions

    def configLinkStatus(self, src: str, dst: str, status: str) -> None:
        if src not in self.nameToNode:
            error(f"src not in network: {src}\n")
        elif dst not in self.nameToNode:
            error(f"dst not in network: {dst}\n")
        else:
            a, b = self.nameToNode[src], self.nameToNode[dst]
            connections = a.connectionsTo(b)
            if not connections:
                error(f"src and dst not connected: {a} {b}\n")
            for ours, theirs in connections:
                for intf in (ours, theirs):
                    result = intf.ifconfig(status)
                    if result:
                        error(f"link status change failed: {result}\n")

    def interact(self):
        from testbed.compat.cli import CLI
        self.start()
        result = CLI(self)
        self.stop()
        return result

    inited = False

    @classmethod
    def init(cls) -> None:
        if cls.inited:
            return
        ensureRoot()
        fixLimits()
        cls.inited = True


class MininetWithControlNet(Mininet):
    """Mininet with an explicit control network: here every switch reaches its controllers
    inside its own namespace, so no control network is built."""

    def configureControlNetwork(self) -> None:
        say_once("controlnet", "MininetWithControlNet: switches reach their controllers inside their own "
                               "namespaces; no control network is built")


def _wait(check: Callable[[], Any], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return bool(check())


def _read_until(proc: subprocess.Popen, enough: Callable[[str], bool], timeout: float) -> str:
    """What a process printed, until ``enough(text)`` or ``timeout`` seconds or its end."""
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    text = ""
    deadline = time.monotonic() + timeout
    while not enough(text) and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            data = os.read(fd, 65536)
            if not data:
                break
            text += data.decode(errors="replace")
    return text


def _stop(proc: subprocess.Popen) -> None:
    procs.end_child(proc)
    if proc.stdout is not None:
        proc.stdout.close()


__all__ = ["Mininet", "MininetWithControlNet", "VERSION"]

