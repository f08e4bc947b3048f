"""Qdisc statistics over raw rtnetlink: queue length, backlog, drops, RED marks.

What ``tc -s qdisc show`` prints, read without a process or pyroute2's decoder, so that a
queue can be sampled every few milliseconds even in an emulated guest. A socket opened
inside a namespace (``open_socket`` run there) keeps reading that namespace's qdiscs from
any thread.
"""
from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from testbed.kernel.nlencode import dump_messages

RTM_NEWQDISC, RTM_GETQDISC = 36, 38
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
TCA_KIND, TCA_XSTATS, TCA_STATS2 = 1, 4, 7
TCA_STATS_BASIC, TCA_STATS_QUEUE = 1, 3
NLMSG = struct.Struct("=IHHII")
TCMSG = struct.Struct("=BxxxiIII")
NLA = struct.Struct("=HH")
BASIC = struct.Struct("=QI")            # gnet_stats_basic: bytes, packets
QUEUE = struct.Struct("=IIIII")         # gnet_stats_queue: qlen, backlog, drops, requeues, overlimits
RED_XSTATS = struct.Struct("=IIII")     # tc_red_xstats: early, pdrop, other, marked


@dataclass(frozen=True)
class QdiscStats:
    """One qdisc's counters; ``handle`` and ``parent`` in tc notation ("10:", "1:1", "root")."""

    ifindex: int
    kind: str
    handle: str
    parent: str
    bytes: int = 0                      # sent
    packets: int = 0
    qlen: int = 0                       # packets waiting now
    backlog: int = 0                    # bytes waiting now
    drops: int = 0
    requeues: int = 0
    overlimits: int = 0
    marked: int | None = None           # RED: packets ECN-marked
    early: int | None = None            # RED: early drops (above min, not ECN-capable)
    pdrop: int | None = None            # RED: drops at the hard limit


def tc_handle(value: int) -> str:
    """0x100000 -> "10:", 0x10001 -> "1:1", 0xFFFFFFFF -> "root"."""
    if value == 0xFFFFFFFF:
        return "root"
    major, minor = value >> 16, value & 0xFFFF
    return f"{major:x}:{minor:x}" if minor else f"{major:x}:"


def open_socket() -> socket.socket:
    """A route netlink socket of the calling thread's namespace (call it there)."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.bind((0, 0))
    sock.settimeout(5)
    return sock


def dump_request(seq: int, ifindex: int = 0) -> bytes:
    body = TCMSG.pack(socket.AF_UNSPEC, ifindex, 0, 0, 0)
    return NLMSG.pack(NLMSG.size + len(body), RTM_GETQDISC, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


def _attrs(data: bytes, offset: int, end: int) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    while offset + NLA.size <= end:
        length, kind = NLA.unpack_from(data, offset)
        if length < NLA.size:
            break
        found[kind & 0x3FFF] = data[offset + NLA.size:offset + length]
        offset += (length + 3) & ~3
    return found


def parse_qdisc(msg: bytes) -> QdiscStats:
    """One RTM_NEWQDISC message (starting at its netlink header)."""
    length = NLMSG.unpack_from(msg)[0]
    _, ifindex, handle, parent, _ = TCMSG.unpack_from(msg, NLMSG.size)
    attrs = _attrs(msg, NLMSG.size + TCMSG.size, length)
    kind = attrs.get(TCA_KIND, b"").rstrip(b"\0").decode(errors="replace")
    values: dict[str, int | None] = {}
    stats = _attrs(attrs.get(TCA_STATS2, b""), 0, len(attrs.get(TCA_STATS2, b"")))
    if len(stats.get(TCA_STATS_BASIC, b"")) >= BASIC.size:
        values["bytes"], values["packets"] = BASIC.unpack_from(stats[TCA_STATS_BASIC])
    if len(stats.get(TCA_STATS_QUEUE, b"")) >= QUEUE.size:
        (values["qlen"], values["backlog"], values["drops"], values["requeues"],
         values["overlimits"]) = QUEUE.unpack_from(stats[TCA_STATS_QUEUE])
    xstats = attrs.get(TCA_XSTATS, b"")
    if kind == "red" and len(xstats) >= RED_XSTATS.size:
        values["early"], values["pdrop"], _, values["marked"] = RED_XSTATS.unpack_from(xstats)
    return QdiscStats(ifindex, kind, tc_handle(handle), tc_handle(parent), **values)


def parse_dump(data: bytes) -> tuple[list[QdiscStats], bool]:
    """The qdiscs in a buffer of dump replies, and whether the dump ended (NLMSG_DONE)."""
    return dump_messages(data, RTM_NEWQDISC, parse_qdisc, "qdisc dump")


def dump(sock: socket.socket, ifindex: int = 0, seq: int = 1) -> list[QdiscStats]:
    """Every qdisc of the socket's namespace (only those of ``ifindex`` when it is not 0)."""
    sock.send(dump_request(seq, ifindex))
    found: list[QdiscStats] = []
    done = False
    while not done:
        part, done = parse_dump(sock.recv(1 << 16))
        found += part
    return [q for q in found if not ifindex or q.ifindex == ifindex]
