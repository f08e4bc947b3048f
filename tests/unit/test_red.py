"""RED requests: the same bytes iproute2's tc sends, and the parameters derived as tc derives them."""
import json
import os
import struct

import pytest

from testbed.kernel import red

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")
RATES = {"mbit": 10**6}


def tc_case(case: dict) -> tuple[red.RedParams, int, int]:
    """RedParams, handle and parent of a captured `tc qdisc add ... red ...` command line."""
    words = case["tc"].split()
    opts = dict(zip(words[words.index("red") + 1::2], words[words.index("red") + 2::2]))
    flags = set(words[words.index("red") + 1:])
    where = words[words.index("a0") + 1]
    parent = 0xFFFFFFFF if where == "root" else (lambda a, b: int(a, 16) << 16 | int(b, 16))(
        *words[words.index("parent") + 1].split(":"))
    handle = int(words[words.index("handle") + 1].rstrip(":"), 16) << 16
    qmin, qmax, avpkt = int(opts["min"]), int(opts["max"]), int(opts["avpkt"])
    bandwidth = int(opts["bandwidth"].removesuffix("mbit")) * 10**6
    params = red.RedParams(limit=int(opts["limit"]), qth_min=qmin, qth_max=qmax, avpkt=avpkt, bandwidth=bandwidth,
                           wlog=red.ewma_log(qmin, int(opts["burst"]), avpkt),
                           probability=float(opts["probability"]), ecn="ecn" in flags, harddrop="harddrop" in flags)
    return params, handle, parent


CASES = json.load(open(os.path.join(FIXTURES, "tc_red_requests.json")))["requests"]


@pytest.mark.parametrize("case", CASES, ids=[c["tc"].split(" red ")[1][:40] for c in CASES])
def test_request_matches_the_bytes_tc_sent(case):
    params, handle, parent = tc_case(case)
    tick = red.tick_from_psched(case["psched"])
    mine = red.request(7, case["ifindex"], handle, parent, params, tick=tick)
    length, kind, flags, seq, pid = struct.unpack_from("=IHHII", mine)
    assert (length, kind, flags, seq, pid) == (len(mine), 36, 0x605, 7, 0)
    assert mine[16:].hex() == case["body"]


def test_tick_as_tc_reads_psched():
    assert red.tick_from_psched("000003e8 00000040 000f4240 3b9aca00") == 1000 / 64
    assert red.tick_from_psched("000003e8 00000040 3b9aca00 3b9aca00") == 1000   # nanosecond clock: t2us = us2t


def test_instantaneous_queue_weight():
    """Wlog 0 (W = 1): the average is the queue itself; idle time forgets it at once."""
    clog, table = red.idle_damping(0, 1514, 12_500_000, 1000 / 64)
    assert clog == 0 and table[0] == 0 and set(table[1:]) == {31} and len(table) == 256
    opts = red.options(red.RedParams(limit=302800, qth_min=30280, qth_max=30281, avpkt=1514,
                                     bandwidth=100_000_000, wlog=0))
    assert struct.unpack_from("=IIIBBBB", opts, 4) == (302800, 30280, 30281, 0, 1, 0, 0)


@pytest.mark.parametrize("qmin, burst, avpkt, expected", [(30280, 21, 1514, 2), (15140, 11, 1514, 2),
                                                          (30000, 55, 1000, 5)])
def test_ewma_log_like_tc(qmin, burst, avpkt, expected):
    assert red.ewma_log(qmin, burst, avpkt) == expected


def test_refusals_say_why():
    with pytest.raises(red.RedError, match="burst 5 is too small"):
        red.ewma_log(30280, 5, 1514)
    with pytest.raises(red.RedError, match="min"):
        red.options(red.RedParams(limit=1000, qth_min=2000, qth_max=3000, avpkt=1514, bandwidth=10**6, wlog=0))
    with pytest.raises(red.RedError, match="overflows"):
        red.options(red.RedParams(limit=1 << 30, qth_min=1 << 28, qth_max=1 << 29, avpkt=1514, bandwidth=10**6,
                                  wlog=5))
