"""What an Open vSwitch bridge is told, computed from its planned record alone (pure).

``bridge_commands`` gives the ovs-vsctl commands that make a switch's bridge and
ports (access ports ``tag=V``, trunks ``trunks=...``, fixed OpenFlow port numbers);
``flows`` gives the OpenFlow table that replaces the default ``NORMAL`` learning switch
when the node asks for something else:

* a hub: one flow, ``actions=FLOOD``;
* MAC-based VLANs (``mac_vlans``): a small learning switch written in OpenFlow, because
  OVS's own VLAN handling (NORMAL) ties a VLAN to a port and a MAC-based VLAN must follow
  the host to whatever port it is plugged into. Registers: reg0 = the frame's VLAN,
  reg1 = the learned output port (0 = unknown: flood), reg2 = a candidate output port.

  table 0  classify: a listed MAC on an edge port -> its VLAN (and learn that this port
           now serves that VLAN, into table 4); access port -> its VLAN; trunk port ->
           the tag's VLAN (tag removed); anything else is dropped (and its edge port
           learned as serving no VLAN)
  table 1  learn (VLAN, source MAC) -> input port into table 2; then tables 2 and 3
  table 2  learned (VLAN, destination MAC) -> reg1 = port
  table 3  output: a listed destination MAC in another VLAN -> drop; known port -> that
           port (through table 4 for edge/access ports, tagged for trunks); unknown -> every
           port of the VLAN
  table 4  egress membership: (VLAN, port) -> output; learned for edge ports, fixed for
           access ports; a port known to serve other VLANs only -> drop; a port nothing was
           heard from yet -> output (as a fresh switch floods: its host may not have spoken
           yet). A frame never leaves an edge port in a VLAN no host seen there belongs to,
           so a host moved to another port keeps its VLAN and only its VLAN.
"""
from __future__ import annotations

from testbed.ovs.records import TESTCONTROLLER, OvsSwitch

LEARN_IDLE = 300                 # seconds a learned MAC or port membership is kept


# Open vSwitch manages the qdiscs of its ports: a port with no QoS of its own gets its root
# qdisc reset when it is added, which took the link shaping (htb, netem) off every switch end.
# QoS type linux-noop tells it to leave them alone (one record, shared by a bridge's ports).
LEAVE_QDISCS = ["--id=@noop", "create", "qos", "type=linux-noop"]


def port_commands(bridge: str, port: str, ofport: int) -> list[list[str]]:
    """Add ``port`` to ``bridge`` with its planned OpenFlow number and the linux-noop QoS of
    LEAVE_QDISCS (which goes first in the same ovs-vsctl transaction)."""
    return [["add-port", bridge, port], ["set", "interface", port, f"ofport_request={ofport}"],
            ["set", "port", port, "qos=@noop"]]


def bridge_commands(switch: OvsSwitch, datapath_type: str, controller: str | None = None) -> list[list[str]]:
    """ovs-vsctl commands (each an argument list) that make this switch's bridge and ports.

    ``controller`` is the target to use for a controller the run starts itself.
    """
    opts = switch
    name = switch.node
    settings = [f"datapath_type={datapath_type}", f"fail_mode={opts.fail_mode}",
                f"other_config:hwaddr={switch.mac}"]
    if opts.stp:
        settings.append("stp_enable=true")
    if opts.ageing is not None:
        settings.append(f"other_config:mac-aging-time={max(1, int(opts.ageing))}")
    commands = [["add-br", name], ["set", "bridge", name, *settings]]
    if switch.ports:
        commands.append(LEAVE_QDISCS)
    for port in switch.ports:
        commands += port_commands(name, port.name, port.ofport)
        if port.vlan is not None:
            commands.append(["set", "port", port.name, f"tag={port.vlan}", "vlan_mode=access"])
        elif port.trunk is not None:
            commands.append(["set", "port", port.name, "trunks=" + ",".join(map(str, port.trunk)),
                             "vlan_mode=trunk"])
    target = controller if opts.controller == TESTCONTROLLER else opts.controller
    if target:
        commands.append(["set-controller", name, target])
    return commands


def flows(switch: OvsSwitch) -> list[str] | None:
    """The flow table for this switch, or None to keep OVS's NORMAL learning switch."""
    if switch.hub:
        return ["priority=0,actions=FLOOD"]
    if switch.mac_vlans:
        return mac_vlan_flows(switch)
    return None


def _membership_learn() -> str:
    """Learn, from a frame's input port and VLAN: (VLAN, port) -> output, and port -> assigned."""
    return (f"learn(table=4,idle_timeout={LEARN_IDLE},priority=100,NXM_NX_REG0[0..11],"
            "NXM_NX_REG2[0..15]=NXM_OF_IN_PORT[],output:NXM_OF_IN_PORT[]),"
            + _assigned_learn())


def _assigned_learn() -> str:
    """Learn that the input port serves some VLAN (a flow with no actions: others are dropped)."""
    return f"learn(table=4,idle_timeout={LEARN_IDLE},priority=50,NXM_NX_REG2[0..15]=NXM_OF_IN_PORT[])"


def mac_vlan_flows(switch: OvsSwitch) -> list[str]:
    """The OpenFlow program of a switch with MAC-based VLANs (see the module docstring)."""
    opts = switch
    all_ports = switch.ports
    trunks = [p for p in all_ports if p.trunk is not None]
    access = [p for p in all_ports if p.vlan is not None]
    edges = [p for p in all_ports if p.vlan is None and p.trunk is None]
    vlans = sorted({v for _, v in opts.mac_vlans} | {p.vlan for p in access}
                   | {v for p in trunks for v in p.trunk})
    untagged = "vlan_tci=0x0000/0x1000"
    out: list[str] = []
    # table 0: classify
    for mac, vid in opts.mac_vlans:
        out.append(f"table=0,priority=100,{untagged},dl_src={mac},"
                   f"actions=load:{vid}->NXM_NX_REG0[],{_membership_learn()},resubmit(,1)")
    for p in access:
        out.append(f"table=0,priority=200,in_port={p.ofport},{untagged},"
                   f"actions=load:{p.vlan}->NXM_NX_REG0[],resubmit(,1)")
        out.append(f"table=0,priority=150,in_port={p.ofport},actions=drop")
    for p in trunks:
        for vid in p.trunk:
            out.append(f"table=0,priority=200,in_port={p.ofport},dl_vlan={vid},"
                       f"actions=load:{vid}->NXM_NX_REG0[],strip_vlan,resubmit(,1)")
        out.append(f"table=0,priority=150,in_port={p.ofport},actions=drop")
    out.append(f"table=0,priority=0,actions={_assigned_learn()}")     # unlisted MAC: drop
    # table 1: learn where a (VLAN, MAC) lives, then look the destination up and output
    out.append(f"table=1,priority=0,actions=learn(table=2,idle_timeout={LEARN_IDLE},priority=100,"
               "NXM_NX_REG0[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],"
               "load:NXM_OF_IN_PORT[]->NXM_NX_REG1[0..15]),resubmit(,2),resubmit(,3)")
    # table 3: output; a frame for a listed MAC only ever leaves in that MAC's VLAN
    for mac, vid in opts.mac_vlans:
        for other in vlans:
            if other != vid:
                out.append(f"table=3,priority=300,reg0={other},dl_dst={mac},actions=drop")
    for vid in vlans:
        actions = [f"load:{p.ofport}->NXM_NX_REG2[],resubmit(,4)" for p in edges + access]
        tagged = [p for p in trunks if vid in p.trunk]
        if tagged:
            actions.append(f"mod_vlan_vid:{vid}," + ",".join(f"output:{p.ofport}" for p in tagged))
        if actions:
            out.append(f"table=3,priority=100,reg0={vid},reg1=0,actions=" + ",".join(actions))
    for p in edges + access:
        out.append(f"table=3,priority=100,reg1={p.ofport},"
                   f"actions=load:{p.ofport}->NXM_NX_REG2[],resubmit(,4)")
    for p in trunks:
        for vid in p.trunk:
            out.append(f"table=3,priority=100,reg0={vid},reg1={p.ofport},"
                       f"actions=mod_vlan_vid:{vid},output:{p.ofport}")
    out.append("table=3,priority=0,actions=drop")
    # table 4: egress membership (edge ports learn theirs in table 0)
    for p in access:
        out.append(f"table=4,priority=200,reg0={p.vlan},reg2={p.ofport},actions=output:{p.ofport}")
        out.append(f"table=4,priority=150,reg2={p.ofport},actions=drop")
    out.append("table=4,priority=0,actions=output:NXM_NX_REG2[0..15]")     # nothing heard there yet
    return out
