"""The reproductions' helpers and claims on made-up results (no network): they pass and fail when they should."""
from __future__ import annotations

import importlib.util
import math
import os

import pytest

from testbed.errors import EnvironmentProblem
from testbed.lab.results import Results
from testbed.topology.load import load

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def module(name: str):
    spec = importlib.util.spec_from_file_location(f"classic_{name}", os.path.join(ROOT, "experiments", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def rows(*dicts, params=()):
    return Results([{"point": i, "repetition": 0, "measurement": 0, **d} for i, d in enumerate(dicts)], list(params))


# ---------------------------------------------------------------- bufferbloat

def test_bufferbloat_topology_puts_the_queue_on_the_router():
    graph, _ = load(os.path.join(ROOT, "topologies", "bufferbloat.py"), {"queue": "20", "delay": "10ms"})
    assert graph.edges["r1", "h2"] == {"bw": {"r1": 1.5}, "queue": {"r1": 20}}
    assert graph.edges["h1", "r1"] == {"delay": "10ms"}


def test_bloat_and_cuts():
    bb = module("bufferbloat")
    assert bb.bloat_ms(100, 1.5) == pytest.approx(100 * 1514 * 8 / 1.5e6 * 1000)          # 807 ms
    assert bb.cuts([10, 20, 40, 20, 21, 22, 60, 30, 31, 15]) == 3
    assert bb.cuts([10, 11, 12, 9, 13]) == 0                # small wiggles are no multiplicative decrease
    assert bb.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9


def _bb_row(queue, rtt_max, fetch, cuts=5, p10=None, duration=120.0, what="page"):
    bloat = 100 * 1514 * 8 / 1.5e6 * 1000 * queue / 100
    return {"queue": queue, "fetch": what, "duration": duration, "bloat_ms": bloat, "rtt_p99_ms": rtt_max, "rtt_median_ms": rtt_max * 0.7,
            "propagation_rtt_ms": 0.05, "queue_max": queue, "queue_median": queue * 0.7,
            "queue_p10": queue * 0.4 if p10 is None else p10, "fetch_mean_s": fetch, "fetch_median_s": fetch, "fetches": 10,
            "fetch_failures": 0, "cwnd_cuts": cuts}


def test_bufferbloat_claims():
    bb = module("bufferbloat")
    good = rows(_bb_row(100, 800, 5.0), _bb_row(20, 160, 1.5), _bb_row(100, 800, 2.0, what="object"),
                _bb_row(20, 160, 0.5, what="object"), params=["queue", "fetch"])
    for check in bb.CHECKS:
        assert check(good)[0], check.__name__
    assert not bb.delay_approaches_the_bloat(rows(_bb_row(100, 500, 5.0), _bb_row(20, 160, 1.5)))[0]
    assert not bb.delay_approaches_the_bloat(rows(_bb_row(100, 2000, 5.0), _bb_row(20, 160, 1.5)))[0]   # median 1.4 s
    objects = [_bb_row(100, 800, 2.0, what="object"), _bb_row(20, 160, 0.5, what="object")]
    assert not bb.bloat_slows_fetches(rows(_bb_row(100, 800, 1.7), _bb_row(20, 160, 1.5), *objects))[0]
    slow_object = rows(_bb_row(100, 800, 5.0), _bb_row(20, 160, 1.5), objects[0], _bb_row(20, 160, 0.9, what="object"))
    assert not bb.bloat_slows_fetches(slow_object)[0]
    assert bb.bloat_slows_fetches(rows(_bb_row(100, 800, 5.0), _bb_row(20, 160, 1.5)))[0]          # pages only
    assert not bb.bloat_slows_fetches(rows(_bb_row(100, 800, 5.0)))[0]                              # nothing judged
    assert not bb.bloat_slows_fetches(rows(_bb_row(100, 800, 5.0)))[0]                  # needs both buffers
    assert not bb.sawtooth(rows(_bb_row(100, 800, 5.0, cuts=0), _bb_row(20, 160, 1.5)))[0]
    assert not bb.sawtooth(rows(_bb_row(100, 800, 5.0), _bb_row(20, 160, 1.5, p10=19)))[0]
    assert not bb.queue_fills(rows({**_bb_row(100, 800, 5.0), "queue_max": 60}))[0]


# ---------------------------------------------------------------- DCTCP

def _dc_row(ecn, median, p95, std, marked=0, dropped=0, util=0.99):
    return {"ecn": ecn, "queue": 200, "mode": "DCTCP" if ecn else "TCP", "congestion_control": "dctcp" if ecn else "reno",
            "queue_median": median, "queue_p5": median / 2, "queue_p95": p95, "queue_std": std, "utilization": util,
            "marked": marked, "dropped": dropped,
            "receiver_cc": "dctcp" if ecn else "reno", "empty_fraction": 0.0,
            "flow_cc": ["dctcp" if ecn else "reno"] * 2, "flow_ecn": [bool(ecn)] * 2,
            "samples": 1400, "samples_expected": 1450}


def test_dctcp_claims():
    dc = module("dctcp")
    good = rows(_dc_row(0, 150, 195, 30, dropped=400), _dc_row(20, 21, 30, 4, marked=9000, dropped=1), params=["ecn"])
    for check in dc.CHECKS:
        assert check(good)[0], check.__name__
    assert not dc.dctcp_queue_near_k(rows(_dc_row(20, 70, 90, 4, marked=9)))[0]
    assert not dc.dctcp_queue_near_k(rows(_dc_row(20, 21, 45, 4, marked=9)))[0]
    assert not dc.tcp_fills_the_buffer(rows(_dc_row(0, 150, 150, 30, dropped=5)))[0]
    assert not dc.tcp_fills_the_buffer(rows(_dc_row(0, 30, 60, 10, dropped=5)))[0]
    assert not dc.dctcp_varies_less(rows(_dc_row(0, 150, 195, 9, dropped=4), _dc_row(20, 21, 30, 5, marked=9)))[0]
    assert not dc.dctcp_varies_less(rows(_dc_row(0, 150, 195, 30, dropped=4), _dc_row(20, 21, 30, 11, marked=9)))[0]
    assert not dc.ran_as_asked(rows({**_dc_row(20, 21, 30, 4, marked=9), "receiver_cc": "cubic"}))[0]
    # one flow whose SYN was retransmitted without ECN (fallback) runs DCTCP without it
    ok, text = dc.ran_as_asked(rows({**_dc_row(20, 21, 30, 4, marked=9), "flow_ecn": [True, False]}))
    assert not ok and "ECN True/False" in text
    assert not dc.ran_as_asked(rows({**_dc_row(20, 21, 30, 4, marked=9), "flow_cc": ["dctcp", "cubic"]}))[0]
    slow = rows(_dc_row(0, 150, 195, 30, dropped=4, util=0.95), _dc_row(20, 21, 30, 4, marked=9, util=0.8))
    assert not dc.short_queue_costs_no_throughput(slow)[0]
    starved = rows(_dc_row(0, 150, 195, 30, dropped=400), {**_dc_row(20, 21, 30, 4, marked=9000), "samples": 790})
    ok, text = dc.the_machine_kept_pace(starved)
    assert not ok and "DCTCP 54 %" in text
    # a tail-drop run whose queue never empties yet sends 55 % of the rate met the CPU, not the shaper
    cpu_bound = rows(_dc_row(0, 70, 95, 15, dropped=0, util=0.55), _dc_row(20, 21, 30, 4, marked=9000))
    ok, text = dc.the_machine_kept_pace(cpu_bound)
    assert not ok and "TCP runs sent 55 % of the rate" in text

    assert not dc.marks_instead_of_drops(rows(_dc_row(0, 150, 195, 30, dropped=400),
                                              _dc_row(20, 21, 30, 4, marked=900, dropped=3)))[0]
    assert not dc.marks_instead_of_drops(rows(_dc_row(0, 150, 195, 30, marked=3), _dc_row(20, 21, 30, 4, marked=900)))[0]
    assert not dc.marks_instead_of_drops(rows(_dc_row(0, 150, 195, 30, dropped=9), _dc_row(20, 21, 30, 4)))[0]
    ok, text = dc.marks_instead_of_drops(rows(_dc_row(0, 150, 195, 30), _dc_row(20, 21, 30, 4, marked=900)))
    assert ok and "TCP: 0 marked, 0 dropped" in text


def test_dctcp_refuses_without_the_kernel_features(monkeypatch):
    dc = module("dctcp")
    monkeypatch.setattr(dc, "kernel_features", lambda: frozenset({"htb", "netem"}))
    with pytest.raises(EnvironmentProblem, match=r"no dctcp and no red.*testbed experiment --vm experiments/dctcp.py"):
        dc.run(None, {})
    monkeypatch.setattr(dc, "kernel_features", lambda: frozenset({"htb", "red"}))
    with pytest.raises(EnvironmentProblem, match="no dctcp:"):
        dc.run(None, {})


def test_dctcp_topology_marks_only_with_ecn():
    graph, _ = load(os.path.join(ROOT, "topologies", "dctcp.py"), {"ecn": "20", "senders": "3"})
    assert graph.edges["s1", "rx"] == {"bw": {"s1": 100.0}, "queue": {"s1": 200}, "ecn": {"s1": 20}}
    assert sorted(graph.neighbors("s1")) == ["h1", "h2", "h3", "rx"]
    graph, _ = load(os.path.join(ROOT, "topologies", "dctcp.py"), {})
    assert "ecn" not in graph.edges["s1", "rx"]


# ---------------------------------------------------------------- buffer sizing

def test_flows_spread_from_the_median_rtt_host():
    bs = module("buffer_sizing")
    assert bs.host_order(8) == [4, 5, 3, 6, 2, 7, 1, 8]
    assert bs.streams_per_host(1, 8) == {4: 1}
    assert bs.streams_per_host(10, 8) == {4: 2, 5: 2, 3: 1, 6: 1, 2: 1, 7: 1, 1: 1, 8: 1}
    graph, _ = load(os.path.join(ROOT, "topologies", "buffer_sizing.py"),
                    {"hosts": "3", "min_delay_ms": "10", "max_delay_ms": "50"})
    assert [graph.edges[f"h{i}", "s1"]["delay"] for i in (1, 2, 3)] == ["10ms", "30ms", "50ms"]


def _bs_rows(sizes, delayed=True, reference=0.995):
    out = []
    for n, found in sizes:
        bdp = 250.0
        out.append({"row": "summary", "flows": n, "max_delay_ms": 50.0 if delayed else 0.0, "min_buffer": found,
                    "bdp": bdp if delayed else 0.1, "bdp_over_sqrt_n": bdp / math.sqrt(n),
                    "reference_utilization": reference})
    return rows(*out, params=["flows"])


def test_buffer_sizing_claims():
    bs = module("buffer_sizing")
    sqrt_law = _bs_rows([(n, round(250 / math.sqrt(n))) for n in (1, 2, 4, 8, 16, 32, 64)])
    assert bs.follows_one_over_sqrt_n(sqrt_law)[0] and bs.below_rule_of_thumb(sqrt_law)[0]
    assert bs.link_carries_the_load(sqrt_law)[0]
    flat = _bs_rows([(n, 250) for n in (1, 2, 4, 8, 16, 32, 64)])
    assert not bs.follows_one_over_sqrt_n(flat)[0] and not bs.below_rule_of_thumb(flat)[0]
    steep = _bs_rows([(n, max(1, round(250 / n))) for n in (1, 2, 4, 8, 16, 32, 64)])
    assert not bs.follows_one_over_sqrt_n(steep)[0]
    missing = _bs_rows([(1, 250), (4, None), (16, 60)])
    assert not bs.follows_one_over_sqrt_n(missing)[0]
    assert not bs.link_carries_the_load(_bs_rows([(1, 250)], reference=0.9))[0]
    native = _bs_rows([(1, 3), (8, 4), (64, 40)], delayed=False)
    assert bs.native_small_buffer_suffices(native)[0]
    ok, text = bs.follows_one_over_sqrt_n(native)
    assert ok is None and "without netem" in text                    # skipped, never a pass
    assert bs.below_rule_of_thumb(native)[0] is None and bs.native_small_buffer_suffices(sqrt_law)[0] is None
    assert not bs.native_small_buffer_suffices(_bs_rows([(1, 30)], delayed=False))[0]


# ---------------------------------------------------------------- Mathis

def _tcp_row(loss, sack, measured, model, delay="20ms"):
    return {"loss": loss, "sack": sack, "delay": delay, "cc": "reno", "measured_mbps": measured, "mathis_mbps": model,
            "congestion_control": "reno", "sack_used": sack}


def test_mathis_claims_with_a_delay():
    tcp = module("tcp_vs_loss")
    model = {p: tcp.mathis_mbps(40.0, p) for p in (0.1, 0.5, 1.0, 2.0)}
    good = rows(*[_tcp_row(p, s, m * 0.95, m) for p, m in model.items() for s in (True, False)], params=["loss"])
    for check in tcp.CHECKS:
        assert check(good)[0], check.__name__
    far = rows(*[_tcp_row(p, True, m * (3 if p < 1 else 1), m) for p, m in model.items()])
    assert not tcp.near_the_model(far)[0]
    native = rows(*[_tcp_row(p, True, 280.0 / p, m, delay="") for p, m in model.items()])
    ok, text = tcp.near_the_model(native)
    assert ok is None and "only the shape is checked" in text
    assert tcp.slope_like_mathis(native)[0] is None and tcp.decreases_with_loss(native)[0]
    wrong_cc = rows({**_tcp_row(0.1, True, 1, 1), "congestion_control": "cubic"})
    assert not tcp.ran_as_asked(wrong_cc)[0]
    no_sack = rows({**_tcp_row(0.1, True, 1, 1), "sack_used": False})
    assert not tcp.ran_as_asked(no_sack)[0]
