"""The testbed network behind Mininet objects: what has been declared, what is built.

Mininet makes kernel objects the moment a Node or Link object is constructed; testbed
plans and builds a whole network at once. The engine bridges the two. As Mininet objects
are constructed they *declare* their node or link (a node of a networkx graph, with the
testbed attributes their class and parameters stand for); the first time anything needs
the kernel (a command in a node, ``build()``, ``start()``) everything declared so far is
*realized*: built by testbed in one go, or, once the network runs, added to it in one
batch of run-time changes (``Network.changes()``). A Topo is declared node by node before
any node object is made, so a host class whose constructor runs a command (Mininet's
``HostV4``) still gets every node built at once.

Every Mininet object belongs to one engine: the one of the ``Mininet`` that is adding it,
else this process's *scratch* engine (nodes made with ``Node('h0')`` and ``Link(h0, s0)``,
as in Mininet's low-level examples). ``stop_all()`` tears every engine of the process
down (the ``testbed mn`` runner calls it however the script ends).
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Any, ClassVar, Iterator

import networkx as nx

from testbed.compat import ovstools
from testbed.errors import UsageError

SOURCE = "mininet"


class Engine:
    """The declared graph and the testbed Network of one Mininet network."""

    _constructing: ClassVar[list["Engine"]] = []
    _roles: ClassVar[list[str | None]] = []
    _live: ClassVar[list["Engine"]] = []
    _scratch: ClassVar["Engine | None"] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, source: str = SOURCE):
        self.source = source
        self.graph = nx.MultiGraph()
        self.nodes: dict[str, Any] = {}            # the Mininet node objects, by name
        self.reserved: dict[str, dict] = {}        # declared ahead of their objects (a Topo's nodes)
        self.pending_nodes: dict[str, dict] = {}   # declared after the network was built
        self.pending_links: list[tuple[str, str, int, dict]] = []
        self.links: dict[int, Any] = {}            # key -> Mininet Link object
        self.held: dict[str, dict] = {}            # ip/mac of nodes until their default link is built
        self.reserved_class: dict[str, type | None] = {}
        self.spare_shells: dict[str, Any] = {}     # shells started ahead for nodes of a Topo
        self._prespawned: set[type] = set()
        self.net = None                            # the testbed Network, once built
        self.stopped = False
        self.stopping = False                      # Mininet.stop() runs: links go with the namespaces
        self.building = False                      # Mininet.buildFromTopo() is making the Topo's objects
        self._keys = 0
        Engine._live.append(self)

    # ------------------------------------------------------------ which engine

    @classmethod
    def current(cls) -> "Engine":
        """The engine a node made now belongs to: the Mininet adding it, else the scratch one."""
        if cls._constructing:
            return cls._constructing[-1]
        with cls._lock:
            if cls._scratch is None or cls._scratch.stopped:
                cls._scratch = Engine(f"{SOURCE}:{os.path.basename(os.environ.get('TESTBED_MN_SCRIPT', 'scratch'))}")
            return cls._scratch

    @contextmanager
    def constructing(self, role: str | None = None) -> Iterator["Engine"]:
        """Nodes made in the block belong to this engine; ``role``: what the network adds them as
        ("host", "switch", "controller": Mininet.addHost/addSwitch/addController)."""
        Engine._constructing.append(self)
        Engine._roles.append(role)
        try:
            yield self
        finally:
            Engine._constructing.pop()
            Engine._roles.pop()

    @classmethod
    def adding(cls) -> str | None:
        """What the Mininet being built is adding now ("host", "switch", "controller" or None)."""
        return cls._roles[-1] if cls._roles else None

    @classmethod
    def live(cls) -> list["Engine"]:
        """The engines of this process not stopped yet, oldest first."""
        return list(cls._live)

    @classmethod
    def stop_all(cls) -> None:
        """Tear down every engine of this process (newest first)."""
        for engine in reversed(list(cls._live)):
            engine.stop()

    # ------------------------------------------------------------ declaring

    def reserve(self, name: str, attrs: dict, cls: type | None = None) -> None:
        """Declare a node before its object exists (so a whole Topo is built at once);
        ``cls``: the class its object will be, where known."""
        self._check_new(name)
        self.reserved[name] = attrs
        self.reserved_class[name] = cls
        self._add_node(name, attrs)

    def declare_node(self, node: Any, attrs: dict) -> None:
        name = node.name
        if name in self.reserved and name not in self.nodes:
            self.nodes[name] = node
            return
        self._check_new(name)
        self.nodes[name] = node
        self._add_node(name, attrs)

    def _check_new(self, name: str) -> None:
        if self.stopped:
            raise UsageError(f"node {name!r}: its network was stopped; make a new Mininet()")
        if name in self.nodes or name in self.reserved:
            raise UsageError(f"the network already has a node named {name!r}")

    def _add_node(self, name: str, attrs: dict) -> None:
        if self.net is None:
            self.graph.add_node(name, **attrs)
        else:
            self.pending_nodes[name] = dict(attrs)

    def update_node(self, name: str, **attrs: Any) -> bool:
        """Change a declared node's attributes before it is built; False when it is built already."""
        if self.net is None and name in self.graph:
            self.graph.nodes[name].update(attrs)
            return True
        if name in self.pending_nodes:
            self.pending_nodes[name].update(attrs)
            return True
        return False

    def declare_link(self, link: Any, a: str, b: str, attrs: dict) -> int:
        for name in (a, b):
            if name not in self.nodes and name not in self.reserved:
                raise UsageError(f"link {a}--{b}: node {name!r} is not part of this network "
                                 "(add both nodes to the same Mininet)")
        self._keys += 1
        key = self._keys
        if self.net is None:
            self.graph.add_edge(a, b, key=key, **attrs)
        else:
            self.pending_links.append((a, b, key, dict(attrs)))
        self.links[key] = link
        return key

    def link_attrs(self, a: str, b: str, key: int) -> dict | None:
        """A declared link's attributes while it is not built yet (None once it is)."""
        if self.net is None and self.graph.has_edge(a, b, key):
            return self.graph[a][b][key]
        for pa, pb, pkey, attrs in self.pending_links:
            if pkey == key:
                return attrs
        return None

    # ------------------------------------------------------------ building

    def realized(self, name: str) -> bool:
        return self.net is not None and name in self.net.nodes

    def link_realized(self, key: int) -> bool:
        return self.net is not None and key in self.links and all(p[2] != key for p in self.pending_links)

    def realize(self) -> None:
        """Build everything declared: the whole network the first time, then a batch of changes."""
        if self.stopped:
            raise UsageError("this Mininet network was stopped; make a new Mininet() to build again")
        self._address_default_interfaces()
        if self.net is None:
            if len(self.graph) == 0:
                return
            from testbed import Network
            net = Network(self.graph, source=self.source)
            net.start()
            self.net = net
            ovstools.add_run(net.run_id)
        elif self.pending_nodes or self.pending_links:
            nodes, links = self.pending_nodes, self.pending_links
            self.pending_nodes, self.pending_links = {}, []
            with self.net.changes():
                for name, attrs in nodes.items():
                    self.net.add_node(name, **attrs)
                for a, b, key, attrs in links:
                    self.net.add_link(a, b, key=key, **attrs)
        else:
            return
        for node in list(self.nodes.values()):
            node._realized()

    def _address_default_interfaces(self) -> None:
        """A node's ``ip``/``mac`` belong to its default interface (its lowest port, as Mininet):
        put them on that link end when the link is built; a node built before any of its links
        (a host class running a command in its constructor) keeps them until then."""
        for name, node in self.nodes.items():
            attrs = self._attrs_of(name)
            if attrs is None:
                continue
            for key in ("ip", "mac"):
                if key in attrs:
                    self.held.setdefault(name, {})[key] = attrs.pop(key)
        for name, wanted in list(self.held.items()):
            node = self.nodes.get(name)
            intf = node.defaultIntf() if node is not None and node.intfs else None
            link = getattr(intf, "link", None) if intf is not None else None
            data = None if link is None or link.key is None else \
                self.link_attrs(link.intf1.node.name, link.intf2.node.name, link.key)
            if data is None:
                continue
            for key, value in wanted.items():
                data[key] = {name: value, **(data.get(key) or {})}
            del self.held[name]
        for name in list(self.reserved):             # reserved nodes without objects yet
            attrs = self._attrs_of(name)
            if name not in self.nodes and attrs is not None:
                for key in ("ip", "mac"):
                    if key in attrs:
                        self.held.setdefault(name, {})[key] = attrs.pop(key)

    def _attrs_of(self, name: str) -> dict | None:
        """A node's attributes while it is not built (None once it is)."""
        if self.net is None and name in self.graph:
            return self.graph.nodes[name]
        return self.pending_nodes.get(name)

    def handle(self, name: str):
        """The testbed node handle of ``name``; what is declared and not built yet is built first
        (a Mininet object is in the kernel from the moment it exists)."""
        if self.net is None or self.pending_nodes or self.pending_links or not self.realized(name):
            self.realize()
        if not self.realized(name):
            raise UsageError(f"node {name!r} is not part of a built network")
        return self.net[name]

    # ------------------------------------------------------------ shells started ahead

    def prespawn_like(self, node: Any) -> None:
        """A node of a Topo being built needs its shell: start the shells of every other node of
        the Topo of the same class now, together (their bash start-ups then run side by side);
        a host class whose constructor runs commands (Mininet's HostV4) needs them all."""
        cls = type(node)
        if cls in self._prespawned or self.net is None:
            return
        self._prespawned.add(cls)
        names = [n for n, c in self.reserved_class.items() if c is cls and n != node.name
                 and n not in self.spare_shells and self.realized(n)
                 and (n not in self.nodes or self.nodes[n]._shell is None)]
        if not names:
            return
        from concurrent.futures import ThreadPoolExecutor
        from testbed.compat.shell import Shell
        with ThreadPoolExecutor(max_workers=4) as pool:
            shells = list(pool.map(lambda n: Shell(self.net[n], n, wait=False), names))
        self.spare_shells.update(zip(names, shells))

    def take_shell(self, name: str) -> Any:
        return self.spare_shells.pop(name, None)

    # ------------------------------------------------------------ changing and stopping

    def set_link(self, a: str, b: str, key: int, settings: dict) -> None:
        """Shaping of one link: into its declaration before it is built, else applied now."""
        pending = self.link_attrs(a, b, key)
        if pending is not None:
            from testbed.run.changes import shape_link
            graph = nx.MultiGraph()
            graph.add_edge(a, b, key=key, **pending)
            shape_link(a, b, settings, key)(graph)
            pending.clear()
            pending.update(graph[a][b][key])
            return
        self.net.set_link(a, b, key=key, **settings)

    def remove_link(self, a: str, b: str, key: int) -> None:
        self.links.pop(key, None)
        if self.net is None:
            if self.graph.has_edge(a, b, key):
                self.graph.remove_edge(a, b, key)
            return
        before = len(self.pending_links)
        self.pending_links = [p for p in self.pending_links if p[2] != key]
        if len(self.pending_links) == before and a in self.net.nodes and b in self.net.nodes:
            self.net.remove_link(a, b, key=key)

    def remove_node(self, name: str) -> None:
        self.nodes.pop(name, None)
        self.reserved.pop(name, None)
        if self.net is None:
            if name in self.graph:
                self.graph.remove_node(name)
            return
        if name in self.pending_nodes:
            del self.pending_nodes[name]
            self.pending_links = [p for p in self.pending_links if name not in (p[0], p[1])]
        elif name in self.net.nodes:
            self.net.remove_node(name)

    def stop(self) -> None:
        """Tear the testbed network down (every shell and process in it stops)."""
        if self.stopped:
            return
        self.stopped = self.stopping = True
        for node in list(self.nodes.values()):
            node._forget_shell()
        for shell in self.spare_shells.values():
            shell.stop()
        self.spare_shells.clear()
        if self.net is not None:
            self.net.stop()
            ovstools.remove_run(self.net.run_id)
        if self in Engine._live:
            Engine._live.remove(self)
