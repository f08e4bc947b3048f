"""rtnetlink requests in batches over one socket.

A Batch is opened in the calling thread's namespace; requests are queued with a
description (encoded by testbed.kernel.nlencode, checked byte for byte against pyroute2),
sent together, and every acknowledgement is checked, so a failure names the request
that failed. Links can be created straight into other namespaces
(IFLA_NET_NS_FD) with a chosen ifindex, so no lookup is needed afterwards.
"""
from __future__ import annotations

import errno
import os
import socket
import struct
import threading
from typing import Any

from testbed.errors import DeployError
from testbed.kernel import nlencode

IFF_UP = 1
NUD_PERMANENT = 0x80
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 1, 4, 0x200, 0x400
NLMSG_ERROR = 2
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
SO_RCVBUFFORCE = 33
CREATE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
CHANGE = NLM_F_REQUEST | NLM_F_ACK
WINDOW = 256                 # requests in flight before reading acknowledgements
CENTI = 100                  # the bridge's clock_t unit: 1/100 s
RECV_SIZE = 1 << 16          # acknowledgements read at once (WINDOW of them take 9 kB)

# One receive buffer per thread, reused: a fresh 1 MB buffer per recv() is mapped and
# unmapped by malloc each time (page faults and munmap were most of a large commit's cost).
_buffers = threading.local()


def _recv(sock: socket.socket) -> memoryview:
    buf = getattr(_buffers, "buf", None)
    if buf is None:
        buf = _buffers.buf = bytearray(RECV_SIZE)
    return memoryview(buf)[:sock.recv_into(buf)]


class NetlinkError(DeployError, OSError):
    """A request the kernel refused; ``what`` names the request."""

    def __init__(self, code: int, what: str):
        self.what = what
        super().__init__(code, f"{what}: {os.strerror(code)}")


class Batch:
    """Queue requests, then commit() them; raises NetlinkError naming the first failure."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
        self.sock.bind((0, 0))
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        except OSError:
            pass
        self.sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        self.pending: list[tuple[bytes, str]] = []
        self.seq = 0
        self.tolerated: dict[int, int] = {}      # seq -> an errno that is no failure for that request

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def _add(self, encode, what: str, **fields: Any) -> None:
        self.seq += 1
        self.pending.append((encode(self.seq, fields.pop("flags", CREATE), **fields), what))

    # ------------------------------------------------------------ requests

    def veth(self, name: str, index: int, mac: str, netns_fd: int, master: int | None,
             peer_name: str, peer_index: int, peer_mac: str, peer_netns_fd: int) -> None:
        """A veth pair, each end in its namespace; this end up (and in its bridge)."""
        self._add(nlencode.veth, f"create veth {name} <-> {peer_name}", name=name, index=index, mac=mac,
                  netns_fd=netns_fd, master=master, up=True, peer_name=peer_name, peer_index=peer_index,
                  peer_mac=peer_mac, peer_netns_fd=peer_netns_fd)

    def bridge(self, name: str, index: int, mac: str, netns_fd: int | None, *, stp: bool, ageing: float,
               forward_delay: float | None = None, priority: int | None = None,
               vlan_filtering: bool = False) -> None:
        data = {"ageing_time": int(ageing * CENTI), "stp_state": int(stp)}
        if vlan_filtering:
            data["vlan_filtering"] = 1            # 802.1Q VLAN-aware (testbed/backends/linux.py)
        if forward_delay is not None:
            data["forward_delay"] = int(forward_delay * CENTI)
        if priority is not None:
            data["priority"] = priority
        if ageing == 0:
            data["mcast_snooping"] = 0            # a hub floods multicast too
        self.device("bridge", name, index, mac, netns_fd, data)

    def device(self, kind: str, name: str, index: int, mac: str, netns_fd: int | None,
               data: dict[str, int] | None = None) -> None:
        """A link of ``kind`` (bridge, dummy, ifb...) created up in the given namespace."""
        self._add(nlencode.device, f"create {kind} {name}", kind=kind, name=name, index=index, mac=mac,
                  netns_fd=netns_fd, up=True, data=data)

    def macvlan(self, name: str, index: int, mac: str | None, netns_fd: int, parent_index: int, mode: int) -> None:
        """A macvlan child of ``parent_index`` (in this socket's namespace), created up in ``netns_fd``."""
        self._add(nlencode.macvlan, f"create macvlan {name} on ifindex {parent_index}", name=name, index=index,
                  mac=mac, netns_fd=netns_fd, parent_index=parent_index, mode=mode, up=True)

    def set_link(self, index: int, name: str, *, up: bool | None = None, master: int | None = None) -> None:
        state = {True: " up", False: " down", None: ""}[up]
        self._add(nlencode.setlink, f"set {name}{state}{' master ' + str(master) if master else ''}",
                  flags=CHANGE, index=index, up=up, master=master)

    def address(self, index: int, name: str, cidr: str) -> None:
        self._add(nlencode.address, f"add address {cidr} to {name}", index=index, cidr=cidr)

    def route(self, dst: str, via: str) -> None:
        self._add(nlencode.route, f"add route {dst} via {via}", dst=dst, via=via)

    def nsid(self, netns_fd: int, peer: str) -> None:
        """An id in this namespace for the namespace behind ``netns_fd`` (so ``ip link`` can name a veth's
        peer namespace); one it has already is fine."""
        self._add(nlencode.nsid, f"give namespace {peer} an id", netns_fd=netns_fd, nsid=-1)
        self.tolerated[self.seq] = errno.EEXIST

    def neighbour(self, index: int, ip: str, mac: str) -> None:
        """A permanent neighbour entry, ARP or IPv6 (exempt from the kernel's neighbour table limit)."""
        self._add(nlencode.neighbour, f"add neighbour {ip} lladdr {mac}", index=index, ip=ip, mac=mac,
                  state=NUD_PERMANENT)

    # ------------------------------------------------------------ sending

    def commit(self) -> None:
        """Send every queued request; raise NetlinkError for the first one refused."""
        pending, self.pending = self.pending, []
        whats = {}
        failure: NetlinkError | None = None
        outstanding = 0
        base = self.seq - len(pending)
        for i, (data, what) in enumerate(pending):
            whats[base + i + 1] = what
            self.sock.send(data)
            outstanding += 1
            if outstanding >= WINDOW:
                outstanding, failure = self._drain(outstanding, whats, failure, until=WINDOW // 2)
        _, failure = self._drain(outstanding, whats, failure, until=0)
        self.tolerated.clear()
        if failure is not None:
            raise failure

    def _drain(self, outstanding: int, whats: dict, failure, until: int):
        while outstanding > until:
            data = _recv(self.sock)
            offset = 0
            while offset + 16 <= len(data):
                length, msg_type, _flags, seq, _pid = struct.unpack_from("IHHII", data, offset)
                if msg_type == NLMSG_ERROR:
                    outstanding -= 1
                    code = -struct.unpack_from("i", data, offset + 16)[0]
                    if code and failure is None and self.tolerated.get(seq) != code:
                        failure = NetlinkError(code, whats.get(seq, f"request {seq}"))
                offset += (length + 3) & ~3
        return outstanding, failure


def is_exists(error: OSError) -> bool:
    return error.errno == errno.EEXIST


IFF_LOWER_UP = 0x10000
RTM_GETLINK, RTM_NEWLINK = 18, 16
NLM_F_DUMP = 0x300
NLMSG_DONE = 3


def links_without_carrier(indexes: set[int]) -> set[int]:
    """Which of the given ifindexes of the calling thread's namespace lack carrier (IFF_LOWER_UP).

    One RTM_GETLINK dump read straight from the message headers: cheap enough to ask every
    namespace of a large network right after it is built.
    """
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
    try:
        sock.bind((0, 0))
        # nlmsghdr + ifinfomsg (family AF_UNSPEC) asking for a dump of every link
        sock.send(struct.pack("IHHII", 32, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + bytes(16))
        without = set(indexes)
        while True:
            data = sock.recv(1 << 16)
            offset = 0
            while offset + 16 <= len(data):
                length, msg_type, _flags, _seq, _pid = struct.unpack_from("IHHII", data, offset)
                if msg_type == NLMSG_DONE:
                    return without
                if msg_type == NLMSG_ERROR:
                    code = -struct.unpack_from("i", data, offset + 16)[0]
                    raise NetlinkError(code, "dump links")
                if msg_type == RTM_NEWLINK:
                    index, flags = struct.unpack_from("iI", data, offset + 20)
                    if flags & IFF_LOWER_UP:
                        without.discard(index)
                offset += (length + 3) & ~3
    finally:
        sock.close()


RTM_GETADDR, RTM_NEWADDR = 22, 20
IFA_ADDRESS, IFA_FLAGS = 1, 8
IFA_F_DADFAILED, IFA_F_TENTATIVE = 0x08, 0x40
RT_SCOPE_LINK = 253


def ipv6_addresses() -> dict[int, list[tuple[str, int, int]]]:
    """ifindex -> [(address, scope, flags)] of every IPv6 address of the calling thread's
    namespace, from one RTM_GETADDR dump (flags: IFA_F_*, e.g. TENTATIVE while duplicate-address
    detection runs)."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
    found: dict[int, list[tuple[str, int, int]]] = {}
    try:
        sock.bind((0, 0))
        # nlmsghdr + ifaddrmsg (family AF_INET6) asking for a dump of every address
        sock.send(struct.pack("IHHII", 24, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
                  + struct.pack("BBBBI", socket.AF_INET6, 0, 0, 0, 0))
        while True:
            data = sock.recv(1 << 16)
            offset = 0
            while offset + 16 <= len(data):
                length, msg_type, _flags, _seq, _pid = struct.unpack_from("IHHII", data, offset)
                if msg_type == NLMSG_DONE:
                    return found
                if msg_type == NLMSG_ERROR:
                    code = -struct.unpack_from("i", data, offset + 16)[0]
                    raise NetlinkError(code, "dump IPv6 addresses")
                if msg_type == RTM_NEWADDR:
                    _family, _prefix, flags, scope, index = struct.unpack_from("BBBBI", data, offset + 16)
                    address = None
                    at = offset + 24
                    while at + 4 <= offset + length:
                        size, kind = struct.unpack_from("HH", data, at)
                        if size < 4:
                            break
                        if kind == IFA_ADDRESS and size >= 20:
                            address = socket.inet_ntop(socket.AF_INET6, data[at + 4:at + 20])
                        elif kind == IFA_FLAGS and size >= 8:
                            flags = struct.unpack_from("I", data, at + 4)[0]
                        at += (size + 3) & ~3
                    if address is not None:
                        found.setdefault(index, []).append((address, scope, flags))
                offset += (length + 3) & ~3
    finally:
        sock.close()
