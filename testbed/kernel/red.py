"""The RED qdisc (random early detection, with ECN marking) over raw rtnetlink.

pyroute2 has no RED support, so the request is encoded here, as iproute2's ``tc`` encodes
it (tests/unit/test_red.py compares the bytes with a request captured from ``tc qdisc add
... red ...``). The parameters tc derives from its command line are derived the same way:

- ``Wlog``: the averaging weight W = 2^-Wlog of the queue estimate. ``tc`` finds the
  smallest W for a ``burst`` (tc_red_eval_ewma); ``wlog=0`` (W = 1, which tc cannot
  ask for and the kernel accepts) makes RED act on the instantaneous queue, as DCTCP's
  marking does.
- ``Plog``: log2 of max_P / (qth_max - qth_min) (tc_red_eval_P).
- ``Scell_log`` and the 256-byte idle-damping table (tc_red_eval_idle_damping), from the
  link's bandwidth and the kernel's packet-scheduler clock (/proc/net/psched).

Thresholds and the hard limit are bytes of backlog. Above ``qth_max`` every packet is
marked (ECN-capable, with ``ecn``) or dropped; between the thresholds, with probability
rising to max_P. Runs in the calling thread's namespace.
"""
from __future__ import annotations

import errno
import math
import os
import socket
import struct
from dataclasses import dataclass

RTM_NEWQDISC = 36
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR = 2
TCA_KIND, TCA_OPTIONS = 1, 2
TCA_RED_PARMS, TCA_RED_STAB, TCA_RED_MAX_P, TCA_RED_FLAGS = 1, 2, 3, 4
TC_RED_ECN, TC_RED_HARDDROP = 1, 2
RED_FLAGS_SELECTOR = 0x0F               # the historic flags (ECN, HARDDROP, ADAPTATIVE, NODROP)
TCMSG = struct.Struct("=BxxxiIII")      # family, ifindex, handle, parent, info
QOPT = struct.Struct("=IIIBBBB")        # limit, qth_min, qth_max, Wlog, Plog, Scell_log, flags
PSCHED = "/proc/net/psched"
DEFAULT_TICK_IN_USEC = 1000 / 64        # what /proc/net/psched gives on current kernels


class RedError(ValueError):
    """RED parameters tc would refuse (the message says which)."""


def ewma_log(qth_min: int, burst: int, avpkt: int) -> int:
    """tc_red_eval_ewma: the smallest Wlog whose average can absorb ``burst`` packets."""
    a = burst + 1 - qth_min / avpkt
    if a < 1.0:
        raise RedError(f"burst {burst} is too small for min {qth_min}; try burst {1 + qth_min // avpkt}")
    w = 0.5
    for wlog in range(1, 32):
        if a <= (1 - (1 - w) ** burst) / w:
            return wlog
        w /= 2
    raise RedError(f"no averaging weight fits burst {burst}")


def probability_log(qth_min: int, qth_max: int, probability: float) -> int:
    """tc_red_eval_P: Plog = log2 of (qth_max - qth_min) / max_P, as tc rounds it."""
    delta = qth_max - qth_min
    if delta == 0:
        return 0
    if delta < 0:
        raise RedError(f"max {qth_max} is below min {qth_min}")
    prob = probability / delta
    for i in range(32):
        if prob > 1.0:
            return i
        prob *= 2
    raise RedError(f"probability {probability} is too small for min {qth_min}, max {qth_max}")


def tick_from_psched(text: str) -> float:
    """Packet-scheduler ticks per microsecond from /proc/net/psched's text, as tc_core_init reads it."""
    t2us, us2t, clock_res = (int(x, 16) for x in text.split()[:3])
    if clock_res == 1_000_000_000:
        t2us = us2t
    return t2us / us2t * (clock_res / 1_000_000)


def tick_in_usec(path: str = PSCHED) -> float:
    """This kernel's ticks per microsecond (DEFAULT_TICK_IN_USEC when /proc/net/psched is unreadable)."""
    try:
        with open(path) as f:
            return tick_from_psched(f.read())
    except (OSError, ValueError):
        return DEFAULT_TICK_IN_USEC


def idle_damping(wlog: int, avpkt: int, bytes_per_second: int, tick: float) -> tuple[int, bytes]:
    """tc_red_eval_idle_damping: (Scell_log, the 256-byte table of shifts)."""
    xmit_time = int(int(1_000_000 * avpkt / bytes_per_second) * tick)    # tc_calc_xmittime: whole us, ticks
    if wlog == 0:                        # W = 1: the average forgets everything at once
        return 0, bytes([0] + [31] * 255)
    lw = -math.log(1.0 - 1.0 / (1 << wlog)) / xmit_time
    maxtime = 31 / lw
    for clog in range(32):
        if maxtime / (1 << clog) < 512:
            break
    else:
        raise RedError("no cell size fits the idle damping table")
    table = [0] + [min(31, int((i << clog) * lw)) for i in range(1, 255)] + [31]
    return clog, bytes(table)


@dataclass(frozen=True)
class RedParams:
    """A RED qdisc: thresholds and limit in bytes, rate in bit/s (for idle damping)."""

    limit: int
    qth_min: int
    qth_max: int
    avpkt: int
    bandwidth: int
    wlog: int
    probability: float = 1.0
    ecn: bool = True
    harddrop: bool = False

    def check(self) -> None:
        if not 0 < self.qth_min <= self.qth_max <= self.limit:
            raise RedError(f"need 0 < min ({self.qth_min}) <= max ({self.qth_max}) <= limit ({self.limit})")
        if not 0 <= self.wlog < 32 or self.qth_max.bit_length() + self.wlog >= 32:
            raise RedError(f"Wlog {self.wlog} with max {self.qth_max} bytes overflows the kernel's average")
        if not 0 < self.probability <= 1:
            raise RedError(f"probability {self.probability} must be in (0, 1]")


def options(p: RedParams, tick: float | None = None) -> bytes:
    """The TCA_OPTIONS payload of a RED qdisc (nested attributes)."""
    p.check()
    plog = probability_log(p.qth_min, p.qth_max, p.probability)
    scell_log, stab = idle_damping(p.wlog, p.avpkt, p.bandwidth // 8, tick_in_usec() if tick is None else tick)
    flags = (TC_RED_ECN if p.ecn else 0) | (TC_RED_HARDDROP if p.harddrop else 0)
    max_p = int(p.probability * 2 ** 32) & 0xFFFFFFFF       # tc: probability 1 wraps to 0 (max_P from Plog)
    return (_nla(TCA_RED_PARMS, QOPT.pack(p.limit, p.qth_min, p.qth_max, p.wlog, plog, scell_log, 0))
            + _nla(TCA_RED_STAB, stab) + _nla(TCA_RED_MAX_P, struct.pack("=I", max_p))
            + _nla(TCA_RED_FLAGS, struct.pack("=II", flags, RED_FLAGS_SELECTOR)))


def request(seq: int, index: int, handle: int, parent: int, p: RedParams, tick: float | None = None) -> bytes:
    """An RTM_NEWQDISC request (create, exclusive, acked) for a RED qdisc on interface ``index``."""
    body = (TCMSG.pack(socket.AF_UNSPEC, index, handle, parent, 0) + _nla(TCA_KIND, b"red\0")
            + _nla(TCA_OPTIONS, options(p, tick)))
    flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE
    return struct.pack("=IHHII", 16 + len(body), RTM_NEWQDISC, flags, seq, 0) + body


def add(index: int, handle: int, parent: int, p: RedParams) -> None:
    """Create the qdisc in this thread's namespace; OSError(errno) when the kernel refuses."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.bind((0, 0))
        sock.settimeout(10)
        sock.send(request(1, index, handle, parent, p))
        reply = sock.recv(65536)
    length, kind = struct.unpack_from("=IH", reply)
    if kind != NLMSG_ERROR:
        raise OSError(errno.EPROTO, f"unexpected netlink reply type {kind}")
    code = struct.unpack_from("=i", reply, 16)[0]
    if code:
        raise OSError(-code, os.strerror(-code))


def _nla(kind: int, payload: bytes) -> bytes:
    data = struct.pack("=HH", 4 + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)
