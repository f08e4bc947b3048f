"""Which DHCP servers answer on an interface? Send one DHCPDISCOVER, list the OFFERs.

Run inside a node's namespace: ``python -m testbed.concerns.dhcp.probe IFNAME [--wait S]``;
prints a JSON list of {"server", "yiaddr"}. The DISCOVER carries the interface's own MAC
and asks for broadcast replies, so the probe neither needs an address nor disturbs a
DHCP client already running there (a different transaction id).
"""
from __future__ import annotations

import argparse
import json
import os
import select
import struct
import sys
import time

from testbed.concerns.dhcp.snoop import MAGIC, parse
from testbed.kernel.packet import DHCP_FILTER, packet_socket

DHCP_DISCOVER, DHCP_OFFER = 1, 2


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def discover_frame(mac: bytes, xid: int) -> bytes:
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000, bytes(4), bytes(4),
                        bytes(4), bytes(4), mac + bytes(10), bytes(64), bytes(128))
    bootp += MAGIC + bytes([53, 1, DHCP_DISCOVER, 55, 2, 1, 3, 255])
    udp = struct.pack("!HHHH", 68, 67, 8 + len(bootp), 0) + bootp
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes(4), b"\xff" * 4)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return b"\xff" * 6 + mac + b"\x08\x00" + ip + udp


def probe(ifname: str, wait: float = 1.0) -> list[dict]:
    sock = packet_socket(DHCP_FILTER, ifname)
    mac = sock.getsockname()[4]
    xid = struct.unpack("!I", os.urandom(4))[0]
    sock.send(discover_frame(mac, xid))
    offers: list[dict] = []
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([sock], [], [], left)[0]:
            break
        info = parse(sock.recv(65535))
        if info and info["xid"] == xid and info["type"] == DHCP_OFFER and info["sport"] == 67:
            offers.append({"server": info["server"], "yiaddr": info["yiaddr"]})
    sock.close()
    return offers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ifname")
    parser.add_argument("--wait", type=float, default=1.0, help="seconds to collect offers")
    args = parser.parse_args(argv)
    print(json.dumps(probe(args.ifname, args.wait)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
