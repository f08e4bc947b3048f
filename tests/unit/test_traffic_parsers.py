"""Parsers of ping and iperf3 output, counter deltas and the pcap reader, on captured real output."""
import os
import struct

import pytest

from testbed.run import pcap
from testbed.errors import UsageError
from testbed.run.traffic import TrafficError, counter_delta, parse_iperf3, parse_ping

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")


def fixture(name: str) -> str:
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


def test_ping_all_replies():
    stats = parse_ping(fixture("ping_ok.txt"))
    assert (stats.transmitted, stats.received, stats.loss_percent) == (5, 5, 0.0)
    assert (stats.rtt_min, stats.rtt_avg, stats.rtt_max, stats.rtt_mdev) == (0.060, 0.070, 0.104, 0.017)
    assert stats.errors == 0 and stats.error is None


def test_ping_partial_loss_keeps_rtts_of_the_replies():
    stats = parse_ping(fixture("ping_partial_loss.txt"))
    assert (stats.transmitted, stats.received, stats.loss_percent) == (10, 5, 50.0)
    assert stats.rtt_min == 0.052 and stats.rtt_max == 0.077


def test_ping_no_reply_has_no_rtt():
    stats = parse_ping(fixture("ping_host_unreachable.txt"))
    assert (stats.transmitted, stats.received, stats.loss_percent) == (3, 0, 100.0)
    assert stats.rtt_avg is None


def test_ping_network_unreachable_sends_nothing():
    stats = parse_ping(fixture("ping_unreachable.txt"))
    assert (stats.transmitted, stats.received, stats.loss_percent) == (0, 0, 100.0)
    assert stats.error == "Network is unreachable"


def test_ping_errors_and_duplicates_are_read():
    text = ("--- 10.0.0.9 ping statistics ---\n"
            "4 packets transmitted, 1 received, +2 duplicates, +3 errors, 75% packet loss, time 3004ms\n"
            "rtt min/avg/max/mdev = 1.000/2.000/3.000/0.500 ms\n")
    stats = parse_ping(text)
    assert (stats.transmitted, stats.received, stats.duplicates, stats.errors, stats.loss_percent) == (4, 1, 2, 3, 75.0)
    assert stats.rtt_avg == 2.0


def test_ping_garbage_is_an_error():
    with pytest.raises(TrafficError, match="no statistics"):
        parse_ping("ping: unknown host nowhere\n")


def test_iperf3_tcp():
    result = parse_iperf3(fixture("iperf3_tcp.json"))
    assert result.protocol == "TCP"
    assert result.bits_per_second == pytest.approx(9522632549.399044)
    assert result.sent_bits_per_second == pytest.approx(9604651314.66798)
    assert result.retransmits == 745
    assert result.bytes == 2384198176
    assert result.jitter_ms is None
    assert len(result.intervals) == 4
    assert result.intervals[0].start == 0 and result.intervals[0].retransmits == 0
    assert result.intervals[-1].end == pytest.approx(2.0, abs=0.01)
    assert result.mbps == pytest.approx(9522.63, rel=1e-4)


def test_iperf3_udp():
    result = parse_iperf3(fixture("iperf3_udp.json"))
    assert result.protocol == "UDP"
    assert result.packets == 8629 and result.lost_packets == 0 and result.lost_percent == 0
    assert result.jitter_ms == pytest.approx(0.04946388788038555)
    assert result.bits_per_second == pytest.approx(49973620.92807698)
    assert result.retransmits is None
    assert [i.packets for i in result.intervals][0] == 2150
    row = result.as_dict(prefix="udp_", series=True)
    assert row["udp_packets"] == 8629 and len(row["udp_intervals"]) == len(result.intervals)


def test_iperf3_error_is_reported():
    with pytest.raises(TrafficError, match="Connection refused"):
        parse_iperf3(fixture("iperf3_refused.json"))


def test_iperf3_not_json():
    with pytest.raises(TrafficError, match="no JSON"):
        parse_iperf3("iperf3: error - unable to connect")


def test_counter_delta_ignores_the_up_flag_and_new_interfaces():
    before = {"h3-eth0": {"rx_packets": 10, "rx_bytes": 1000, "up": 1}}
    after = {"h3-eth0": {"rx_packets": 25, "rx_bytes": 4000, "up": 1}, "new0": {"rx_packets": 1, "up": 1}}
    assert counter_delta(before, after) == {"h3-eth0": {"rx_packets": 15, "rx_bytes": 3000}}


def test_pcap_of_a_hub_bystander():
    # h1 pings h2 three times on a hub; h3 captured the ARP broadcast, the reply and six ICMP frames.
    path = os.path.join(FIXTURES, "hub_bystander.pcap")
    frames = list(pcap.frames(path))
    assert len(frames) == 8
    assert frames[0].dst_mac == "ff:ff:ff:ff:ff:ff" and not frames[0].unicast
    assert pcap.count(path) == (8, 672)
    assert pcap.count(path, unicast_only=True) == (7, 630)
    assert pcap.count(path, unicast_only=True, exclude_macs=["02:00:00:00:00:02"]) == (0, 0)


def test_pcap_rejects_other_files(tmp_path):
    bad = tmp_path / "x.pcap"
    bad.write_bytes(b"\x0a\x0d\x0d\x0a" + b"\0" * 40)
    with pytest.raises(UsageError, match="pcapng"):
        list(pcap.frames(str(bad)))
    short = tmp_path / "y.pcap"
    short.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)[:10])
    with pytest.raises(UsageError, match="not a pcap"):
        list(pcap.frames(str(short)))
