"""Many pings at once from one process: a raw ICMP socket per source namespace (and an
ICMPv6 one where IPv6 addresses are pinged).

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
import sys
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from testbed.kernel import forks
from testbed.kernel.nsfs import in_threads

ECHO_REQUEST, ECHO_REPLY = 8, 0
ECHO_REQUEST6, ECHO_REPLY6 = 128, 129
ICMP6_FILTER = 1                     # netinet/icmp6.h: which ICMPv6 types a raw socket gets (a set bit blocks)
SOL_RAW, ICMP_FILTER = 255, 1        # linux/icmp.h: the same for ICMP types 0-31 on a raw IPv4 socket
MAGIC = b"testbed!"
SO_TIMESTAMPNS = 35                  # asm-generic/socket.h (SO_TIMESTAMPNS_OLD); SCM_TIMESTAMPNS too
TIMESPEC = struct.Struct("@qq")      # struct timespec on a 64-bit kernel: seconds, nanoseconds
FORK_MIN = 50_000                    # probes from which the senders are processes, not threads
READ_EVERY = 64                      # sends between reads of the replies (each read is a syscall;
                                     # a reply's time is the kernel's stamp, so waiting costs nothing)


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``, as a big-endian 16-bit number."""
    if len(data) % 2:
        data += b"\0"
    # the one's complement sum of the words read in the machine's order is the byte swap of
    # the sum read big-endian (RFC 1071, 2.B): summing native words needs no unpacking
    total = sum(memoryview(data).cast("H"))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    if sys.byteorder == "little":
        total = ((total & 0xFF) << 8) | (total >> 8)
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int, payload: bytes, family: int = 4) -> bytes:
    """An ICMP echo request; for ICMPv6 (``family`` 6) the kernel fills in the checksum, which
    covers the IPv6 pseudo-header (RFC 3542: always computed on raw ICMPv6 sockets)."""
    if family == 6:
        return struct.pack("!BBHHH", ECHO_REQUEST6, 0, 0, ident, seq) + payload
    header = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, ident, seq)
    csum = _checksum(header + payload)
    return struct.pack("!BBHHH", ECHO_REQUEST, 0, csum, ident, seq) + payload


def parse_reply(packet: bytes, family: int = 4) -> tuple[int, int] | None:
    """(ident, seq) of an echo reply carrying our payload: from a raw IPv4 packet (IP header
    first), or from a raw ICMPv6 socket (which gets the ICMPv6 message alone)."""
    if family == 6:
        icmp, reply = packet, ECHO_REPLY6
    else:
        if len(packet) < 20:
            return None
        icmp, reply = packet[(packet[0] & 0x0F) * 4:], ECHO_REPLY
    if len(icmp) < 8 + len(MAGIC) or icmp[0] != reply or icmp[8:8 + len(MAGIC)] != MAGIC:
        return None
    _, _, _, ident, seq = struct.unpack("!BBHHH", icmp[:8])
    return ident, seq


def family_of(address: str) -> int:
    """4 or 6: the family of a literal IP address."""
    return 6 if ":" in address else 4


def open_socket(family: int = 4) -> socket.socket:
    """A raw ICMP (or, for ``family`` 6, ICMPv6) socket in the calling thread's namespace. It
    gets echo replies only: the echo requests of other hosts' probes (and neighbour discovery
    and multicast listener reports) stay out of it, so a pingall of n hosts reads n - 1
    packets per host, not 2(n - 1)."""
    if family == 6:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                             socket.IPPROTO_ICMPV6)
        blocked = [0xFFFFFFFF] * 8
        blocked[ECHO_REPLY6 >> 5] &= ~(1 << (ECHO_REPLY6 & 31))
        sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, struct.pack("=8I", *blocked))
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                             socket.IPPROTO_ICMP)
        sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("=I", 0xFFFFFFFF & ~(1 << ECHO_REPLY)))
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


@dataclass(slots=True)
class Probe:
    src: str               # source namespace
    dst_ip: str            # IPv4 or IPv6: the probe goes over that family
    sent: int = 0
    received: int = 0
    rtts: list | None = None


def mesh(open_in: Callable[[str, int], socket.socket], probes: Sequence[Probe], count: int = 1,
         timeout: float = 1.0, interval: float = 0.2, window: int = 1024, threads: int = 2) -> None:
    """Send ``count`` echo requests for every probe and count the replies (in place).

    ``open_in(ns, family)`` returns a raw ICMP (family 4) or ICMPv6 (6) socket opened inside
    namespace ``ns``: one per source namespace and family. At most ``window`` probes are in
    flight: a burst of ARP broadcasts (or neighbour solicitations) flooded to every port of a
    big LAN would overflow the kernel's per-CPU backlog (net.core.netdev_max_backlog).

    The sources are shared among ``threads`` senders, each with its own sockets, selector and
    share of the window: a round trip between namespaces runs inside sendto() with the GIL
    released, so a second sender keeps a second core busy.
    """
    by_src: dict[tuple[str, int], list[int]] = {}
    for i, probe in enumerate(probes):
        probe.rtts = []
        by_src.setdefault((probe.src, family_of(probe.dst_ip)), []).append(i)
    base = int.from_bytes(os.urandom(2), "big")
    sockets: list[socket.socket] = []
    # per sender: its sends, round by round: (socket, packet, address, (ident, seq), probe index)
    senders: list[list[list[tuple]]] = [[[] for _ in range(count)] for _ in range(max(1, min(threads, len(by_src))))]
    loads = [0] * len(senders)
    try:
        for n, ((src, family), indexes) in enumerate(by_src.items()):
            sock = open_in(src, family)
            sockets.append(sock)
            which = loads.index(min(loads))           # the sender with the fewest probes so far
            loads[which] += len(indexes)
            for k, i in enumerate(indexes):
                for attempt in range(count):
                    seq_all = k * count + attempt
                    ident = (base + n + (seq_all >> 16) * len(by_src)) & 0xFFFF
                    seq = seq_all & 0xFFFF
                    packet = echo_request(ident, seq, MAGIC + struct.pack("!I", i), family)
                    senders[which][attempt].append((sock, packet, probes[i].dst_ip, (ident, seq), i))
        share = max(1, window // len(senders))
        if len(probes) * count >= FORK_MIN:           # each sender a process (testbed/kernel/forks.py)
            def send(rounds: list[list[tuple]]) -> list:
                _send_rounds(rounds, probes, timeout, interval, share)
                mine = sorted({entry[4] for sends in rounds for entry in sends})
                return [(i, probes[i].sent, probes[i].received, probes[i].rtts) for i in mine]
            for counts in forks.in_processes(send, senders)[1:]:       # the first sender's are here already
                for i, sent, received, rtts in counts:
                    probes[i].sent, probes[i].received, probes[i].rtts = sent, received, rtts
        else:
            in_threads(lambda rounds: _send_rounds(rounds, probes, timeout, interval, share), senders)
    finally:
        for sock in sockets:
            sock.close()


def _send_rounds(rounds: list[list[tuple]], probes: Sequence[Probe], timeout: float, interval: float,
                 window: int) -> None:
    """One sender: its rounds of echo requests, at most ``window`` unanswered at once, and
    the replies to them, until all are answered or ``timeout`` after its last send."""
    selector = selectors.DefaultSelector()
    # (ident, seq) -> (probe index, sent at: monotonic s for expiry, realtime ns for the RTT)
    slots: dict[tuple[int, int], tuple[int, float, int]] = {}
    try:
        for sock, family in {entry[0]: family_of(entry[2]) for sends in rounds for entry in sends}.items():
            selector.register(sock, selectors.EVENT_READ, family)
        deadline = 0.0
        for number, sends in enumerate(rounds):
            round_end = time.monotonic() + (interval if number + 1 < len(rounds) else 0)
            for number_sent, (sock, packet, dst, key, i) in enumerate(sends, 1):
                while len(slots) >= window:        # wait for room first: a reply read while
                    _receive(selector, slots, probes, 0.001)   # waiting must find its slot
                    _expire(slots, timeout)
                slots[key] = (i, time.monotonic(), _now_ns())     # before sendto: see the docstring
                try:
                    sock.sendto(packet, (dst, 0))
                except OSError:
                    pass          # no route or a full queue: counted as lost
                probes[i].sent += 1
                if number_sent % READ_EVERY == 0:
                    _receive(selector, slots, probes, 0)
            deadline = time.monotonic() + timeout
            while time.monotonic() < round_end:
                _receive(selector, slots, probes, max(0.0, round_end - time.monotonic()))
        while slots and time.monotonic() < deadline:
            _receive(selector, slots, probes, max(0.0, deadline - time.monotonic()))
    finally:
        selector.close()


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
            found = parse_reply(packet, key.data)
            if found is None or found not in slots:
                continue
            i, _, sent_ns = slots.pop(found)
            probes[i].received += 1
            probes[i].rtts.append(max(0, arrived_ns - sent_ns) / 1e6)
