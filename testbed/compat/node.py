"""``mininet.node`` on testbed: Node, Host, CPULimitedHost, the switch and controller classes.

A node object declares its testbed node when it is made (testbed/compat/engine.py) and
is built with the rest of its network the first time something needs the kernel. Every
node is a namespace of testbed's own, even one Mininet would put in the root namespace
(``inNamespace=False``): testbed never builds anything there. Commands (``cmd``,
``sendCmd``, the CLI) go through the node's persistent shell, started on first use
(testbed/compat/shell.py); ``popen``/``pexec`` start processes in the node directly.
What the classes stand for:

    Node, Host                a host (kind host) with only the addresses given to it, IPv6
                              on, no default route unless ``defaultRoute``: as Mininet's
    CPULimitedHost            a host whose processes share a CFS quota (a cgroup, v2 or v1)
    OVSSwitch, OVSKernelSwitch an Open vSwitch bridge served by a private OVS in its
    UserSwitch, IVSSwitch     namespace (the userspace datapath where the kernel lacks the
                              openvswitch module); failMode as given (Mininet: secure)
    OVSBridge                 the same, standalone (a learning switch, no controller)
    LinuxBridge (nodelib)     a Linux bridge (optionally with STP)
    Controller, OVSController a controller the switches connect to; each switch that uses
    NOX, Ryu                  it gets its own instance, inside the switch's namespace,
                              listening on 127.0.0.1:<port> there (the reference controller
                              is ovs-testcontroller: no system controller binary needed)
    RemoteController          a controller elsewhere: one of this process's controllers when
                              it names 127.0.0.1 and that controller's port; otherwise out of
                              reach (testbed's switches never reach the machine's own network)
"""
from __future__ import annotations

import functools
import ipaddress
import os
import re
import shlex
import subprocess
from subprocess import PIPE
from typing import Any, ClassVar

from mininet.log import debug, error, info, warn

from testbed.compat.engine import Engine
from testbed.compat.link import Intf, Link
from testbed.compat.notes import DEFAULT_PREFIX, cidr, say_once
from testbed.compat.shell import Shell
from testbed.compat.util import BaseString, decode, isShellBuiltin, moveIntf, numCores, set_param
from testbed.errors import TestbedError, UsageError
from testbed.kernel import procs

def resolve(factory: Any) -> tuple[type | None, dict]:
    """The class a node factory makes and the parameters bound into it (partial, custom())."""
    params: dict = {}
    while True:
        if isinstance(factory, functools.partial):
            params = {**(factory.keywords or {}), **params}
            factory = factory.func
        elif getattr(factory, "_mn_class", None) is not None:
            params = {**factory._mn_params, **params}
            factory = factory._mn_class
        else:
            break
    return (factory if isinstance(factory, type) else None), params


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Node:
    """A network node: a namespace of its own, a persistent shell started on first use."""

    portBase = 0
    role = "host"                      # how the network builds it: "host", "switch", "controller"
    inToNode: ClassVar[dict[int, "Node"]] = {}
    outToNode: ClassVar[dict[int, "Node"]] = {}

    def __init__(self, name: str, inNamespace: bool = True, **params: Any):
        self.checkSetup()
        self.name = params.get("name", name)
        self.privateDirs = params.get("privateDirs", [])
        self.inNamespace = params.get("inNamespace", inNamespace)
        self.params = params
        self.intfs: dict[int, Any] = {}
        self.ports: dict[Any, int] = {}
        self.nameToIntf: dict[str, Any] = {}
        self._shell: Shell | None = None
        self._exited = False
        self.engine = Engine.current()
        self._declare()

    def _declare(self) -> None:
        self.engine.declare_node(self, type(self).node_attrs(self.name, self.params))

    @classmethod
    def node_attrs(cls, name: str, params: dict) -> dict:
        """The testbed node attributes a node of this class with these parameters stands for."""
        attrs: dict[str, Any] = {"kind": "host", "auto_ip": False, "ipv6": True, "default_route": "none"}
        if params.get("ip"):
            attrs["ip"] = cidr(params["ip"])
        if params.get("mac"):
            attrs["mac"] = params["mac"]
        route = params.get("defaultRoute")
        if isinstance(route, str) and route.split()[:1] == ["via"] and len(route.split()) == 2:
            attrs["default_route"] = route.split()[1]
        if params.get("inNamespace") is False and cls.role == "host":
            say_once("root-namespace", f"{name} asks for the root namespace (inNamespace=False); testbed puts "
                                       "every node in a namespace of its own and never changes the machine's own network")
        return attrs

    # ------------------------------------------------------------ the testbed node behind it

    @property
    def handle(self):
        """The testbed node handle (the network is built first if it is not yet)."""
        return self.engine.handle(self.name)

    @property
    def namespace(self) -> str:
        return self.handle.netns

    def _realized(self) -> None:
        """(engine) the network was built: read the planned MACs and addresses of our interfaces."""
        if not self.engine.realized(self.name):
            return
        plan = self.engine.net.plan.node(self.name)
        for intf in self.intfList():
            if intf.name == "lo" or getattr(intf, "_home", None) is not None:
                continue
            try:
                planned = plan.interface(intf.name)
            except KeyError:
                continue
            intf._home = self
            intf.mac = planned.mac
            if planned.addresses and intf.ip is None:
                ip, _, prefix = planned.addresses[0].partition("/")
                intf.ip, intf.prefixLen = ip, int(prefix)

    def _run(self, *argv: str) -> str:
        """Run a command in the node without its shell (for this layer's own configuration)."""
        result = self.handle.run(list(argv))
        return result.stdout + result.stderr

    def _run_status(self, *argv: str) -> int:
        """Run a command in the node without its shell; its exit status."""
        return self.handle.run(list(argv)).returncode

    # ------------------------------------------------------------ the shell

    def _ensure_shell(self) -> Shell | None:
        if self._shell is None and not self._exited:
            handle = self.handle
            shell = self.engine.take_shell(self.name)
            if shell is None and self.engine.building:
                self.engine.prespawn_like(self)
                shell = self.engine.take_shell(self.name)
            self._shell = (shell or Shell(handle, self.name)).ready()
            Node.outToNode[self._shell.master] = self
            Node.inToNode[self._shell.master] = self
            self._after_shell()
        return self._shell

    def _after_shell(self) -> None:
        self.mountPrivateDirs()

    def startShell(self, mnopts: Any = None) -> None:
        self._ensure_shell()

    @property
    def shell(self):
        shell = self._ensure_shell()
        return shell.proc if shell is not None else None

    @property
    def pid(self) -> int | None:
        shell = self._ensure_shell()
        return shell.pid if shell is not None else None

    @property
    def stdout(self):
        shell = self._ensure_shell()
        return shell.stdout if shell is not None else None

    stdin = stdout

    @property
    def pollOut(self):
        shell = self._ensure_shell()
        return shell.poller if shell is not None else None

    @property
    def waiting(self) -> bool:
        return self._shell.waiting if self._shell is not None else False

    @property
    def lastPid(self) -> int | None:
        return self._shell.last_pid if self._shell is not None else None

    @property
    def lastCmd(self) -> str | None:
        return self._shell.last_cmd if self._shell is not None else None

    @classmethod
    def fdToNode(cls, fd: int) -> "Node | None":
        return cls.outToNode.get(fd) or cls.inToNode.get(fd)

    def read(self, size: int = 1024) -> str:
        return self._ensure_shell().read(size)

    def readline(self) -> str | None:
        return self._ensure_shell().readline()

    def write(self, data: str) -> None:
        self._ensure_shell().write(data)

    def waitReadable(self, timeoutms: float | None = None):
        shell = self._ensure_shell()
        return shell.poller.poll(timeoutms) if not shell.buffer else None

    def sendCmd(self, *args: Any, **kwargs: Any) -> None:
        """Send a command to the shell and return at once (``waiting`` until it ends)."""
        shell = self._ensure_shell()
        if shell is None:
            raise UsageError(f"node {self.name}: its shell has exited")
        if len(args) == 1 and isinstance(args[0], list):
            command = " ".join(str(c) for c in args[0])
        elif len(args) == 1:
            command = str(args[0])
        else:
            command = " ".join(str(c) for c in args)
        shell.send(command)

    def sendInt(self, intr: str = chr(3)) -> None:
        debug(f"sendInt: writing chr({ord(intr)})\n")
        self._ensure_shell().interrupt(intr)

    def monitor(self, timeoutms: float | None = None, findPid: bool = True) -> str:
        return self._ensure_shell().monitor(timeoutms, findPid)

    def waitOutput(self, verbose: bool = False, findPid: bool = True) -> str:
        return self._ensure_shell().wait_output(verbose, findPid)

    def cmd(self, *args: Any, **kwargs: Any) -> str | None:
        """Run a command in the node's shell and return its output (as a terminal shows it)."""
        verbose = kwargs.get("verbose", False)
        (info if verbose else debug)(f"*** {self.name} : {args}\n")
        if self._ensure_shell() is None or self._shell.closed:
            warn(f"({self} exited - ignoring cmd{args})\n")
            return None
        self.sendCmd(*args, **kwargs)
        return self.waitOutput(verbose)

    def cmdPrint(self, *args: Any) -> str | None:
        return self.cmd(*args, **{"verbose": True})

    def popen(self, *args: Any, **kwargs: Any) -> subprocess.Popen:
        """A process in the node (stdout and stderr pipes by default), as Mininet's popen."""
        options = {"stdout": PIPE, "stderr": PIPE}
        options.update(kwargs)
        shell = options.pop("shell", False)
        options.pop("mncmd", None)
        if len(args) == 1 and isinstance(args[0], list):
            argv = [str(a) for a in args[0]]
        elif len(args) == 1 and isinstance(args[0], BaseString):
            argv = [args[0]] if shell else shlex.split(args[0])
        elif args:
            argv = [str(a) for a in args]
        else:
            raise UsageError("popen() needs a command: a string, a list, or several arguments")
        if shell:
            argv = [os.environ.get("SHELL", "/bin/sh"), "-c", " ".join(argv)]
        return self.handle.popen(self._enter_private(argv), **options)

    def _enter_private(self, argv: list[str]) -> list[str]:
        """With private directories, processes join the shell's mount namespace, where they are."""
        if not self.privateDirs:
            return argv
        return ["nsenter", f"--mount=/proc/{self.pid}/ns/mnt", "--", *argv]

    def pexec(self, *args: Any, **kwargs: Any) -> tuple[str, str, int]:
        popen = self.popen(*args, stdin=PIPE, stdout=PIPE, stderr=PIPE, **kwargs)
        out, err = popen.communicate()
        return decode(out), decode(err), popen.wait()

    def terminate(self) -> None:
        """Stop the node's shell (and what runs in its process group)."""
        self._forget_shell()
        self._exited = True

    def _forget_shell(self) -> None:
        if self._shell is not None:
            Node.outToNode.pop(self._shell.master, None)
            Node.inToNode.pop(self._shell.master, None)
            self._shell.stop()
            self._shell = None

    def stop(self, deleteIntfs: bool = False) -> None:
        if deleteIntfs:
            self.deleteIntfs()
        self.terminate()

    def cleanup(self) -> None:
        self.terminate()

    def mountPrivateDirs(self) -> None:
        """Private directories, in the shell's own mount namespace (a tmpfs, or a bind mount)."""
        for directory in self.privateDirs:
            if isinstance(directory, tuple):
                mount_point, private = directory[0], directory[1] % self.__dict__
                self._shell.cmd(f"mkdir -p {shlex.quote(private)} {shlex.quote(mount_point)} && "
                                f"mount --bind {shlex.quote(private)} {shlex.quote(mount_point)}")
            else:
                self._shell.cmd(f"mkdir -p {shlex.quote(directory)} && mount -n -t tmpfs tmpfs {shlex.quote(directory)}")

    def unmountPrivateDirs(self) -> None:
        """Nothing to do: the mounts go with the shell's mount namespace."""

    # ------------------------------------------------------------ interfaces

    def newPort(self) -> int:
        return max(self.ports.values()) + 1 if self.ports else self.portBase

    def addIntf(self, intf: Any, port: int | None = None, moveIntfFn: Any = moveIntf) -> None:
        if port is None:
            port = self.newPort()
        self.intfs[port] = intf
        self.ports[intf] = port
        self.nameToIntf[intf.name] = intf
        debug(f"added intf {intf} ({port}) to node {self.name}\n")
        home = getattr(intf, "_home", None)
        if home is not None and home is not self and moveIntfFn is not None:
            debug("moving", intf, "into namespace for", self.name, "\n")
            moveIntfFn(intf.name if moveIntfFn is not moveIntf else _Located(intf, home), self)
            intf._home = self

    def delIntf(self, intf: Any) -> None:
        port = self.ports.get(intf)
        if port is not None:
            del self.intfs[port]
            del self.ports[intf]
            self.nameToIntf.pop(intf.name, None)

    def defaultIntf(self):
        ports = self.intfs.keys()
        if ports:
            return self.intfs[min(ports)]
        warn("*** defaultIntf: warning:", self.name, "has no interfaces\n")
        return None

    def intf(self, intf: Any = None):
        if not intf:
            return self.defaultIntf()
        if isinstance(intf, BaseString):
            return self.nameToIntf.get(intf)
        return intf

    def connectionsTo(self, node: "Node") -> list[tuple[Any, Any]]:
        connections = []
        for intf in self.intfList():
            link = intf.link
            if link:
                node1, node2 = link.intf1.node, link.intf2.node
                if node1 is self and node2 is node:
                    connections.append((intf, link.intf2))
                elif node1 is node and node2 is self:
                    connections.append((intf, link.intf1))
        return connections

    def deleteIntfs(self, checkName: bool = True) -> None:
        for intf in list(self.intfs.values()):
            if intf.name == "lo":
                continue
            if not checkName or self.name in intf.name:
                intf.delete()

    def intfList(self) -> list:
        return [self.intfs[p] for p in sorted(self.intfs)]

    def intfNames(self) -> list[str]:
        return [str(i) for i in self.intfList()]

    # ------------------------------------------------------------ configuration

    def setARP(self, ip: str, mac: str) -> str:
        return self._run("arp", "-s", ip, mac)

    def setHostRoute(self, ip: str, intf: Any) -> str:
        return self._run("ip", "route", "replace", ip, "dev", str(intf))

    def setDefaultRoute(self, intf: Any = None) -> str:
        """``'via 10.0.0.1'`` or an interface: the node's default route, replacing any other."""
        params = str(intf) if isinstance(intf, BaseString) and " " in intf else f"dev {self.intf(intf)}"
        words = params.split()
        if words[:1] == ["via"] and self._has_default_route(words[1]):
            return ""
        self._run("ip", "route", "del", "default")
        return self._run("ip", "route", "add", "default", *words)

    def _has_default_route(self, via: str) -> bool:
        """Whether the plan already gave the node this default route (no command then)."""
        if not self.engine.realized(self.name):
            return False
        return any(r.dst == "default" and r.via == via for r in self.engine.net.plan.node(self.name).routes)

    def setMAC(self, mac: str, intf: Any = None) -> str:
        return self.intf(intf).setMAC(mac)

    def setIP(self, ip: str, prefixLen: int = DEFAULT_PREFIX, intf: Any = None, **kwargs: Any) -> str:
        return self.intf(intf).setIP(ip, prefixLen, **kwargs)

    def IP(self, intf: Any = None) -> str | None:
        found = self.intf(intf)
        return found.IP() if found is not None else None

    def MAC(self, intf: Any = None) -> str | None:
        found = self.intf(intf)
        return found.MAC() if found is not None else None

    def intfIsUp(self, intf: Any = None) -> bool:
        return self.intf(intf).isUp()

    def setParam(self, results: dict, method: str, **param: Any) -> Any:
        return set_param(self, results, method, **param)

    def config(self, mac: str | None = None, ip: str | None = None, defaultRoute: Any = None,
               lo: str = "up", **_params: Any) -> dict:
        """Set the node's MAC, IP and default route (what the build already did is not redone)."""
        r: dict = {}
        self.setParam(r, "setMAC", mac=mac)
        self.setParam(r, "setIP", ip=ip)
        self.setParam(r, "setDefaultRoute", defaultRoute=defaultRoute)
        if lo != "up":
            self._run("ip", "link", "set", "lo", lo)
        return r

    def configDefault(self, **moreParams: Any) -> dict:
        self.params.update(moreParams)
        return self.config(**self.params)

    def linkTo(self, node: "Node", link: Any = None):
        return (link or Link)(self, node)

    def __repr__(self) -> str:
        intfs = ",".join(f"{i.name}:{i.IP()}" for i in self.intfList())
        pid = self._shell.pid if self._shell is not None else None
        return f"<{self.__class__.__name__} {self.name}: {intfs} pid={pid}> "

    def __str__(self) -> str:
        return self.name

    def __lt__(self, other: "Node") -> bool:
        return self.name < other.name

    # ------------------------------------------------------------ class checks

    isSetup = False

    @classmethod
    def checkSetup(cls) -> None:
        if not cls.__dict__.get("isSetup", False):
            cls.setup()
            cls.isSetup = True

    @classmethod
    def setup(cls) -> None:
        return None


class _Located:
    """An interface name with the node whose namespace holds it (for util.moveIntf)."""

    def __init__(self, intf: Any, node: Node):
        self.intf, self.node = intf, node

    def __str__(self) -> str:
        return self.intf.name


class Host(Node):
    """A host is simply a Node."""


class CPULimitedHost(Host):
    """A host whose processes share a CPU limit (the CFS quota of a cgroup, v2 or v1).

    ``cpu`` is a fraction of the whole machine, as in Mininet (0.5 on 2 cores: one core's
    worth). ``sched='rt'`` (real-time group scheduling) is given the same quota with CFS.
    """

    def __init__(self, name: str, sched: str = "cfs", **kwargs: Any):
        Host.__init__(self, name, **kwargs)
        self.sched = sched
        self.period_us = kwargs.get("period_us", 100_000)
        self.cpu = -1
        self.cgroup = None

    def config(self, cpu: float = -1, cores: Any = None, **params: Any) -> dict:
        r = Host.config(self, **params)
        self.setParam(r, "setCPUFrac", cpu=cpu)
        self.setParam(r, "setCPUs", cores=cores)
        return r

    def setCPUFrac(self, f: float, sched: str | None = None) -> None:
        """Limit the host to ``f`` of the machine's CPU time (f < 0: no limit)."""
        sched = sched or self.sched
        if f is None or f < 0:
            return
        if sched == "rt":
            say_once("rt", "CPULimitedHost sched='rt': testbed limits CPU with a CFS quota; real-time "
                           "group scheduling is not used (the same fraction applies)")
        shell = self._shell
        fraction = f * numCores()
        self.engine.net.limit_cpu(self.name, fraction, int(self.period_us),
                                  pids=[shell.pid] if shell is not None else ())
        self.cpu = f
        self.cgroup = f"cpu:/testbed/{self.engine.net.run_id}/{self.name}"
        quota = int(round(fraction * self.period_us))
        info(f"({sched} {quota}/{int(self.period_us)}us) ")

    def setCPUs(self, cores: Any, mems: int = 0) -> None:
        say_once("cpuset", "CPULimitedHost cores=: testbed does not pin hosts to CPUs (cpusets); ignored")

    def cpuSeconds(self) -> float:
        """CPU time this host's processes used (testbed's reading of its cgroup)."""
        return self.engine.net.cpu_seconds(self.name)


# ---------------------------------------------------------------- switches

class Switch(Node):
    """An OpenFlow switch: a testbed switch node in a namespace of its own."""

    portBase = 1
    dpidLen = 16
    role = "switch"
    backend = "ovs"

    def __init__(self, name: str, dpid: str | None = None, opts: str = "", listenPort: int | None = None,
                 **params: Any):
        self.controlIntf = None
        Node.__init__(self, name, **params)
        self.dpid = self.defaultDpid(dpid)
        self.opts = opts
        self.listenPort = listenPort
        self.controllers: list = []
        if not self.inNamespace:
            self.controlIntf = Intf("lo", self, port=0)

    @classmethod
    def node_attrs(cls, name: str, params: dict) -> dict:
        return {"kind": "switch", "backend": cls.backend}

    def defaultDpid(self, dpid: str | None = None) -> str:
        if dpid:
            dpid = dpid.replace(":", "")
            if len(dpid) > self.dpidLen or int(dpid, 16) < 0:
                raise UsageError(f"switch {self.name}: dpid {dpid!r} is not a {self.dpidLen}-digit hex number")
        else:
            numbers = re.findall(r"\d+", self.name)
            if not numbers:
                raise UsageError(f"switch {self.name}: no datapath ID can be derived from the name; give "
                                 "dpid= or name it like s23")
            dpid = hex(int(numbers[0]))[2:]
        return "0" * (self.dpidLen - len(dpid)) + dpid

    def defaultIntf(self):
        return self.controlIntf if self.controlIntf else Node.defaultIntf(self)

    def start(self, controllers: list) -> None:
        self.controllers = list(controllers)

    def connected(self) -> bool:
        return True

    def stop(self, deleteIntfs: bool = True) -> None:
        if deleteIntfs:
            self.deleteIntfs()
        self.terminate()

    def __repr__(self) -> str:
        intfs = ",".join(f"{i.name}:{i.IP()}" for i in self.intfList())
        pid = self._shell.pid if self._shell is not None else None
        return f"<{self.__class__.__name__} {self.name}: {intfs} pid={pid}> "


class OVSSwitch(Switch):
    """An Open vSwitch bridge (a private OVS in its namespace), connected to its controllers."""

    def __init__(self, name: str, failMode: str = "secure", datapath: str = "kernel", inband: bool = False,
                 protocols: str | None = None, reconnectms: int = 1000, stp: bool = False, batch: bool = False,
                 **params: Any):
        self.failMode = failMode
        self.datapath = datapath
        self.inband = inband
        self.protocols = protocols
        self.reconnectms = reconnectms
        self.stp = stp
        self.batch = batch
        self._targets: list[str] = []
        Switch.__init__(self, name, failMode=failMode, datapath=datapath, stp=stp, **params)

    @classmethod
    def node_attrs(cls, name: str, params: dict) -> dict:
        fail = params.get("failMode", cls.default_fail_mode())
        if fail not in ("secure", "standalone"):
            raise UsageError(f"switch {name}: failMode {fail!r}: use 'secure' or 'standalone'")
        datapath = params.get("datapath", "kernel")
        attrs = {"kind": "switch", "backend": "ovs", "fail_mode": fail,
                 "datapath": "netdev" if datapath == "user" else "auto"}
        if params.get("stp"):
            attrs["stp"] = True
        if datapath != "user" and not os.path.isdir("/sys/module/openvswitch"):
            say_once("ovs-userspace", "this kernel has no openvswitch module: Open vSwitch switches use the "
                                      "userspace datapath (a private ovs-vswitchd per switch)")
        return attrs

    @classmethod
    def default_fail_mode(cls) -> str:
        return "secure"

    def _ovs(self, *argv: str) -> str:
        return self._run(*argv)

    def vsctl(self, *args: Any, **kwargs: Any) -> str:
        return self.cmd("ovs-vsctl", *args)

    def dpctl(self, *args: Any) -> str:
        """``ovs-ofctl COMMAND <switch> ARGS`` in the switch, as Mininet's dpctl."""
        if not args:
            raise UsageError("dpctl needs an ovs-ofctl command, e.g. dump-flows")
        return self.cmd("ovs-ofctl", args[0], self, *args[1:])

    def attach(self, intf: Any) -> None:
        port = self.ports.get(intf)
        request = ["--", "set", "Interface", str(intf), f"ofport_request={port}"] if port else []
        out = self._ovs("ovs-vsctl", "add-port", self.name, str(intf), *request)
        if out.strip():
            error(f"*** Error: {self.name}: attaching {intf}: {out.strip()}\n")

    def detach(self, intf: Any) -> None:
        self._ovs("ovs-vsctl", "--if-exists", "del-port", self.name, str(intf))

    def start(self, controllers: list) -> None:
        """Connect the bridge to its controllers (each one run beside the switch)."""
        self.controllers = list(controllers)
        self.handle                                           # built, if it was not yet
        self._run("ip", "link", "set", "lo", "up")
        targets = []
        for controller in self.controllers:
            target = controller.attach(self)
            if target:
                targets.append(target)
        targets = list(dict.fromkeys(targets))
        self._targets = targets
        commands = []
        if targets:                  # reconnect within reconnectms when a controller was not up yet
            ids = [f"@c{i}" for i in range(len(targets))]
            for ident, target in zip(ids, targets):
                commands += ["--", f"--id={ident}", "create", "Controller", f"target=\"{target}\"",
                             f"max_backoff={max(1000, int(self.reconnectms or 1000))}"]
            commands += ["--", "set", "bridge", self.name, f"controller=[{','.join(ids)}]"]
        else:
            commands += ["--", "del-controller", self.name]
            if self.controllers and self.failMode == "secure":
                say_once(f"standalone-{self.name}", f"{self.name} has no controller it can reach: it works as a "
                                                    "learning switch (fail_mode standalone)")
                commands += ["--", "set-fail-mode", self.name, "standalone"]
        if self.protocols:
            commands += ["--", "set", "bridge", self.name, f"protocols={self.protocols}"]
        out = self._ovs("ovs-vsctl", *commands[1:]) if commands else ""
        # each `create` prints the new row's UUID; anything else is a complaint
        problems = [line for line in out.splitlines() if line.strip() and not UUID.fullmatch(line.strip())]
        if problems:
            error(f"*** Error: {self.name}: {' '.join(problems)}\n")

    def connected(self) -> bool:
        if not self._targets:
            return True
        out = self._ovs("ovs-vsctl", "--columns=is_connected", "list", "controller")
        states = re.findall(r"is_connected\s*:\s*(\w+)", out)
        return bool(states) and all(s == "true" for s in states)

    def controllerUUIDs(self, update: bool = False) -> list[str]:
        out = self._ovs("ovs-vsctl", "--columns=_uuid", "--bare", "list", "controller")
        return out.split()

    @classmethod
    def batchStartup(cls, switches: list, run: Any = None) -> list:
        return list(switches)

    @classmethod
    def batchShutdown(cls, switches: list, run: Any = None) -> list:
        for switch in switches:
            switch.stop(deleteIntfs=False)
        return list(switches)

    def stop(self, deleteIntfs: bool = True) -> None:
        for controller in self.controllers:
            controller.detach(self)
        Switch.stop(self, deleteIntfs)

    @classmethod
    def isOldOVS(cls) -> bool:
        return False

    OVSVersion = "3.1"

    @staticmethod
    def TCReapply(intf: Any) -> None:
        return None

    def intfOpts(self, intf: Any) -> str:
        return ""

    def bridgeOpts(self) -> str:
        return ""


OVSKernelSwitch = OVSSwitch


class OVSBridge(OVSSwitch):
    """An Open vSwitch bridge that forwards by itself (standalone, no controller)."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.update(failMode="standalone")
        OVSSwitch.__init__(self, *args, **kwargs)

    @classmethod
    def default_fail_mode(cls) -> str:
        return "standalone"

    @classmethod
    def node_attrs(cls, name: str, params: dict) -> dict:
        return OVSSwitch.node_attrs.__func__(cls, name, {**params, "failMode": "standalone"})

    def start(self, controllers: list) -> None:
        OVSSwitch.start(self, [])

    def connected(self) -> bool:
        return True


class UserSwitch(OVSSwitch):
    """Mininet's reference user-space switch, built here as an Open vSwitch bridge with the
    userspace datapath (the reference switch is not packaged)."""

    def __init__(self, name: str, dpopts: str = "--no-slicing", **kwargs: Any):
        kwargs.setdefault("datapath", "user")
        self.dpopts = dpopts
        say_once("userswitch", "UserSwitch is built as an Open vSwitch bridge with the userspace datapath")
        OVSSwitch.__init__(self, name, **kwargs)

    @classmethod
    def node_attrs(cls, name: str, params: dict) -> dict:
        return OVSSwitch.node_attrs.__func__(cls, name, {"datapath": "user", **params})


class IVSSwitch(OVSSwitch):
    """Indigo Virtual Switch, built here as an Open vSwitch bridge (IVS is not packaged)."""

    def __init__(self, name: str, verbose: bool = False, **kwargs: Any):
        say_once("ivs", "IVSSwitch is built as an Open vSwitch bridge")
        OVSSwitch.__init__(self, name, **kwargs)


# ---------------------------------------------------------------- controllers

class Controller(Node):
    """An OpenFlow controller. Each switch using it gets an instance of it inside the switch's
    namespace, listening on 127.0.0.1:<port> there. Mininet's reference controller (command
    'controller') is ovs-testcontroller, a learning switch too."""

    role = "controller"
    _known: ClassVar[list["Controller"]] = []

    def __init__(self, name: str, inNamespace: bool = False, command: str = "controller", cargs: str = "ptcp:%d",
                 cdir: str | None = None, ip: str = "127.0.0.1", port: int = 6653, protocol: str = "tcp",
                 verbose: bool = False, **params: Any):
        self.command = command
        self.cargs = cargs
        self.cdir = cdir
        self.ip = ip
        self.port = port
        self.protocol = protocol
        self.verbose = verbose
        self.running = False
        self._instances: dict[str, subprocess.Popen] = {}
        self._as_host = Engine.adding() == "host"        # a host of its network (controlnet.py)
        Node.__init__(self, name, inNamespace=inNamespace, **params)
        Controller._known.append(self)

    def _declare(self) -> None:
        if self._as_host:
            self.engine.declare_node(self, Node.node_attrs(self.name, self.params))

    @property
    def handle(self):
        if not self._as_host:
            raise UsageError(f"controller {self.name} runs beside each switch that uses it; it has no "
                             "namespace of its own here (make it a host of the network to run commands in it)")
        return Node.handle.fget(self)

    def argv(self) -> list[str]:
        """The command line of one instance (listening on this controller's port)."""
        reference = self.command == "controller"          # Mininet's reference controller: OpenFlow 1.0
        command = "ovs-testcontroller" if reference else self.command
        args = self.cargs % self.port if "%" in self.cargs else self.cargs
        if command.endswith("ovs-testcontroller"):
            args = re.sub(r"\bptcp:(\d+)(?!:)", r"ptcp:\1:127.0.0.1", args)
        return [command, *(["-O", "OpenFlow10"] if reference else []), *shlex.split(args)]

    _serving: ClassVar[dict[tuple[int, str, int], "Controller"]] = {}   # (engine, switch, port) -> instance

    def attach(self, switch: Switch) -> str | None:
        """Run an instance beside ``switch``; the OpenFlow target the switch should use.
        Controllers on the same port share one instance there (the first one's)."""
        key = (id(switch.engine), switch.name, self.port)
        owner = Controller._serving.get(key)
        if owner is not None and owner is not self and owner._instances.get(switch.name) is not None \
                and owner._instances[switch.name].poll() is None:
            if owner.argv()[0] != self.argv()[0]:
                say_once(f"port-{switch.name}-{self.port}", f"controllers {owner.name} and {self.name} of "
                         f"{switch.name} both use port {self.port}; {owner.name}'s instance serves it")
            return f"{self.protocol}:127.0.0.1:{self.port}"
        Controller._serving[key] = self
        if switch.name not in self._instances or self._instances[switch.name].poll() is not None:
            argv = self.argv()
            import shutil
            if shutil.which(argv[0]) is None:
                raise UsageError(f"controller {self.name}: {argv[0]} is not installed "
                                 f"({'apt-get install openvswitch-testcontroller' if 'testcontroller' in argv[0] else 'install it'})")
            self._instances[switch.name] = switch.handle.popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                cwd=self.cdir or None)
        return f"{self.protocol}:127.0.0.1:{self.port}"

    def detach(self, switch: Switch) -> None:
        proc = self._instances.pop(switch.name, None)
        if proc is not None:
            procs.end_child(proc)

    def start(self) -> None:
        self.running = True

    def stop(self, *args: Any, **kwargs: Any) -> None:
        for name in list(self._instances):
            procs.end_child(self._instances.pop(name))
        self.running = False
        if self._as_host:
            Node.stop(self, *args, **kwargs)

    def checkListening(self) -> None:
        return None

    def IP(self, intf: Any = None) -> str:
        return Node.IP(self, intf) if self._as_host and self.intfs else self.ip

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} {self.name}: {self.IP()}:{self.port} pid={None}> "

    @classmethod
    def isAvailable(cls) -> bool:
        import shutil
        return shutil.which("ovs-testcontroller") is not None


class OVSController(Controller):
    def __init__(self, name: str, **kwargs: Any):
        kwargs.setdefault("command", "ovs-testcontroller")
        Controller.__init__(self, name, **kwargs)


class NOX(Controller):
    def __init__(self, name: str, *noxArgs: str, **kwargs: Any):
        args = " ".join(noxArgs) or "packetdump"
        Controller.__init__(self, name, command="nox_core", cargs=f"--libdir=/usr/local/lib -v -i ptcp:%s {args}",
                            **kwargs)


class Ryu(Controller):
    def __init__(self, name: str, ryuArgs: str = "ryu.app.simple_switch", command: str = "ryu-manager",
                 **kwargs: Any):
        if isinstance(ryuArgs, (list, tuple)):
            ryuArgs = " ".join(ryuArgs)
        Controller.__init__(self, name, command=command, cargs=f"--ofp-tcp-listen-port %s {ryuArgs}", **kwargs)


class RemoteController(Controller):
    """A controller that runs elsewhere. One of this process's controllers when it names
    127.0.0.1 and that controller's port; anything else is out of the switches' reach."""

    def __init__(self, name: str, ip: str = "127.0.0.1", port: int | None = None, **kwargs: Any):
        if ip == "localhost":
            ip = "127.0.0.1"
        Controller.__init__(self, name, ip=ip, port=port or 6653, **kwargs)

    def _local(self) -> Controller | None:
        if not self.ip.startswith("127."):
            return None
        return next((c for c in Controller._known if c is not self and not isinstance(c, RemoteController)
                     and c.port == self.port), None)

    def attach(self, switch: Switch) -> str | None:
        """The switch's OpenFlow target: a controller of this script on that port, else a relay
        (testbed/run/relay.py) to the controller on this machine's loopback or inside the node
        that has the address; anything else is out of reach (a run never leaves the machine)."""
        local = self._local()
        if local is not None:
            return local.attach(switch)
        owner = self._owner()
        if owner is not None or _is_loopback(self.ip):
            engine, node = owner if owner is not None else (switch.engine, None)
            where = f"inside {node}" if node else "on this machine's loopback"
            say_once(f"remote-{self.ip}:{self.port}",
                     f"remote controller {self.ip}:{self.port}: the switches reach it {where} through a relay")
            rundir = switch.engine.net[switch.name].environment.get("OVS_RUNDIR")
            return "unix:" + engine.net.relay(self.ip, self.port, node, directory=rundir)
        say_once(f"remote-{self.ip}:{self.port}",
                 f"remote controller {self.ip}:{self.port} is out of reach: testbed's switches reach this "
                 "machine's loopback and the nodes of the script's networks, never beyond the machine; run "
                 "the controller on 127.0.0.1 or inside a node")
        return None

    def _owner(self) -> tuple[Any, str] | None:
        """(engine, node) of the built node that has this controller's address, if any."""
        for engine in Engine.live():
            if engine.net is None:
                continue
            plan = engine.net.live_plan
            for node in plan.nodes:
                if any(str(i.ip) == self.ip for i in plan.ip_interfaces(node.name)):
                    return engine, node.name
        return None

    def detach(self, switch: Switch) -> None:
        local = self._local()
        if local is not None:
            local.detach(switch)

    def start(self) -> None:
        self.running = True

    def stop(self, *args: Any, **kwargs: Any) -> None:
        self.running = False


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:                             # a host name: not this machine's loopback
        return False


DefaultControllers = (Controller, OVSController)


def findController(controllers: tuple = DefaultControllers):
    for controller in controllers:
        if controller.isAvailable():
            return controller
    return None


def DefaultController(name: str, controllers: tuple = DefaultControllers, **kwargs: Any):
    controller = findController(controllers)
    if controller is None:
        raise EnvironmentError("no controller found: apt-get install openvswitch-testcontroller")
    return controller(name, **kwargs)


def NullController(*_args: Any, **_kwargs: Any) -> None:
    return None


__all__ = ["CPULimitedHost", "Controller", "DefaultController", "DefaultControllers", "Host", "IVSSwitch",
           "NOX", "Node", "NullController", "OVSBridge", "OVSController", "OVSKernelSwitch", "OVSSwitch",
           "RemoteController", "Ryu", "Switch", "UserSwitch", "findController", "isShellBuiltin", "say_once",
           "TestbedError"]
