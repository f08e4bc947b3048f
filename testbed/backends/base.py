"""The switch-backend interface: what builds a hub or switch node.

Two implementations: the Linux bridge (testbed/backends/linux.py, the default) and Open
vSwitch (testbed/ovs/). The planner, the deployer and the running network call these
hooks for the switches of each backend and know nothing else about either.

    attrs_for(kind)                  attributes the backend adds to switches of that kind
    problems(topo, switches)         every problem of its switches' settings
    depends_on_kernel(topo)          whether its plan differs by kernel (then the kernel is probed)
    device(spec, mac, topo)          the switch's own bridge Interface in the Plan
    plan(planned, switches)          its records for the Plan (or None)
    refusal(topo, plan, features)    why this kernel cannot build its switches (None: it can)
    configure(ctx)                   deploy, after addresses and routes
    start(ctx)                       deploy, once every link has carrier (daemons, flows)
    forwards_nothing(plan)           its switches that forward nothing (reachability)
    probe_window(plan)               at most this many pings in flight through it (None: no limit)
    port_security_counters(net, node, settings)
    dump_flows(net, node, datapath)  a switch's flow table (the shell's dpctl)
    environment(run_id, node)        environment of commands run in the switch's namespace
    instance(net, node)              the switch's own daemons (Open vSwitch)
    status(journal, node)            its counters read without the plan (`testbed counters`)
    flows_in_run(journal, node, datapath)   a flow table read without the plan (`testbed dpctl`)
"""
from __future__ import annotations

from typing import Any, Mapping

from testbed.errors import UsageError
from testbed.model.schema import Attr


class SwitchBackend:
    name: str = ""
    title: str = ""                  # "a Linux bridge", "an Open vSwitch bridge"
    flow_table: bool = False         # has an OpenFlow table (dump_flows, the shell's dpctl)

    def attrs_for(self, kind: Any) -> Mapping[str, Attr]:
        return {}

    def builds(self, plan, node: str) -> bool:
        """Whether this backend built switch ``node`` of ``plan``."""
        return False

    def problems(self, topo, switches: list) -> list:
        return []

    def depends_on_kernel(self, topo) -> bool:
        """Whether planning ``topo`` needs to know what the kernel can do (the probe costs ~0.1 s)."""
        return False

    def device(self, spec, mac: str, topo):
        raise NotImplementedError

    def plan(self, planned, switches: list) -> Any:
        return None

    def refusal(self, topo, plan, features) -> str | None:
        return None

    def configure(self, ctx) -> None:
        return None

    def start(self, ctx) -> None:
        return None

    def forwards_nothing(self, plan) -> set[str]:
        """Its switches of ``plan`` that forward no frame at all (the expected reachability
        routes around them)."""
        return set()

    def probe_window(self, plan) -> int | None:
        return None

    def port_security_counters(self, net, node: str, settings: list) -> dict:
        return {}

    def status(self, journal, node: str) -> dict:
        return {}

    def flows_in_run(self, journal, node: str, datapath: bool = False) -> str | None:
        """``node``'s flow table in another process's run (None: not one of this backend's switches)."""
        return None

    def environment(self, run_id: str, node: str) -> dict[str, str]:
        """Environment variables for commands run in switch ``node`` (OVS: its own daemons' folder)."""
        return {}

    def instance(self, net, node: str):
        """The switch's own daemons, where it has some (Open vSwitch)."""
        raise UsageError(f"{node!r} is {self.title}: it has no daemons of its own "
                         "(an Open vSwitch switch has: backend='ovs' or --switch ovs)")

    def dump_flows(self, net, node: str, datapath: bool = False) -> str:
        raise UsageError(f"{node!r} is {self.title}, not an Open vSwitch switch: it has no flow table "
                         "(build it with backend='ovs' or --switch ovs)")
