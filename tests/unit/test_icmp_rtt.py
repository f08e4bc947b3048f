"""pingall's round-trip times (testbed.kernel.icmp): timed from before sendto() to the kernel's arrival stamp."""
from __future__ import annotations

import socket
import struct
import time

from hypothesis import given
from hypothesis import strategies as st

from testbed.kernel import icmp

ROUND_TRIP = 0.02            # seconds the fake network takes, all of it inside sendto()


class InstantNetwork:
    """A socket whose echo requests are answered before sendto() returns, as between veths.

    On one machine a veth delivers to its peer, and the peer answers, inside the sender's
    sendto() call; here that round trip takes ROUND_TRIP seconds. A datagram socketpair
    carries the reply, with kernel timestamps on, like icmp.open_socket().
    """

    def __init__(self):
        self.ours, self.theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.ours.setsockopt(socket.SOL_SOCKET, icmp.SO_TIMESTAMPNS, 1)
        self.ours.setblocking(False)

    def fileno(self):
        return self.ours.fileno()

    def recvmsg(self, *args):
        return self.ours.recvmsg(*args)

    def sendto(self, packet, address):
        time.sleep(ROUND_TRIP)
        ip_header = bytes([0x45]) + bytes(19)
        _, _, _, ident, seq = struct.unpack("!BBHHH", packet[:8])
        reply = struct.pack("!BBHHH", icmp.ECHO_REPLY, 0, 0, ident, seq) + packet[8:]
        self.theirs.send(ip_header + reply)
        return len(packet)

    def close(self):
        self.ours.close()
        self.theirs.close()


def test_rtt_counts_a_round_trip_that_completes_inside_sendto():
    probes = [icmp.Probe("ns-a", "10.0.0.2"), icmp.Probe("ns-a", "10.0.0.3")]
    icmp.mesh(lambda ns, family: InstantNetwork(), probes, count=2, timeout=2.0, interval=0.0)
    rtts = [rtt for p in probes for rtt in p.rtts]
    assert [p.received for p in probes] == [2, 2]
    # timed after sendto() returned, these were ~0.01 ms; the round trip took 20 ms
    assert all(ROUND_TRIP * 1000 * 0.9 <= rtt < ROUND_TRIP * 1000 * 20 for rtt in rtts), rtts


def test_arrival_is_the_kernels_timestamp_not_when_the_reply_is_read():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        a.setsockopt(socket.SOL_SOCKET, icmp.SO_TIMESTAMPNS, 1)
        before = time.time_ns()
        b.send(b"reply")
        time.sleep(0.05)                               # the reply waits unread
        packet, arrived = icmp._read(a)
        assert packet == b"reply"
        assert before <= arrived <= before + 10_000_000, (arrived - before) / 1e6   # stamped on arrival
    finally:
        a.close()
        b.close()


def test_without_kernel_timestamps_the_read_time_is_used():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        b.send(b"reply")
        time.sleep(0.02)
        start = time.time_ns()
        _, arrived = icmp._read(a)
        assert arrived >= start
    finally:
        a.close()
        b.close()


def _ones_complement_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


@given(ident=st.integers(0, 0xFFFF), seq=st.integers(0, 0xFFFF), payload=st.binary(max_size=64))
def test_an_echo_request_checksums_to_all_ones(ident, seq, payload):
    """A receiver sums every 16-bit word of the message, checksum included: 0xFFFF means intact."""
    packet = icmp.echo_request(ident, seq, payload)
    assert _ones_complement_sum(packet) == 0xFFFF
    assert struct.unpack("!BBHHH", packet[:8])[3:] == (ident, seq)
