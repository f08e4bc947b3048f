"""Interface offloads through the ethtool ioctl, in the calling thread's namespace (no fork).

Open vSwitch's userspace datapath reads frames off veths with AF_PACKET and forwards them
as they are; a veth that leaves the TCP/UDP checksum to "the hardware" (tx checksum
offload, on by default) hands over frames whose checksum is never filled in, and the
receiver drops them. Turning tx checksumming off (which also turns off TSO) fixes that.
"""
from __future__ import annotations

import ctypes
import fcntl
import socket
import struct

SIOCETHTOOL = 0x8946
ETHTOOL_GTXCSUM = 0x16
ETHTOOL_STXCSUM = 0x17


def _ethtool(sock: socket.socket, ifname: str, cmd: int, value: int = 0) -> int:
    data = ctypes.create_string_buffer(struct.pack("II", cmd, value))
    ifreq = struct.pack("16sP", ifname.encode()[:15], ctypes.addressof(data)) + b"\0" * 16
    fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
    return struct.unpack("II", data.raw[:8])[1]


def set_tx_checksum(ifnames: list[str], on: bool) -> None:
    """Turn tx checksum offload on or off for each named interface of this namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        for name in ifnames:
            _ethtool(sock, name, ETHTOOL_STXCSUM, int(on))


def tx_checksum(ifname: str) -> bool:
    """Is tx checksum offload on for this interface (of this namespace)?"""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        return bool(_ethtool(sock, ifname, ETHTOOL_GTXCSUM))
