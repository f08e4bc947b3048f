"""``mininet.link`` on testbed: Intf, TCIntf, Link, TCLink, OVSLink.

A Link declares a testbed link (a veth pair, named as Mininet names it: ``<node>-eth<port>``)
with its interfaces' settings: addresses, MACs, and for TCIntf the shaping of what each
end sends (``bw`` Mbit/s, ``delay``, ``jitter``, ``loss`` %, ``max_queue_size`` packets).
Once built, ``intf.config(bw=...)`` changes the running link through testbed's run-time
shaping (``Network.set_link``), and setIP/setMAC change the interface directly. What the
kernel cannot do (netem delay here) is refused before anything is built, naming ``--vm``;
shaping options testbed does not have (HFSC, TBF, RED, ECN, speedup) are said once and
the rate is shaped with htb.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mininet.log import error, info

from testbed.compat.notes import cidr, say_once
from testbed.compat.util import set_param
from testbed.errors import UsageError

if TYPE_CHECKING:
    from testbed.compat.node import Node

SHAPING = ("bw", "delay", "jitter", "loss", "queue")


class Intf:
    """One end of a link (or a node's loopback)."""

    def __init__(self, name: str, node: Node | None = None, port: int | None = None, link: Any = None,
                 mac: str | None = None, **params: Any):
        self.node = node
        self.name = name
        self.link = link
        self.mac = mac
        self.ip: str | None = None
        self.prefixLen: int | None = None
        self._home: Node | None = None              # the node whose namespace holds it, once built
        self._shaping: dict[str, Any] | None = None  # what this end sends, for a declared link
        if name == "lo":
            self.ip, self.prefixLen = "127.0.0.1", 8
        if node is not None:
            move = params.pop("moveIntfFn", None)
            node.addIntf(self, port=port, moveIntfFn=move)
        self.params = params
        self.config(**params)

    # ------------------------------------------------------------ where it is

    @property
    def built(self) -> bool:
        """Whether the kernel has it (its link was built)."""
        if self.name == "lo":
            return self.node is not None and self.node.engine.realized(self.node.name)
        link = self.link
        return link is not None and link.key is not None and self.node.engine.link_realized(link.key)

    def _declared(self) -> dict | None:
        """The declaration of our link while it is not built (None: built, or not declared yet)."""
        link = self.link
        if link is None or link.key is None:
            return None
        return self.node.engine.link_attrs(link.intf1.node.name, link.intf2.node.name, link.key)

    def _kernel(self) -> None:
        """Build the network if our link is not built yet (something needs the kernel)."""
        if not self.built:
            self.node.engine.realize()

    def cmd(self, *args: Any, **kwargs: Any) -> str:
        return self.node.cmd(*args, **kwargs)

    def ifconfig(self, *args: Any) -> str:
        self._kernel()
        return self.node._run("ifconfig", self.name, *[str(a) for a in args])

    # ------------------------------------------------------------ addresses

    def setIP(self, ipstr: str, prefixLen: int | None = None) -> str:
        if "/" in str(ipstr):
            ip, prefix = str(ipstr).split("/", 1)
            prefixLen = int(prefix)
        elif prefixLen is None:
            raise UsageError(f"{self.name}: no prefix length for IP address {ipstr} (give 10.0.0.1/8, or prefixLen)")
        else:
            ip = str(ipstr)
        self.ip, self.prefixLen = ip, int(prefixLen)
        declared = self._declared()
        if declared is not None or self.link is None or self.link.key is None:
            if declared is not None:
                declared.setdefault("ip", {})
                declared["ip"] = {**declared["ip"], self.node.name: f"{ip}/{prefixLen}"}
            return ""
        if self._planned_address() == f"{ip}/{prefixLen}":
            return ""                                    # the build gave it that address already
        self._kernel()
        return self.node._run("sh", "-c", f"ip -4 addr flush dev {self.name} && "
                                          f"ip addr add {ip}/{prefixLen} brd + dev {self.name} && "
                                          f"ip link set {self.name} up")

    def _planned_address(self) -> str | None:
        engine = self.node.engine
        if not engine.realized(self.node.name):
            return None
        try:
            planned = engine.net.plan.node(self.node.name).interface(self.name)
        except KeyError:
            return None
        return planned.addresses[0] if planned.addresses else None

    def setMAC(self, macstr: str) -> str:
        self.mac = macstr
        declared = self._declared()
        if declared is not None or self.link is None or self.link.key is None:
            if declared is not None:
                declared["mac"] = {**(declared.get("mac") or {}), self.node.name: macstr}
            return ""
        engine = self.node.engine
        try:
            planned = engine.net.plan.node(self.node.name).interface(self.name).mac
        except KeyError:
            planned = None
        if planned is not None and planned.lower() == macstr.lower():
            return ""
        return self.node._run("sh", "-c", f"ip link set {self.name} down && ip link set {self.name} address {macstr} "
                                          f"&& ip link set {self.name} up")

    def updateIP(self) -> str | None:
        self._kernel()
        out = self.node._run("ip", "-4", "-o", "addr", "show", "dev", self.name)
        words = out.split()
        if "inet" in words:
            ip, _, prefix = words[words.index("inet") + 1].partition("/")
            self.ip, self.prefixLen = ip, int(prefix or 32)
        else:
            self.ip = None
        return self.ip

    def updateMAC(self) -> str | None:
        self._kernel()
        out = self.node._run("ip", "-o", "link", "show", "dev", self.name)
        words = out.split()
        if "link/ether" in words:
            self.mac = words[words.index("link/ether") + 1]
        return self.mac

    def updateAddr(self) -> tuple[str | None, str | None]:
        return self.updateIP(), self.updateMAC()

    def IP(self) -> str | None:
        return self.ip

    def MAC(self) -> str | None:
        return self.mac

    def isUp(self, setUp: bool = False) -> bool:
        if setUp:
            out = self.ifconfig("up")
            if out:
                error(f"Error setting {self.name} up: {out} ")
                return False
            return True
        self._kernel()
        out = self.node._run("ip", "-o", "link", "show", "dev", self.name)
        flags = out.split("<", 1)[1].split(">", 1)[0].split(",") if "<" in out else []
        return "UP" in flags

    def rename(self, newname: str) -> str:
        if self.node and self.name in self.node.nameToIntf:
            self.node.nameToIntf[newname] = self.node.nameToIntf.pop(self.name)
        result = ""
        if self.built:
            result = self.node._run("sh", "-c", f"ip link set {self.name} down && ip link set {self.name} name "
                                                f"{newname} && ip link set {newname} up")
        self.name = newname
        return result

    def setParam(self, results: dict, method: str, **param: Any) -> Any:
        return set_param(self, results, method, **param)

    def config(self, mac: str | None = None, ip: str | None = None, ifconfig: Any = None, up: bool = True,
               **_params: Any) -> dict:
        r: dict = {}
        self.setParam(r, "setMAC", mac=mac)
        self.setParam(r, "setIP", ip=ip)
        if up is False:
            self.setParam(r, "ifconfig", ifconfig="down")
        self.setParam(r, "ifconfig", ifconfig=ifconfig)
        return r

    def delete(self) -> None:
        """Delete the interface: its link goes with it (a veth has two ends)."""
        if self.link is not None:
            self.link._remove()
        if self.node is not None:
            self.node.delIntf(self)
        self.link = None

    def status(self) -> str:
        if not self.node.engine.realized(self.node.name):
            return "MISSING"
        out = self.node._run("ip", "-o", "link", "show", "dev", self.name)
        return "OK" if self.name in out and "does not exist" not in out else "MISSING"

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} {self.name}>"

    def __str__(self) -> str:
        return self.name


class TCIntf(Intf):
    """An interface whose egress is shaped: what its node sends over the link."""

    def config(self, bw: float | None = None, delay: Any = None, jitter: Any = None, loss: float | None = None,
               gro: bool = False, txo: bool = True, rxo: bool = True, speedup: float = 0, use_hfsc: bool = False,
               use_tbf: bool = False, latency_ms: float | None = None, enable_ecn: bool = False,
               enable_red: bool = False, max_queue_size: int | None = None, **params: Any) -> dict | None:
        params.pop("disable_gro", None)
        params.pop("use_htb", None)
        result = Intf.config(self, **params)
        for flag, name in ((use_hfsc, "use_hfsc"), (use_tbf, "use_tbf")):
            if flag:
                say_once(name, f"TCIntf {name}: testbed shapes rates with htb; {name} is taken as htb")
        for flag, name in ((enable_ecn, "enable_ecn"), (enable_red, "enable_red"), (speedup, "speedup"),
                           (latency_ms, "latency_ms")):
            if flag:
                say_once(name, f"TCIntf {name}: not emulated by testbed (rate, delay, jitter, loss and queue "
                               "are); ignored")
        if bw is None and not delay and not loss and max_queue_size is None:
            return None                                 # as Mininet: nothing to shape, nothing changes
        stuff = ([f"{bw:.2f}Mbit"] if bw is not None else []) + \
                ([f"{delay} delay"] if delay is not None else []) + \
                ([f"{jitter} jitter"] if jitter is not None else []) + \
                ([f"{loss:.5f}% loss"] if loss is not None else []) + \
                (["ECN"] if enable_ecn else ["RED"] if enable_red else [])
        info("(" + " ".join(stuff) + ") ")
        settings = {"bw": bw, "delay": delay, "jitter": jitter, "loss": loss or None, "queue": max_queue_size}
        self._shaping = settings
        if self.link is not None and self.link.key is not None:
            self._apply_shaping()
        return result

    def _apply_shaping(self) -> None:
        link, node = self.link, self.node.name
        direction = {attr: {node: value} for attr, value in self._shaping.items()}
        link.engine.set_link(link.intf1.node.name, link.intf2.node.name, link.key, direction)

    def tc(self, cmd: str, tc: str = "tc") -> str:
        return self.cmd(cmd % (tc, self.name))


class Link:
    """A veth link between two nodes, named and numbered as Mininet does."""

    def __init__(self, node1: Node, node2: Node, port1: int | None = None, port2: int | None = None,
                 intfName1: str | None = None, intfName2: str | None = None, addr1: str | None = None,
                 addr2: str | None = None, intf: type = Intf, cls1: type | None = None, cls2: type | None = None,
                 params1: dict | None = None, params2: dict | None = None, fast: bool = True, **params: Any):
        if node1.engine is not node2.engine:
            outside = [n for n in (node1, node2) if getattr(n, "inNamespace", True) is False]
            if outside:
                raise UsageError(f"link {node1}--{node2}: {outside[0]} is a node of the machine's root namespace "
                                 "(inNamespace=False, outside any network), and testbed never connects a network "
                                 "to the machine's own one; reach the hosts from a node of the network instead "
                                 "(net.addHost), or with `ip netns exec` (testbed's hosts are named namespaces)")
            raise UsageError(f"link {node1}--{node2}: the nodes belong to different networks; link nodes of "
                             "one Mininet object")
        if getattr(node1, "_as_host", True) is False or getattr(node2, "_as_host", True) is False:
            raise UsageError(f"link {node1}--{node2}: a controller added with addController has no namespace here; "
                             "add it as a host (addHost(..., cls=Controller)) to link it")
        self.engine = node1.engine
        self.key: int | None = None
        params1 = dict(params1 or {})
        params2 = dict(params2 or {})
        if port1 is not None:
            params1["port"] = port1
        if port2 is not None:
            params2["port"] = port2
        if "port" not in params1:
            params1["port"] = node1.newPort()
        if "port" not in params2:
            params2["port"] = node2.newPort() + (1 if node1 is node2 else 0)
        if not intfName1:
            intfName1 = self.intfName(node1, params1["port"])
        if not intfName2:
            intfName2 = self.intfName(node2, params2["port"])
        params1.update(params)
        params2.update(params)
        self.fast = fast
        cls1, cls2 = cls1 or intf, cls2 or intf
        port_a, port_b = params1.pop("port"), params2.pop("port")
        self.intf1 = cls1(name=intfName1, node=node1, port=port_a, link=self, mac=addr1, moveIntfFn=None, **params1)
        self.intf2 = cls2(name=intfName2, node=node2, port=port_b, link=self, mac=addr2, moveIntfFn=None, **params2)
        self.key = self.engine.declare_link(self, node1.name, node2.name, self._attrs())

    def _attrs(self) -> dict:
        """The testbed link attributes: names, given addresses and MACs, shaping per direction."""
        a, b = self.intf1, self.intf2
        ends = ((a.node.name, a), (b.node.name, b))
        attrs: dict[str, Any] = {"intf": {n: i.name for n, i in ends}}
        macs = {n: i.mac for n, i in ends if i.mac}
        if macs:
            attrs["mac"] = macs
        ips = {n: cidr(i.ip, i.prefixLen) for n, i in ends if i.ip and i.node.role != "switch"}
        if ips:
            attrs["ip"] = ips
        for attr in SHAPING:
            values = {n: (i._shaping or {}).get(attr) for n, i in ends}
            values = {n: v for n, v in values.items() if v is not None}
            if not values:
                continue
            both = list(values.values())
            attrs[attr] = both[0] if len(values) == 2 and both[0] == both[1] else values
        return attrs

    @property
    def built(self) -> bool:
        return self.key is not None and self.engine.link_realized(self.key)

    def intfName(self, node: Node, n: int) -> str:
        return f"{node.name}-eth{n}"

    @classmethod
    def makeIntfPair(cls, *args: Any, **kwargs: Any) -> None:
        raise UsageError("Link.makeIntfPair: testbed makes the veth pair of a Link itself; construct the Link")

    def _remove(self) -> None:
        if self.key is None:
            return
        key, self.key = self.key, None
        if not self.engine.stopping:
            self.engine.remove_link(self.intf1.node.name, self.intf2.node.name, key)

    def delete(self) -> None:
        self._remove()
        for intf in (self.intf1, self.intf2):
            if intf.node is not None:
                intf.node.delIntf(intf)
            intf.link = None

    def stop(self) -> None:
        self.delete()

    def status(self) -> str:
        return f"({self.intf1.status()} {self.intf2.status()})"

    def __str__(self) -> str:
        return f"{self.intf1}<->{self.intf2}"


class OVSIntf(Intf):
    """An interface of an Open vSwitch link (here a veth end like any other)."""


class OVSLink(Link):
    """Mininet's OVS patch-port link; a veth link here."""


class TCLink(Link):
    """A link whose two ends are shaped alike (bw, delay, jitter, loss, max_queue_size)."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("cls1", TCIntf)
        kwargs.setdefault("cls2", TCIntf)
        Link.__init__(self, *args, **kwargs)


class TCULink(TCLink):
    """Mininet's TCLink over OVS patch ports; a shaped veth link here."""


__all__ = ["Intf", "Link", "OVSIntf", "OVSLink", "TCIntf", "TCLink", "TCULink"]
