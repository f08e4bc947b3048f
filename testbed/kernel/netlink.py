"""rtnetlink requests in batches: pyroute2 encodes the messages, one socket sends them.

A Batch is opened in the calling thread's namespace; requests are queued with a
description, sent together, and every acknowledgement is checked, so a failure names
the request that failed. Links can be created straight into other namespaces
(IFLA_NET_NS_FD) with a chosen ifindex, so no lookup is needed afterwards.
"""
from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from typing import Any

from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NLMSG_ERROR
from pyroute2.netlink.rtnl import RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, RTM_SETLINK
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

IFF_UP = 1
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
SO_RCVBUFFORCE = 33
CREATE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
CHANGE = NLM_F_REQUEST | NLM_F_ACK
WINDOW = 256                 # requests in flight before reading acknowledgements
CENTI = 100                  # the bridge's clock_t unit: 1/100 s


class NetlinkError(OSError):
    """A request the kernel refused; ``what`` names the request."""

    def __init__(self, code: int, what: str):
        self.what = what
        super().__init__(code, f"{what}: {os.strerror(code)}")


def _up(up: bool) -> dict:
    return {"flags": IFF_UP if up else 0, "change": IFF_UP}


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

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def _queue(self, cls, fields: dict, attrs: list, msg_type: int, flags: int, what: str) -> None:
        msg = cls()
        for key, value in fields.items():
            msg[key] = value
        msg["attrs"] = attrs
        self.seq += 1
        msg["header"]["type"] = msg_type
        msg["header"]["flags"] = flags
        msg["header"]["sequence_number"] = self.seq
        msg.encode()
        self.pending.append((msg.data, what))

    # ------------------------------------------------------------ requests

    def veth(self, name: str, index: int, mac: str, netns_fd: int, master: int | None,
             peer_name: str, peer_index: int, peer_mac: str, peer_netns_fd: int) -> None:
        """A veth pair, each end in its namespace; this end up (and in its bridge)."""
        peer = {"index": peer_index, "attrs": [("IFLA_IFNAME", peer_name), ("IFLA_ADDRESS", peer_mac),
                                               ("IFLA_NET_NS_FD", peer_netns_fd)]}
        attrs: list[Any] = [("IFLA_IFNAME", name), ("IFLA_ADDRESS", mac), ("IFLA_NET_NS_FD", netns_fd)]
        if master is not None:
            attrs.append(("IFLA_MASTER", master))
        attrs.append(("IFLA_LINKINFO", {"attrs": [("IFLA_INFO_KIND", "veth"), ("IFLA_INFO_DATA", {
            "attrs": [("VETH_INFO_PEER", peer)]})]}))
        self._queue(ifinfmsg, dict(index=index, **_up(True)), attrs, RTM_NEWLINK, CREATE,
                    f"create veth {name} <-> {peer_name}")

    def bridge(self, name: str, index: int, mac: str, netns_fd: int | None, *, stp: bool, ageing: float,
               forward_delay: float | None = None, priority: int | None = None) -> None:
        data: list[Any] = [("IFLA_BR_AGEING_TIME", int(ageing * CENTI)), ("IFLA_BR_STP_STATE", int(stp))]
        if forward_delay is not None:
            data.append(("IFLA_BR_FORWARD_DELAY", int(forward_delay * CENTI)))
        if priority is not None:
            data.append(("IFLA_BR_PRIORITY", priority))
        if ageing == 0:
            data.append(("IFLA_BR_MCAST_SNOOPING", 0))       # a hub floods multicast too
        self.device("bridge", name, index, mac, netns_fd, data)

    def device(self, kind: str, name: str, index: int, mac: str, netns_fd: int | None,
               data: list | None = None) -> None:
        """A link of ``kind`` (bridge, dummy, ifb...) created up in the given namespace."""
        attrs: list[Any] = [("IFLA_IFNAME", name), ("IFLA_ADDRESS", mac)]
        if netns_fd is not None:
            attrs.append(("IFLA_NET_NS_FD", netns_fd))
        info: list[Any] = [("IFLA_INFO_KIND", kind)]
        if data:
            info.append(("IFLA_INFO_DATA", {"attrs": data}))
        attrs.append(("IFLA_LINKINFO", {"attrs": info}))
        self._queue(ifinfmsg, dict(index=index, **_up(True)), attrs, RTM_NEWLINK, CREATE,
                    f"create {kind} {name}")

    def set_link(self, index: int, name: str, *, up: bool | None = None, master: int | None = None) -> None:
        fields: dict[str, Any] = {"index": index}
        if up is not None:
            fields.update(_up(up))
        attrs = [("IFLA_MASTER", master)] if master is not None else []
        state = {True: "up", False: "down", None: ""}[up]
        self._queue(ifinfmsg, fields, attrs, RTM_SETLINK, CHANGE,
                    f"set {name} {state}{' master ' + str(master) if master else ''}".strip())

    def address(self, index: int, name: str, cidr: str) -> None:
        iface = ipaddress.ip_interface(cidr)
        family = socket.AF_INET if iface.version == 4 else socket.AF_INET6
        attrs: list[Any] = [("IFA_LOCAL", str(iface.ip)), ("IFA_ADDRESS", str(iface.ip))]
        if iface.version == 4 and iface.network.prefixlen < 31:
            attrs.append(("IFA_BROADCAST", str(iface.network.broadcast_address)))
        self._queue(ifaddrmsg, {"family": family, "prefixlen": iface.network.prefixlen, "index": index},
                    attrs, RTM_NEWADDR, CREATE, f"add address {cidr} to {name}")

    def route(self, dst: str, via: str) -> None:
        net = ipaddress.ip_network("0.0.0.0/0" if dst == "default" else dst)
        gateway = ipaddress.ip_address(via)
        family = socket.AF_INET if net.version == 4 else socket.AF_INET6
        attrs: list[Any] = [("RTA_GATEWAY", str(gateway))]
        if net.prefixlen:
            attrs.insert(0, ("RTA_DST", str(net.network_address)))
        fields = {"family": family, "dst_len": net.prefixlen, "table": 254, "proto": 4,  # static
                  "scope": 0, "type": 1}
        self._queue(rtmsg, fields, attrs, RTM_NEWROUTE, CREATE, f"add route {dst} via {via}")

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
        if failure is not None:
            raise failure

    def _drain(self, outstanding: int, whats: dict, failure, until: int):
        while outstanding > until:
            data = self.sock.recv(1 << 20)
            offset = 0
            while offset + 16 <= len(data):
                length, msg_type, _flags, seq, _pid = struct.unpack_from("IHHII", data, offset)
                if msg_type == NLMSG_ERROR:
                    outstanding -= 1
                    code = -struct.unpack_from("i", data, offset + 16)[0]
                    if code and failure is None:
                        failure = NetlinkError(code, whats.get(seq, f"request {seq}"))
                offset += (length + 3) & ~3
        return outstanding, failure


def is_exists(error: OSError) -> bool:
    return error.errno == errno.EEXIST


IFF_LOWER_UP = 0x10000
RTM_GETLINK = 18
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
