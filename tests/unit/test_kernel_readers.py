"""Readers of qdisc statistics and of TCP sockets' tcp_info, against pyroute2's and C's layouts."""
import ctypes
import socket
import struct

import pytest
from pyroute2.netlink.diag import inet_diag_msg
from pyroute2.netlink.rtnl.tcmsg import tcmsg

from testbed.kernel import qdisc_stats, sockdiag


def encoded_qdisc(kind: str, handle: int, parent: int, **queue) -> bytes:
    msg = tcmsg()
    msg["family"], msg["index"], msg["handle"], msg["parent"] = 0, 3, handle, parent
    msg["attrs"] = [("TCA_KIND", kind), ("TCA_STATS2", {"attrs": [
        ("TCA_STATS_BASIC", {"bytes": 123456789012, "packets": 4242}),
        ("TCA_STATS_QUEUE", {"qlen": 17, "backlog": 25738, "drops": 5, "requeues": 1, "overlimits": 9, **queue})]})]
    msg["header"]["type"] = qdisc_stats.RTM_NEWQDISC
    msg.encode()
    return bytes(msg.data)


def test_qdisc_counters_as_pyroute2_encodes_them():
    q = qdisc_stats.parse_qdisc(encoded_qdisc("pfifo", 0x100000, 0x10001))
    assert (q.ifindex, q.kind, q.handle, q.parent) == (3, "pfifo", "10:", "1:1")
    assert (q.bytes, q.packets, q.qlen, q.backlog, q.drops, q.requeues, q.overlimits) == (
        123456789012, 4242, 17, 25738, 5, 1, 9)
    assert q.marked is None


def test_red_marks_from_xstats_and_a_whole_dump():
    base = encoded_qdisc("red", 0x100000, 0x10001)
    xstats = struct.pack("=HH", 20, qdisc_stats.TCA_XSTATS) + struct.pack("=IIII", 3, 4, 0, 777)
    red = struct.pack("=I", len(base) + len(xstats)) + base[4:] + xstats
    done = struct.pack("=IHHIIi", 20, qdisc_stats.NLMSG_DONE, 2, 1, 0, 0)
    found, finished = qdisc_stats.parse_dump(encoded_qdisc("htb", 0x10000, 0xFFFFFFFF) + red + done)
    assert finished and [(q.kind, q.handle, q.parent) for q in found] == [("htb", "1:", "root"), ("red", "10:", "1:1")]
    assert (found[1].marked, found[1].early, found[1].pdrop) == (777, 3, 4)
    error = struct.pack("=IHHIIi", 36, qdisc_stats.NLMSG_ERROR, 0, 1, 0, -1) + bytes(16)
    with pytest.raises(OSError):
        qdisc_stats.parse_dump(error)


def test_dump_request():
    req = qdisc_stats.dump_request(9, ifindex=4)
    assert struct.unpack_from("=IHHII", req) == (len(req), 38, 0x301, 9, 0)
    assert struct.unpack_from("=BxxxiIII", req, 16) == (0, 4, 0, 0, 0)


class TcpInfo(ctypes.Structure):
    """struct tcp_info as include/uapi/linux/tcp.h declares it (ctypes lays it out as C does)."""

    _fields_ = [(n, ctypes.c_uint8) for n in ("state", "ca_state", "retransmits", "probes", "backoff", "options",
                                               "wscale", "app_limited")]
    _fields_ += [(n, ctypes.c_uint32) for n in (
        "rto", "ato", "snd_mss", "rcv_mss", "unacked", "sacked", "lost", "retrans", "fackets", "last_data_sent",
        "last_ack_sent", "last_data_recv", "last_ack_recv", "pmtu", "rcv_ssthresh", "rtt", "rttvar",
        "snd_ssthresh", "snd_cwnd", "advmss", "reordering", "rcv_rtt", "rcv_space", "total_retrans")]
    _fields_ += [(n, ctypes.c_uint64) for n in ("pacing_rate", "max_pacing_rate", "bytes_acked", "bytes_received")]
    _fields_ += [(n, ctypes.c_uint32) for n in ("segs_out", "segs_in", "notsent_bytes", "min_rtt", "data_segs_in",
                                                "data_segs_out")]
    _fields_ += [(n, ctypes.c_uint64) for n in ("delivery_rate", "busy_time", "rwnd_limited", "sndbuf_limited")]
    _fields_ += [(n, ctypes.c_uint32) for n in ("delivered", "delivered_ce")]
    _fields_ += [(n, ctypes.c_uint64) for n in ("bytes_sent", "bytes_retrans")]
    _fields_ += [(n, ctypes.c_uint32) for n in ("dsack_dups", "reord_seen", "rcv_ooopack", "snd_wnd")]


def sample_info() -> TcpInfo:
    info = TcpInfo()
    for i, (name, _) in enumerate(TcpInfo._fields_):
        setattr(info, name, (i * 37 + 11) % 250)
    info.bytes_acked, info.bytes_sent, info.rtt, info.snd_cwnd = 2**40 + 5, 2**33 + 7, 40_321, 87
    return info


def test_tcp_info_offsets_match_the_c_struct():
    info = sample_info()
    parsed = sockdiag.parse_tcp_info(bytes(info))
    assert set(parsed) == set(sockdiag.TCP_INFO_FIELDS)
    for name, value in parsed.items():
        assert value == getattr(info, name), name
    short = sockdiag.parse_tcp_info(bytes(info)[:104])        # an old kernel's shorter struct
    assert "total_retrans" in short and "pacing_rate" not in short


def test_a_socket_as_pyroute2_decodes_it():
    msg = inet_diag_msg()
    msg.update({"idiag_family": socket.AF_INET, "idiag_state": 1, "idiag_timer": 0, "idiag_retrans": 0,
                "idiag_sport": 40000, "idiag_dport": 5201, "idiag_src": (0x0A000001, 0, 0, 0),
                "idiag_dst": (0x0A000002, 0, 0, 0), "idiag_if": 0, "idiag_cookie": 0, "idiag_expires": 0,
                "idiag_rqueue": 0, "idiag_wqueue": 0, "idiag_uid": 0, "idiag_inode": 99})
    msg["header"]["type"] = sockdiag.SOCK_DIAG_BY_FAMILY
    msg.encode()
    base = bytes(msg.data)
    info, cong = bytes(sample_info()), b"reno\0"
    attrs = (struct.pack("=HH", 4 + len(info), sockdiag.INET_DIAG_INFO) + info
             + struct.pack("=HH", 4 + len(cong), sockdiag.INET_DIAG_CONG) + cong + b"\0" * (-len(cong) % 4))
    raw = struct.pack("=I", len(base) + len(attrs)) + base[4:] + attrs
    reference = inet_diag_msg(raw)
    reference.decode()
    s = sockdiag.parse_socket(raw)
    assert (s.src, s.sport, s.dst, s.dport, s.state) == ("10.0.0.1", 40000, "10.0.0.2", 5201, 1)
    assert s.congestion == reference.get_attr("INET_DIAG_CONG") == "reno"
    ref_info = reference.get_attr("INET_DIAG_INFO")
    assert s.cwnd == ref_info["tcpi_snd_cwnd"] == 87 and s.info["bytes_acked"] == ref_info["tcpi_bytes_acked"]
    assert s.rtt_ms == pytest.approx(40.321)
    assert s.sack == bool(sample_info().options & 2) and s.timestamps == bool(sample_info().options & 1)


def test_diag_request():
    req = sockdiag.dump_request(3)
    assert struct.unpack_from("=IHHII", req) == (len(req), 20, 0x301, 3, 0) and len(req) == 16 + 56
    family, protocol, ext, states = struct.unpack_from("=BBBxI", req, 16)
    assert (family, protocol, ext, states) == (socket.AF_INET, socket.IPPROTO_TCP, 0b1010, 2)


def test_dual_stack_peers_show_as_ipv4():
    mapped = socket.inet_pton(socket.AF_INET6, "::ffff:10.0.0.2")
    assert sockdiag._address(socket.AF_INET6, mapped) == "10.0.0.2"
    assert sockdiag._address(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, "fd00::1")) == "fd00::1"
    assert sockdiag._address(socket.AF_INET, socket.inet_aton("10.0.0.1") + bytes(12)) == "10.0.0.1"
