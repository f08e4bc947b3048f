"""Encoders of the rtnetlink requests a build sends, in a few µs each.

pyroute2 encodes any rtnetlink message, but importing it costs ~0.2 s per process and
encoding ~50-500 µs per message; a 1000-host build sends thousands. These fixed-layout
encoders produce the same bytes as pyroute2 (tests/unit/test_nlencode.py compares them
message by message), which stays the reference and the reader of kernel replies.
"""
from __future__ import annotations

import errno
import functools
import ipaddress
import socket
import struct

RTM_NEWLINK, RTM_SETLINK, RTM_NEWADDR, RTM_NEWROUTE, RTM_NEWNEIGH, RTM_NEWNSID = 16, 19, 20, 24, 28, 88
NLMSG_HDR = struct.Struct("=IHHII")
IFINFOMSG = struct.Struct("=BxHiII")
IFADDRMSG = struct.Struct("=BBBBI")
RTMSG = struct.Struct("=BBBBBBBBI")
NDMSG = struct.Struct("=BxxxiHBB")
IFLA_ADDRESS, IFLA_IFNAME, IFLA_LINK, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 1, 3, 5, 10, 18, 28
IFLA_NUM_TX_QUEUES, IFLA_NUM_RX_QUEUES = 31, 32
IFLA_MACVLAN_MODE = 1
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
RTA_DST, RTA_GATEWAY = 1, 5
NDA_DST, NDA_LLADDR = 1, 2
NETNSA_NSID, NETNSA_FD = 1, 3
# IFLA_BR_* attribute numbers and their sizes
BRIDGE_ATTRS = {"forward_delay": (1, "=I"), "ageing_time": (4, "=I"), "stp_state": (5, "=I"),
                "priority": (6, "=H"), "vlan_filtering": (7, "=B"), "mcast_snooping": (23, "=B")}


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def nla(kind: int, payload: bytes) -> bytes:
    return _pad(struct.pack("=HH", 4 + len(payload), kind) + payload)


def _u32(value: int) -> bytes:
    return struct.pack("=I", value)


def _mac(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def _name(name: str) -> bytes:
    return name.encode() + b"\0"


def _message(msg_type: int, flags: int, seq: int, body: bytes) -> bytes:
    return NLMSG_HDR.pack(16 + len(body), msg_type, flags, seq, 0) + body


def _link_attrs(name: str, mac: str, netns_fd: int | None) -> bytes:
    attrs = nla(IFLA_IFNAME, _name(name)) + nla(IFLA_ADDRESS, _mac(mac))
    if netns_fd is not None:
        attrs += nla(IFLA_NET_NS_FD, _u32(netns_fd))
    return attrs


def _queues(queues: int | None) -> bytes:
    if queues is None:
        return b""
    return nla(IFLA_NUM_TX_QUEUES, _u32(queues)) + nla(IFLA_NUM_RX_QUEUES, _u32(queues))


def veth(seq: int, flags: int, *, name: str, index: int, mac: str, netns_fd: int, master: int | None,
         up: bool, peer_name: str, peer_index: int, peer_mac: str, peer_netns_fd: int,
         queues: int | None = 1) -> bytes:
    """RTM_NEWLINK for a veth pair, each end in its namespace.

    ``queues``: the ends' tx and rx queues, said up front. Without them the kernel makes one
    per CPU and then cuts that down to one (veth_init_queues), and cutting queues of a
    registered device waits for an RCU grace period, holding the RTNL lock: the largest part
    of a veth's cost on a busy machine (benchmarks/scale.py).
    """
    peer = IFINFOMSG.pack(0, 0, peer_index, 0, 0) + _link_attrs(peer_name, peer_mac, peer_netns_fd) + _queues(queues)
    info = nla(IFLA_INFO_KIND, b"veth\0") + nla(IFLA_INFO_DATA, nla(VETH_INFO_PEER, peer))
    attrs = _link_attrs(name, mac, netns_fd) + _queues(queues)
    if master is not None:
        attrs += nla(IFLA_MASTER, _u32(master))
    attrs += nla(IFLA_LINKINFO, info)
    body = IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 1 if up else 0, 1) + attrs
    return _message(RTM_NEWLINK, flags, seq, body)


def device(seq: int, flags: int, *, kind: str, name: str, index: int, mac: str, netns_fd: int | None,
           up: bool, data: dict[str, int] | None = None) -> bytes:
    """RTM_NEWLINK for a stand-alone device (bridge, dummy, ifb...); ``data``: bridge options."""
    info = nla(IFLA_INFO_KIND, _name(kind))
    if data:
        encoded = b""
        for key, value in data.items():
            number, fmt = BRIDGE_ATTRS[key]
            encoded += nla(number, struct.pack(fmt, value))
        info += nla(IFLA_INFO_DATA, encoded)
    attrs = _link_attrs(name, mac, netns_fd) + nla(IFLA_LINKINFO, info)
    body = IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 1 if up else 0, 1) + attrs
    return _message(RTM_NEWLINK, flags, seq, body)


def macvlan(seq: int, flags: int, *, name: str, index: int, mac: str | None, netns_fd: int,
            parent_index: int, mode: int, up: bool) -> bytes:
    """RTM_NEWLINK for a macvlan child of ``parent_index``, created in ``netns_fd``."""
    attrs = nla(IFLA_IFNAME, _name(name)) + nla(IFLA_LINK, _u32(parent_index)) + nla(IFLA_NET_NS_FD, _u32(netns_fd))
    if mac is not None:
        attrs += nla(IFLA_ADDRESS, _mac(mac))
    info = nla(IFLA_INFO_KIND, b"macvlan\0") + nla(IFLA_INFO_DATA, nla(IFLA_MACVLAN_MODE, _u32(mode)))
    attrs += nla(IFLA_LINKINFO, info)
    body = IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 1 if up else 0, 1) + attrs
    return _message(RTM_NEWLINK, flags, seq, body)


def setlink(seq: int, flags: int, *, index: int, up: bool | None, master: int | None) -> bytes:
    """RTM_SETLINK: up/down and/or a new master."""
    body = IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 1 if up else 0, 0 if up is None else 1)
    if master is not None:
        body += nla(IFLA_MASTER, _u32(master))
    return _message(RTM_SETLINK, flags, seq, body)


def address(seq: int, flags: int, *, index: int, cidr: str) -> bytes:
    """RTM_NEWADDR for an IPv4 or IPv6 address with its prefix (and IPv4 broadcast)."""
    iface = ipaddress.ip_interface(cidr)
    family = socket.AF_INET if iface.version == 4 else socket.AF_INET6
    raw = iface.ip.packed
    attrs = nla(IFA_LOCAL, raw) + nla(IFA_ADDRESS, raw)
    if iface.version == 4 and iface.network.prefixlen < 31:
        attrs += nla(IFA_BROADCAST, iface.network.broadcast_address.packed)
    body = IFADDRMSG.pack(family, iface.network.prefixlen, 0, 0, index) + attrs
    return _message(RTM_NEWADDR, flags, seq, body)


def route(seq: int, flags: int, *, dst: str, via: str) -> bytes:
    """RTM_NEWROUTE in the main table, static, via a gateway ("default" or a network; the
    gateway's family is the route's)."""
    gateway = ipaddress.ip_address(via)
    net = ipaddress.ip_network(("0.0.0.0/0" if gateway.version == 4 else "::/0") if dst == "default" else dst)
    family = socket.AF_INET if net.version == 4 else socket.AF_INET6
    attrs = nla(RTA_DST, net.network_address.packed) if net.prefixlen else b""
    attrs += nla(RTA_GATEWAY, gateway.packed)
    body = RTMSG.pack(family, net.prefixlen, 0, 0, 254, 4, 0, 1, 0) + attrs
    return _message(RTM_NEWROUTE, flags, seq, body)


def neighbour(seq: int, flags: int, *, index: int, ip: str, mac: str, state: int) -> bytes:
    """RTM_NEWNEIGH for an IPv4 (ARP) or IPv6 (neighbour discovery) entry."""
    family, attrs = _neighbour_attrs(ip, mac)
    return _message(RTM_NEWNEIGH, flags, seq, NDMSG.pack(family, index, state, 0, 0) + attrs)


@functools.lru_cache(maxsize=1 << 14)
def _neighbour_attrs(ip: str, mac: str) -> tuple[int, bytes]:
    """(family, attributes) of a neighbour entry: the same (ip, mac) is told to every other
    member of its LAN, so a static ARP fill of n hosts encodes each n - 1 times."""
    address = ipaddress.ip_address(ip)
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    return family, nla(NDA_DST, address.packed) + nla(NDA_LLADDR, _mac(mac))


def nsid(seq: int, flags: int, *, netns_fd: int, nsid: int) -> bytes:
    """RTM_NEWNSID: give the namespace behind ``netns_fd`` an id in this one (-1: the kernel picks)."""
    body = struct.pack("=Bxxx", socket.AF_UNSPEC) + nla(NETNSA_NSID, struct.pack("=i", nsid)) \
        + nla(NETNSA_FD, _u32(netns_fd))
    return _message(RTM_NEWNSID, flags, seq, body)


NLMSG_HEADER = struct.Struct("=IHHII")     # nlmsghdr: length, type, flags, sequence, port
NLMSG_ERROR_TYPE, NLMSG_DONE_TYPE = 2, 3


def dump_messages(data: bytes, wanted: int, parse, what: str) -> tuple[list, bool]:
    """The messages of type ``wanted`` in a buffer of dump replies, each turned into a record by
    ``parse(message bytes)``, and whether the dump ended (NLMSG_DONE). A netlink error in it
    raises OSError naming ``what`` (e.g. "qdisc dump")."""
    found, offset, done = [], 0, False
    while offset + NLMSG_HEADER.size <= len(data):
        length, kind = NLMSG_HEADER.unpack_from(data, offset)[:2]
        if length < NLMSG_HEADER.size:
            break
        if kind == NLMSG_ERROR_TYPE:
            code = struct.unpack_from("=i", data, offset + NLMSG_HEADER.size)[0]
            if code:
                raise OSError(-code, f"{what}: {errno.errorcode.get(-code, code)}")
        elif kind == NLMSG_DONE_TYPE:
            done = True
        elif kind == wanted:
            found.append(parse(data[offset:offset + length]))
        offset += (length + 3) & ~3
    return found, done
