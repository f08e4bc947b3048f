"""Many pings at once from one process: a raw ICMP socket per source namespace.

A raw socket opened inside a namespace stays there, so one thread can send echo requests
from hundreds of namespaces and wait for all the replies with one selector; no process
per ping. Each probe is told apart by the socket's identifier and a sequence number.

Round-trip times: the send time is read just before ``sendto()`` (between namespaces on
one machine the whole round trip often completes inside that call: veth delivery and the
peer's reply run in the sender's softirq), and the receive time is the kernel's own
timestamp of the reply (SO_TIMESTAMPNS), so a reply that waits while this thread is busy
sending to hundreds of other hosts is not counted as slower than it was.
"""
from __future__ import annotations

import os
import selectors
import socket
import struct
import time
from dataclasses import dataclass
from typing import Callable, Sequence

ECHO_REQUEST, ECHO_REPLY = 8, 0
MAGIC = b"testbed!"
SO_TIMESTAMPNS = 35                  # asm-generic/socket.h (SO_TIMESTAMPNS_OLD); SCM_TIMESTAMPNS too
TIMESPEC = struct.Struct("@qq")      # struct timespec on a 64-bit kernel: seconds, nanoseconds


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int, payload: bytes) -> bytes:
    header = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, ident, seq)
    csum = _checksum(header + payload)
    return struct.pack("!BBHHH", ECHO_REQUEST, 0, csum, ident, seq) + payload


def parse_reply(packet: bytes) -> tuple[int, int] | None:
    """(ident, seq) of an echo reply carrying our payload, from a raw IPv4 packet."""
    if len(packet) < 20:
        return None
    ihl = (packet[0] & 0x0F) * 4
    icmp = packet[ihl:]
    if len(icmp) < 8 + len(MAGIC) or icmp[0] != ECHO_REPLY or icmp[8:8 + len(MAGIC)] != MAGIC:
        return None
    _, _, _, ident, seq = struct.unpack("!BBHHH", icmp[:8])
    return ident, seq


def open_socket() -> socket.socket:
    """A raw ICMP socket in the calling thread's namespace."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                         socket.IPPROTO_ICMP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        pass                         # no kernel timestamps: the time the reply is read is used
    return sock


def _now_ns() -> int:
    """CLOCK_REALTIME in ns: the clock of the kernel's SO_TIMESTAMPNS receive stamps."""
    return time.time_ns()


def _read(sock) -> tuple[bytes, int]:
    """One packet and when it arrived: the kernel's timestamp, or now when there is none."""
    recvmsg = getattr(sock, "recvmsg", None)
    if recvmsg is None:
        return sock.recv(2048), _now_ns()
    packet, ancillary, _, _ = recvmsg(2048, socket.CMSG_SPACE(TIMESPEC.size))
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= TIMESPEC.size:
            seconds, nanoseconds = TIMESPEC.unpack_from(data)
            return packet, seconds * 1_000_000_000 + nanoseconds
    return packet, _now_ns()


@dataclass
class Probe:
    src: str               # source namespace
    dst_ip: str
    sent: int = 0
    received: int = 0
    rtts: list | None = None


def mesh(open_in: Callable[[str], socket.socket], probes: Sequence[Probe], count: int = 1,
         timeout: float = 1.0, interval: float = 0.2, window: int = 1024) -> None:
    """Send ``count`` echo requests for every probe and count the replies (in place).

    ``open_in(ns)`` returns a raw ICMP socket opened inside namespace ``ns``. At most
    ``window`` probes are in flight: a burst of ARP broadcasts flooded to every port of a
    big LAN would overflow the kernel's per-CPU backlog (net.core.netdev_max_backlog).
    """
    by_src: dict[str, list[int]] = {}
    for i, probe in enumerate(probes):
        probe.rtts = []
        by_src.setdefault(probe.src, []).append(i)
    base = int.from_bytes(os.urandom(2), "big")
    sockets: dict[str, socket.socket] = {}
    # (ident, seq) -> (probe index, sent at: monotonic s for expiry, realtime ns for the RTT)
    slots: dict[tuple[int, int], tuple[int, float, int]] = {}
    plan: list[tuple[socket.socket, bytes, str, tuple[int, int], int]] = []
    selector = selectors.DefaultSelector()
    try:
        for n, (src, indexes) in enumerate(by_src.items()):
            sock = sockets[src] = open_in(src)
            selector.register(sock, selectors.EVENT_READ)
            for k, i in enumerate(indexes):
                for attempt in range(count):
                    seq_all = k * count + attempt
                    ident = (base + n + (seq_all >> 16) * len(by_src)) & 0xFFFF
                    seq = seq_all & 0xFFFF
                    packet = echo_request(ident, seq, MAGIC + struct.pack("!I", i))
                    plan.append((sock, packet, probes[i].dst_ip, (ident, seq), attempt))
        rounds: list[list] = [[p for p in plan if p[4] == a] for a in range(count)]
        deadline = 0.0
        for number, sends in enumerate(rounds):
            round_end = time.monotonic() + (interval if number + 1 < count else 0)
            for sock, packet, dst, key, _ in sends:
                i = int.from_bytes(packet[8 + len(MAGIC):12 + len(MAGIC)], "big")
                while len(slots) >= window:        # wait for room first: a reply read while
                    _receive(selector, slots, probes, 0.001)   # waiting must find its slot
                    _expire(slots, timeout)
                slots[key] = (i, time.monotonic(), _now_ns())     # before sendto: see the docstring
                try:
                    sock.sendto(packet, (dst, 0))
                except OSError:
                    pass          # no route or a full queue: counted as lost
                probes[i].sent += 1
                _receive(selector, slots, probes, 0)
            deadline = time.monotonic() + timeout
            while time.monotonic() < round_end:
                _receive(selector, slots, probes, max(0.0, round_end - time.monotonic()))
        while slots and time.monotonic() < deadline:
            _receive(selector, slots, probes, max(0.0, deadline - time.monotonic()))
    finally:
        selector.close()
        for sock in sockets.values():
            sock.close()


def _expire(slots: dict, timeout: float) -> None:
    """Forget probes older than ``timeout``: they are lost."""
    limit = time.monotonic() - timeout
    for key in [k for k, (_, sent_at, _) in slots.items() if sent_at < limit]:
        del slots[key]


def _receive(selector, slots, probes, wait: float) -> None:
    for key, _ in selector.select(wait):
        sock = key.fileobj
        while True:
            try:
                packet, arrived_ns = _read(sock)
            except (BlockingIOError, InterruptedError):
                break
            found = parse_reply(packet)
            if found is None or found not in slots:
                continue
            i, _, sent_ns = slots.pop(found)
            probes[i].received += 1
            probes[i].rtts.append(max(0, arrived_ns - sent_ns) / 1e6)
