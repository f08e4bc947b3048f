"""DHCP snooping for a Linux bridge: learn (port, MAC, IP) from the server's ACKs.

Runs inside the switch's namespace (``python -m testbed.concerns.dhcp.snoop``), started and
stopped by the run. A packet socket with a BPF filter sees only DHCP (UDP 67/68) frames
entering the bridge's ports. A client's DISCOVER/REQUEST on an untrusted port tells which
port its MAC is on; a DHCPACK arriving on a trusted port (the real server's) binds
(port, chaddr, yiaddr) in the nft set ``bound`` of the switch's table for the lease time;
a RELEASE or NAK removes it. The nft rules (testbed/concerns/portsec/nft.py) let untrusted ports send only
DHCP requests until bound, and never DHCP server replies.
"""
from __future__ import annotations

import argparse
import ipaddress
import signal
import struct
import sys
import time

from testbed.concerns.portsec.nft import BOUND_SET, FAMILY, TABLE
from testbed.kernel import nft as nftables
from testbed.kernel.packet import DHCP_FILTER, PACKET_OUTGOING, packet_socket

DHCP_ACK, DHCP_NAK, DHCP_RELEASE = 5, 6, 7
MAGIC = b"\x63\x82\x53\x63"
def parse(frame: bytes) -> dict | None:
    """The DHCP fields of an Ethernet/IPv4/UDP frame: sport, dport, type, chaddr, yiaddr, lease."""
    if len(frame) < 14 + 20 + 8 + 240:
        return None
    ihl = (frame[14] & 0x0F) * 4
    udp = 14 + ihl
    sport, dport = struct.unpack_from("!HH", frame, udp)
    bootp = udp + 8
    if frame[bootp + 236:bootp + 240] != MAGIC:
        return None
    info = {"sport": sport, "dport": dport, "type": None, "lease": None, "server": None,
            "xid": struct.unpack_from("!I", frame, bootp + 4)[0],
            "chaddr": ":".join(f"{b:02x}" for b in frame[bootp + 28:bootp + 34]),
            "yiaddr": str(ipaddress.IPv4Address(frame[bootp + 16:bootp + 20]))}
    i = bootp + 240
    while i < len(frame) and frame[i] != 255:
        if frame[i] == 0:
            i += 1
            continue
        if i + 1 >= len(frame):
            break
        code, length = frame[i], frame[i + 1]
        value = frame[i + 2:i + 2 + length]
        if code == 53 and length == 1:
            info["type"] = value[0]
        elif code == 51 and length == 4:
            info["lease"] = struct.unpack("!I", value)[0]
        elif code == 54 and length == 4:
            info["server"] = str(ipaddress.IPv4Address(value))
        i += 2 + length
    return info


def nft(*args: str) -> bool:
    """One nft command in this process's namespace (libnftables); False when nft refuses it."""
    try:
        nftables.run(" ".join(args) + "\n")
    except nftables.NftError:
        return False
    return True


def element(port: str, mac: str, ip: str, lease: int | None = None) -> str:
    timeout = f" timeout {lease}s" if lease else ""
    return f'{{ "{port}" . {mac} . {ip}{timeout} }}'


class Snooper:
    def __init__(self, trusted: set[str], untrusted: set[str], log) -> None:
        self.trusted, self.untrusted, self.log = trusted, untrusted, log
        self.port_of: dict[str, str] = {}             # client MAC -> untrusted port
        self.bound: dict[str, tuple[str, str]] = {}   # client MAC -> (port, ip)

    def say(self, text: str) -> None:
        self.log.write(f"{time.time():.3f} {text}\n")
        self.log.flush()

    def handle(self, ifname: str, info: dict) -> None:
        mac = info["chaddr"]
        if info["dport"] == 67 and ifname in self.untrusted:
            self.port_of[mac] = ifname
            if info["type"] == DHCP_RELEASE:
                self.unbind(mac)
        elif info["sport"] == 67 and ifname in self.trusted:
            port = self.port_of.get(mac)
            if info["type"] == DHCP_ACK and port is not None:
                self.bind(mac, port, info["yiaddr"], info["lease"])
            elif info["type"] == DHCP_NAK:
                self.unbind(mac)
        elif info["sport"] == 67:
            self.say(f"ignored a DHCP server reply on untrusted port {ifname} for {mac}")

    def bind(self, mac: str, port: str, ip: str, lease: int | None) -> None:
        if self.bound.get(mac) == (port, ip):
            nft("delete", "element", FAMILY, TABLE, BOUND_SET, element(port, mac, ip))
        elif mac in self.bound:
            self.unbind(mac)
        ok = nft("add", "element", FAMILY, TABLE, BOUND_SET, element(port, mac, ip, lease))
        self.bound[mac] = (port, ip)
        self.say(f"bound {port} {mac} {ip} lease {lease}s{'' if ok else ' (nft failed)'}")

    def unbind(self, mac: str) -> None:
        if mac in self.bound:
            port, ip = self.bound.pop(mac)
            nft("delete", "element", FAMILY, TABLE, BOUND_SET, element(port, mac, ip))
            self.say(f"unbound {port} {mac} {ip}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trusted", default="")
    parser.add_argument("--untrusted", default="")
    parser.add_argument("--ready", required=True, help="file created once the socket listens")
    parser.add_argument("--log", required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sock = packet_socket(DHCP_FILTER)
    split = lambda text: {p for p in text.split(",") if p}
    with open(args.log, "a") as log:
        snooper = Snooper(split(args.trusted), split(args.untrusted), log)
        snooper.say(f"snooping; trusted: {sorted(snooper.trusted)}; untrusted: {sorted(snooper.untrusted)}")
        open(args.ready, "w").close()
        while True:
            frame, addr = sock.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING:
                continue
            info = parse(frame)
            if info is not None:
                snooper.handle(addr[0], info)


if __name__ == "__main__":
    sys.exit(main())
