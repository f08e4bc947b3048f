"""Packet sockets with a classic BPF filter: see only the frames a filter lets through.

Opened in the calling process's namespace (the DHCP snooper and probe run inside a node).
"""
from __future__ import annotations

import ctypes
import socket
import struct
from typing import Sequence

ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26
PACKET_OUTGOING = 4

# tcpdump -dd 'ip and udp and (port 67 or port 68)'
DHCP_FILTER = [(0x28, 0, 0, 0x0c), (0x15, 0, 12, 0x800), (0x30, 0, 0, 0x17), (0x15, 0, 10, 0x11),
               (0x28, 0, 0, 0x14), (0x45, 8, 0, 0x1fff), (0xb1, 0, 0, 0x0e), (0x48, 0, 0, 0x0e),
               (0x15, 4, 0, 0x43), (0x15, 3, 0, 0x44), (0x48, 0, 0, 0x10), (0x15, 1, 0, 0x43),
               (0x15, 0, 1, 0x44), (0x6, 0, 0, 0x40000), (0x6, 0, 0, 0)]


def attach_filter(sock: socket.socket, program: Sequence[tuple[int, int, int, int]]) -> None:
    code = b"".join(struct.pack("HBBI", *ins) for ins in program)
    buf = ctypes.create_string_buffer(code)
    prog = struct.pack("HL", len(program), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, prog)      # the kernel copies the program


def packet_socket(program: Sequence[tuple[int, int, int, int]], ifname: str | None = None) -> socket.socket:
    """An AF_PACKET socket seeing every protocol, filtered by ``program``, bound to ``ifname`` if given."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        attach_filter(sock, program)
        if ifname is not None:
            sock.bind((ifname, ETH_P_ALL))
    except BaseException:
        sock.close()
        raise
    return sock
