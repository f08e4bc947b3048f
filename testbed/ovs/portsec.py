"""Port security on an Open vSwitch bridge, as OpenFlow flows (pure: computed from the Plan).

The same settings as on a Linux bridge (testbed/concerns/portsec/): a port's
``binding`` {ip, mac} and ``max_macs``. Every drop is a flow of its own whose cookie
names the port and the reason, so its ``n_packets`` is the counter
(``net.port_security_counters(switch)`` reads them with ``ovs-ofctl dump-flows``).

  table 0  binding: on a bound port only frames from the bound MAC go on, and IPv4/ARP
           only from the bound address (or 0.0.0.0, as DHCP and ARP probes use); the
           rest is dropped ("mac", "ip"). Ports without a binding go straight on.
  table 1  MAC limit: a limited port's frame looks its source up in table 2, then goes
           to table 3 with reg3 = 1 (MAC known on this port) or 0 (not yet).
  table 2  learned (port, MAC) -> reg3=1 (written by table 6).
  table 3  reg3=1: NORMAL; reg3=0: look for a free slot, reg4 = 1, 2, ... max_macs.
  table 4  probe slot reg4: reg5 = 1 if taken (table 5), then table 6.
  table 5  learned (port, slot) -> reg5=1 (written by table 6).
  table 6  free slot: learn (port, MAC) into table 2 and (port, slot) into table 5,
           NORMAL; taken and slots left: next slot (reg4 + 1, back to table 4); the
           last slot taken: drop ("macs"). Learned flows never expire, as the Linux
           bridge's learned set.

OpenFlow cannot count, so the slots are tried one by one, two resubmits each: the
limit on an OVS port is at most MAX_MACS (validation says so, testbed/ovs/backend.py).
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping

from testbed.concerns.portsec import PortSettings
from testbed.ovs.records import OvsSwitch

COUNTERS = ("mac", "ip", "macs")
COOKIE_BASE = 0x7e570000            # cookie = base | ofport << 4 | counter index
COOKIE_MASK = 0xffff0000
T_BINDING, T_MACS, T_LEARNED, T_VERDICT, T_PROBE, T_SLOTS, T_STEP = 0, 1, 2, 3, 4, 5, 6
MAX_MACS = 16                       # slots tried one by one: keeps within OVS's resubmit depth
ANY_IP = "0.0.0.0"


def cookie(ofport: int, counter: str) -> int:
    """The cookie of the drop flow counting ``counter`` on OpenFlow port ``ofport``."""
    return COOKIE_BASE | (ofport << 4) | COUNTERS.index(counter)


def needs_flows(settings: Iterable[PortSettings]) -> bool:
    return any(p.filtered for p in settings)


def flows(switch: OvsSwitch, settings: Iterable[PortSettings]) -> list[str]:
    """The flow table (ovs-ofctl syntax) of a learning switch with these port settings."""
    ofport = switch.ofports
    out: list[str] = []
    limited: list[tuple[int, int]] = []
    for p in settings:
        if not p.filtered:
            continue
        n = ofport[p.port]
        if p.max_macs:
            limited.append((n, p.max_macs))
        out += _binding_flows(n, p.mac, p.ip)
    out.append(f"table={T_BINDING},priority=0,actions=resubmit(,{T_MACS})")
    for n, _ in limited:
        out.append(f"table={T_MACS},priority=100,in_port={n},"
                   f"actions=load:0->NXM_NX_REG3[],resubmit(,{T_LEARNED}),resubmit(,{T_VERDICT})")
    out.append(f"table={T_MACS},priority=0,actions=NORMAL")
    out.append(f"table={T_LEARNED},priority=0,actions=load:0->NXM_NX_REG3[]")
    out.append(f"table={T_VERDICT},priority=100,reg3=1,actions=NORMAL")
    out.append(f"table={T_VERDICT},priority=50,reg3=0,actions=load:1->NXM_NX_REG4[],resubmit(,{T_PROBE})")
    out.append(f"table={T_VERDICT},priority=0,actions=drop")
    out.append(f"table={T_PROBE},priority=0,actions=load:0->NXM_NX_REG5[],resubmit(,{T_SLOTS}),resubmit(,{T_STEP})")
    out.append(f"table={T_SLOTS},priority=0,actions=load:0->NXM_NX_REG5[]")
    out.append(f"table={T_STEP},priority=100,reg5=0,actions="
               f"learn(table={T_LEARNED},priority=100,NXM_OF_IN_PORT[],NXM_OF_ETH_SRC[],load:1->NXM_NX_REG3[]),"
               f"learn(table={T_SLOTS},priority=100,NXM_OF_IN_PORT[],NXM_NX_REG4[],load:1->NXM_NX_REG5[]),NORMAL")
    for n, limit in limited:
        for slot in range(1, limit):
            out.append(f"table={T_STEP},priority=100,in_port={n},reg5=1,reg4={slot},"
                       f"actions=load:{slot + 1}->NXM_NX_REG4[],resubmit(,{T_PROBE})")
        out.append(f"table={T_STEP},priority=100,in_port={n},reg5=1,reg4={limit},"
                   f"cookie={cookie(n, 'macs'):#x},actions=drop")
    out.append(f"table={T_STEP},priority=0,actions=drop")
    return out


def _binding_flows(n: int, mac: str | None, ip: str | None) -> list[str]:
    """Table 0 for one port: what its binding lets through (everything, without one)."""
    go = f"actions=resubmit(,{T_MACS})"
    if not mac and not ip:
        return []
    src = f",dl_src={mac}" if mac else ""
    out = []
    if mac:
        out.append(f"table={T_BINDING},priority=100,in_port={n},cookie={cookie(n, 'mac'):#x},actions=drop")
    if ip:
        for addr in (ip, ANY_IP):
            out.append(f"table={T_BINDING},priority=300,in_port={n}{src},ip,nw_src={addr},{go}")
            out.append(f"table={T_BINDING},priority=300,in_port={n}{src},arp,arp_spa={addr},{go}")
        for proto in ("ip", "arp"):
            out.append(f"table={T_BINDING},priority=250,in_port={n}{src},{proto},"
                       f"cookie={cookie(n, 'ip'):#x},actions=drop")
    out.append(f"table={T_BINDING},priority=200,in_port={n}{src},{go}")
    return out


_FLOW = re.compile(r"cookie=(0x[0-9a-f]+).*?n_packets=(\d+)")


def read_counters(dump: str, switch: OvsSwitch, settings: Iterable[PortSettings]) -> dict[str, dict[str, int]]:
    """port -> {"mac", "ip", "macs": packets dropped} from ``ovs-ofctl dump-flows`` output."""
    by_cookie: dict[int, int] = {}
    for line in dump.splitlines():
        m = _FLOW.search(line)
        if m:
            c = int(m.group(1), 16)
            by_cookie[c] = by_cookie.get(c, 0) + int(m.group(2))
    ofport = switch.ofports
    result: dict[str, dict[str, int]] = {}
    for p in settings:
        if p.filtered:
            n = ofport[p.port]
            result[p.port] = {what: by_cookie.get(cookie(n, what), 0) for what in COUNTERS}
    return result


def counters_by_port(dump: str, ofports: Mapping[int, str]) -> dict[str, dict[str, int]]:
    """port -> counters from a dump alone (no plan): every port that has a drop flow."""
    result: dict[str, dict[str, int]] = {}
    for line in dump.splitlines():
        m = _FLOW.search(line)
        if not m or int(m.group(1), 16) & COOKIE_MASK != COOKIE_BASE:
            continue
        c = int(m.group(1), 16)
        port = ofports.get((c >> 4) & 0xfff, str((c >> 4) & 0xfff))
        counts = result.setdefault(port, {what: 0 for what in COUNTERS})
        counts[COUNTERS[c & 0xf]] += int(m.group(2))
    return result


_PORT = re.compile(r"^\s*(\d+)\(([^)]+)\):", re.MULTILINE)


def port_names(show: str) -> dict[int, str]:
    """OpenFlow port number -> interface name, from ``ovs-ofctl show`` output."""
    return {int(n): name for n, name in _PORT.findall(show)}
