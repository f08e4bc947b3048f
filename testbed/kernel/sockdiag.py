"""TCP sockets' state over sock_diag (inet_diag): congestion window, RTT, options, congestion control.

The kernel's ``tcp_info`` of each socket, which ``ss -ti`` prints, read without a process:
one SOCK_DIAG_BY_FAMILY dump of a namespace's TCP sockets costs well under a millisecond,
so flows can be sampled every 100 ms even in an emulated guest. ``open_socket`` must run in
the namespace whose sockets it should see; the socket may then be used from any thread.
"""
from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass

from testbed.kernel.nlencode import dump_messages

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
INET_DIAG_INFO, INET_DIAG_CONG = 2, 4
TCP_ESTABLISHED = 1
NLMSG = struct.Struct("=IHHII")
REQ_V2 = struct.Struct("=BBBxI48x")     # family, protocol, extensions, states, an empty inet_diag_sockid
DIAG_MSG = struct.Struct("=BBBB2s2s16s16sI8sIIIII")
NLA = struct.Struct("=HH")
TCPI_OPT_TIMESTAMPS, TCPI_OPT_SACK, TCPI_OPT_WSCALE, TCPI_OPT_ECN, TCPI_OPT_ECN_SEEN = 1, 2, 4, 8, 16

# struct tcp_info (include/uapi/linux/tcp.h): field -> (offset, struct format)
TCP_INFO_FIELDS = {
    "state": (0, "B"), "ca_state": (1, "B"), "retransmits": (2, "B"), "options": (5, "B"),
    "app_limited": (7, "B"),        # bit 0: the last delivery-rate sample was application limited
    "rto": (8, "I"), "snd_mss": (16, "I"), "unacked": (24, "I"), "sacked": (28, "I"), "lost": (32, "I"),
    "retrans": (36, "I"), "pmtu": (60, "I"), "rtt": (68, "I"), "rttvar": (72, "I"),
    "snd_ssthresh": (76, "I"), "snd_cwnd": (80, "I"), "reordering": (88, "I"), "total_retrans": (100, "I"),
    "pacing_rate": (104, "Q"), "bytes_acked": (120, "Q"), "bytes_received": (128, "Q"),
    "segs_out": (136, "I"), "notsent_bytes": (144, "I"), "min_rtt": (148, "I"), "data_segs_out": (156, "I"),
    "delivery_rate": (160, "Q"), "busy_time": (168, "Q"), "rwnd_limited": (176, "Q"),
    "sndbuf_limited": (184, "Q"), "delivered": (192, "I"), "delivered_ce": (196, "I"),
    "bytes_sent": (200, "Q"), "bytes_retrans": (208, "Q"), "snd_wnd": (228, "I"),
}


@dataclass(frozen=True)
class TcpSocket:
    """One TCP socket: its addresses, congestion control and the tcp_info fields it reported.

    Times in ``info`` are microseconds (rtt, rttvar, min_rtt, rto; busy_time and the parts of
    it the receiver's window and the send buffer limited the flow), windows in segments
    (snd_cwnd, snd_ssthresh), counters in segments or bytes as their names say.
    """

    src: str
    sport: int
    dst: str
    dport: int
    state: int
    congestion: str | None
    info: dict[str, int]

    @property
    def cwnd(self) -> int | None:
        return self.info.get("snd_cwnd")

    @property
    def rtt_ms(self) -> float | None:
        rtt = self.info.get("rtt")
        return None if rtt is None else rtt / 1000

    @property
    def sack(self) -> bool:
        return bool(self.info.get("options", 0) & TCPI_OPT_SACK)

    @property
    def ecn(self) -> bool:
        return bool(self.info.get("options", 0) & TCPI_OPT_ECN)

    @property
    def timestamps(self) -> bool:
        return bool(self.info.get("options", 0) & TCPI_OPT_TIMESTAMPS)


def open_socket() -> socket.socket:
    """A sock_diag socket of the calling thread's namespace (call it there)."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    sock.bind((0, 0))
    sock.settimeout(5)
    return sock


def dump_request(seq: int, family: int = socket.AF_INET, states: int = 1 << TCP_ESTABLISHED) -> bytes:
    extensions = (1 << (INET_DIAG_INFO - 1)) | (1 << (INET_DIAG_CONG - 1))
    body = REQ_V2.pack(family, socket.IPPROTO_TCP, extensions, states)
    return NLMSG.pack(NLMSG.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


def parse_tcp_info(data: bytes) -> dict[str, int]:
    """The fields of TCP_INFO_FIELDS that fit in ``data`` (older kernels send a shorter struct)."""
    info: dict[str, int] = {}
    for name, (offset, fmt) in TCP_INFO_FIELDS.items():
        if offset + struct.calcsize(fmt) <= len(data):
            info[name] = struct.unpack_from("=" + fmt, data, offset)[0]
    return info


def _address(family: int, raw: bytes) -> str:
    """The address as text; an IPv4-mapped IPv6 one (a dual-stack socket's peer) as plain IPv4."""
    if family == socket.AF_INET:
        return str(ipaddress.IPv4Address(raw[:4]))
    address = ipaddress.IPv6Address(raw)
    return str(address.ipv4_mapped or address)


def parse_socket(msg: bytes) -> TcpSocket:
    """One inet_diag_msg (starting at its netlink header)."""
    length = NLMSG.unpack_from(msg)[0]
    (family, state, _, _, sport, dport, src, dst, _, _, _, _, _, _, _) = DIAG_MSG.unpack_from(msg, NLMSG.size)
    offset, info, congestion = NLMSG.size + DIAG_MSG.size, {}, None
    while offset + NLA.size <= length:
        alen, kind = NLA.unpack_from(msg, offset)
        if alen < NLA.size:
            break
        payload = msg[offset + NLA.size:offset + alen]
        if kind == INET_DIAG_INFO:
            info = parse_tcp_info(payload)
        elif kind == INET_DIAG_CONG:
            congestion = payload.rstrip(b"\0").decode(errors="replace")
        offset += (alen + 3) & ~3
    return TcpSocket(_address(family, src), int.from_bytes(sport, "big"), _address(family, dst),
                     int.from_bytes(dport, "big"), state, congestion, info)


def parse_dump(data: bytes) -> tuple[list[TcpSocket], bool]:
    """The sockets in a buffer of dump replies, and whether the dump ended (NLMSG_DONE)."""
    return dump_messages(data, SOCK_DIAG_BY_FAMILY, parse_socket, "sock_diag dump")


def dump(sock: socket.socket, families: tuple[int, ...] = (socket.AF_INET, socket.AF_INET6),
         seq: int = 1) -> list[TcpSocket]:
    """Every established TCP socket of the socket's namespace, IPv4 and IPv6 (servers often listen on
    both: their IPv4 peers then arrive on IPv6 sockets, shown here with plain IPv4 addresses)."""
    found: list[TcpSocket] = []
    for family in families:
        sock.send(dump_request(seq, family))
        done = False
        while not done:
            part, done = parse_dump(sock.recv(1 << 16))
            found += part
    return found
