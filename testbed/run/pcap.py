"""A small reader of classic pcap files (what ``tcpdump -w`` writes) for Ethernet captures.

Only what counting needs: each record's timestamp, wire length and captured bytes.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Iterator, Sequence

from testbed.errors import UsageError

_MAGIC = {0xA1B2C3D4: ("<", 1e-6), 0xD4C3B2A1: (">", 1e-6),
          0xA1B23C4D: ("<", 1e-9), 0x4D3CB2A1: (">", 1e-9)}
LINKTYPE_ETHERNET = 1


@dataclass(frozen=True)
class Frame:
    time: float
    wire_length: int
    data: bytes                      # the first snaplen bytes

    @property
    def dst_mac(self) -> str:
        return ":".join(f"{b:02x}" for b in self.data[0:6])

    @property
    def src_mac(self) -> str:
        return ":".join(f"{b:02x}" for b in self.data[6:12])

    @property
    def unicast(self) -> bool:
        """The destination MAC's group bit is clear (not broadcast, not multicast)."""
        return len(self.data) >= 6 and not self.data[0] & 1


def frames(path: str) -> Iterator[Frame]:
    """Every frame of an Ethernet pcap file."""
    with open(path, "rb") as f:
        header = f.read(24)
        if len(header) < 24:
            raise UsageError(f"{path}: not a pcap file (only {len(header)} bytes)")
        magic = struct.unpack("<I", header[:4])[0]
        if magic not in _MAGIC:
            raise UsageError(f"{path}: not a classic pcap file (magic {magic:#x}); pcapng is not read")
        order, tick = _MAGIC[magic]
        linktype = struct.unpack(order + "I", header[20:24])[0] & 0x0FFFFFFF
        if linktype != LINKTYPE_ETHERNET:
            raise UsageError(f"{path}: link type {linktype}, expected Ethernet (1)")
        record = struct.Struct(order + "IIII")
        while True:
            head = f.read(16)
            if len(head) < 16:
                return
            sec, frac, caplen, wirelen = record.unpack(head)
            data = f.read(caplen)
            if len(data) < caplen:
                return                   # a record cut short by a stopped capture
            yield Frame(sec + frac * tick, wirelen, data)


def count(path: str, unicast_only: bool = False, exclude_macs: Sequence[str] = ()) -> tuple[int, int]:
    """(frames, wire bytes) in a capture, optionally only unicast frames and not to/from some MACs."""
    excluded = {m.lower() for m in exclude_macs}
    n = total = 0
    for frame in frames(path):
        if unicast_only and not frame.unicast:
            continue
        if excluded and (frame.dst_mac in excluded or frame.src_mac in excluded):
            continue
        n += 1
        total += frame.wire_length
    return n, total
