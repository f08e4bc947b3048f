"""Link shaping without a kernel: units, settings, qdisc plans, refusals."""
from __future__ import annotations

import itertools
import json

import networkx as nx
import pytest

from testbed import validate
from testbed.concerns import shaping
from testbed.errors import EnvironmentProblem
from testbed.kernel import nft, tc
from testbed.planning import pipeline as planner
from testbed.concerns.shaping import Direction, SettingError, parse_loss, parse_queue, parse_rate, parse_time

NATIVE = frozenset({"htb", "nft-netdev"})          # this machine: no netem
STOCK = None                                       # a kernel with everything


def pair(**settings) -> nx.Graph:
    g = nx.Graph()
    g.add_node("h1", kind="host")
    g.add_node("h2", kind="host")
    g.add_edge("h1", "h2", **settings)
    return g


def intf(plan, node):
    """The shaping of the node's first interface (its qdiscs and ingress drop)."""
    return shaping.of(plan, node, f"{node}-eth0")


# ---------------------------------------------------------------- units

@pytest.mark.parametrize("value, bits", [
    (10, 10_000_000), (1.5, 1_500_000), (0.001, 1000), ("100kbit", 100_000), ("2Gbit", 2_000_000_000),
    ("20Mbit", 20_000_000), ("20mbit", 20_000_000), ("1.5 Mbit/s", 1_500_000), ("7", 7_000_000),
    ("1000bit", 1000), ("100Gbit", 100_000_000_000),
])
def test_rates(value, bits):
    assert parse_rate(value) == bits


@pytest.mark.parametrize("value, message", [
    ("fast", "'fast' is not a rate; write e.g. 10 (Mbit/s), '100kbit', '20Mbit' or '2Gbit'"),
    ("5Mbps", "'5Mbps': 'Mbps' is ambiguous (bits or bytes?); write the rate in bits, e.g. '5Mbit'"),
    ("5MB", "'5MB': 'MB' is ambiguous"),
    ("3furlong", "'3furlong': unknown unit 'furlong'; use bit, kbit, Mbit or Gbit"),
    (0, "0 is outside 1 kbit/s .. 100 Gbit/s"),
    ("0.5kbit", "'0.5kbit' is outside 1 kbit/s .. 100 Gbit/s"),
    ("101Gbit", "is outside 1 kbit/s .. 100 Gbit/s"),
    (True, "True is not a rate"),
    (None, "None is not a rate"),
    (-5, "is outside"),
])
def test_bad_rates(value, message):
    with pytest.raises(SettingError) as err:
        parse_rate(value)
    assert message in str(err.value)


@pytest.mark.parametrize("value, micros", [
    ("10ms", 10_000), ("1.5ms", 1_500), ("100us", 100), ("1s", 1_000_000), ("0.25s", 250_000),
    (5, 5_000), (0.5, 500), ("2 ms", 2_000), ("0ms", 0), ("60s", 60_000_000),
])
def test_times(value, micros):
    assert parse_time(value) == micros


@pytest.mark.parametrize("value, message", [
    ("10", None), ("ten ms", "'ten ms' is not a time; write e.g. '10ms', '1.5ms', '100us' or '1s'"),
    ("3h", "'3h': unknown unit 'h'; use us, ms or s"),
    ("1.5us", "'1.5us' is finer than a microsecond, the kernel's unit"),
    ("-1ms", "'-1ms' is not a time"),
    ("61s", "'61s' is outside 0 .. 60 s"),
    ([10], "[10] is not a time"),
])
def test_bad_times(value, message):
    if message is None:
        assert parse_time(value) == 10_000          # a bare number string is milliseconds
        return
    with pytest.raises(SettingError) as err:
        parse_time(value)
    assert message in str(err.value)


def test_loss_and_queue():
    assert parse_loss(10) == 10.0
    assert parse_loss("0.5%") == 0.5
    assert parse_queue(100) == 100
    for bad, message in ((200, "200 is above the maximum 100"), (-1, "-1 is below the minimum 0"),
                         ("lots", "'lots' is not a loss")):
        with pytest.raises(SettingError, match=message):
            parse_loss(bad)
    for bad, message in ((1.5, "expected an integer, got 1.5"), (0, "0 is below the minimum 1")):
        with pytest.raises(SettingError, match=message):
            parse_queue(bad)


# ---------------------------------------------------------------- validation

def messages(g) -> list[str]:
    return [str(p) for p in validate(g)]


def test_validation_names_the_link_and_the_setting():
    assert messages(pair(bw="fast")) == [
        "link h1--h2: bw: 'fast' is not a rate; write e.g. 10 (Mbit/s), '100kbit', '20Mbit' or '2Gbit'"]
    assert messages(pair(delay="10 parsecs")) == [
        "link h1--h2: delay: '10 parsecs': unknown unit 'parsecs'; use us, ms or s"]
    assert messages(pair(loss=200)) == ["link h1--h2: loss: 200 is above the maximum 100"]
    assert messages(pair(queue=1.5)) == ["link h1--h2: queue: expected an integer, got 1.5"]


def test_validation_per_direction():
    assert messages(pair(bw={"h1": 2, "h2": 10})) == []
    assert messages(pair(bw={"h1": 2, "h3": 10})) == [
        "link h1--h2: 'bw' names 'h3', which is not an end of this link (key it by 'h1' or 'h2' (the end that sends))"]
    assert messages(pair(delay={"h2": "a fortnight"})) == [
        "link h1--h2: delay of 'h2': 'a fortnight' is not a time; write e.g. '10ms', '1.5ms', '100us' or '1s'"]


def test_jitter_needs_a_delay_in_the_same_direction():
    assert messages(pair(jitter="1ms")) == [
        "link h1--h2: jitter from 'h1' without a delay (jitter varies a delay: set delay too, e.g. "
        "delay='10ms', jitter='2ms')",
        "link h1--h2: jitter from 'h2' without a delay (jitter varies a delay: set delay too, e.g. "
        "delay='10ms', jitter='2ms')"]
    assert messages(pair(delay={"h1": "5ms"}, jitter={"h1": "1ms"})) == []


def test_every_bad_setting_is_reported_together():
    assert len(validate(pair(bw="x", delay="y", loss=101, queue=0))) == 4


# ---------------------------------------------------------------- qdisc plans

def kinds_of(qdiscs) -> list[tuple[str, str, str, str]]:
    return [(q.kind, q.object, q.handle, q.parent) for q in qdiscs]


COMBINATIONS = [dict(zip(("bw", "delay", "jitter", "loss", "queue"), values)) for values in itertools.product(
    (None, 10), (None, "10ms"), (None, "2ms"), (None, 10), (None, 50))
    if not (values[2] and not values[1])]          # jitter without delay: refused by validation


@pytest.mark.parametrize("netem", [True, False])
@pytest.mark.parametrize("settings", COMBINATIONS, ids=lambda s: "+".join(k for k, v in s.items() if v) or "none")
def test_every_combination(settings, netem):
    """The tc objects of one direction follow the documented layout for every mix of settings."""
    given = {k: v for k, v in settings.items() if v is not None}
    d = shaping.direction(given, "h1")
    qdiscs = shaping.egress_qdiscs(d, netem)
    uses_netem = bool(d.delay or d.jitter or (d.loss and netem))
    expected = []
    if uses_netem:
        expected.append(("netem", "qdisc", "1:", "root"))
    if d.bw:
        major = 2 if uses_netem else 1
        expected += [("htb", "qdisc", f"{major}:", "1:1" if uses_netem else "root"),
                     ("htb", "class", f"{major}:1", f"{major}:"),
                     ("pfifo", "qdisc", "10:", f"{major}:1")]
    elif d.queue and not uses_netem:
        expected.append(("pfifo", "qdisc", "10:", "root"))
    assert kinds_of(qdiscs) == expected
    by_kind = {(q.kind, q.object): q for q in qdiscs}
    if uses_netem:
        netem_q = by_kind[("netem", "qdisc")]
        assert netem_q.option("delay") == (d.delay or None)
        assert netem_q.option("jitter") == (d.jitter or None)
        assert netem_q.option("loss") == (d.loss if netem and d.loss else None)
        assert netem_q.option("limit") == (shaping.netem_limit(d))
        if not d.bw and d.queue:
            assert netem_q.option("limit") == d.queue
    if d.bw:
        cls = by_kind[("htb", "class")]
        assert cls.option("rate") == cls.option("ceil") == 10_000_000
        assert by_kind[("pfifo", "qdisc")].option("limit") == (d.queue or shaping.DEFAULT_QUEUE)
    # loss never leaves the plan: netem has it, or the receiving end drops it on ingress
    features = None if netem else NATIVE
    if d.delay and not netem:
        with pytest.raises(EnvironmentProblem):
            planner.plan(pair(**given), features=features)
        return
    p = planner.plan(pair(**given), features=features)
    h1, h2 = intf(p, "h1"), intf(p, "h2")
    assert h1.qdiscs == qdiscs                     # same settings both ways
    assert h2.ingress_loss == (d.loss if d.loss and not netem else None)


def test_htb_numbers():
    d = Direction(bw=1_000_000_000)
    cls = shaping.egress_qdiscs(d, netem=False)[1]
    assert dict(cls.options) == {"rate": 10**9, "ceil": 10**9, "burst": 125_000, "cburst": 125_000,
                                 "quantum": 200_000}
    small = dict(shaping.egress_qdiscs(Direction(bw=1_000_000), netem=False)[1].options)
    assert small["burst"] == 2 * shaping.FRAME and small["quantum"] == 12_500


def test_netem_limit_holds_the_delay_line():
    assert shaping.netem_limit(Direction(delay=10_000)) == 1000
    assert shaping.netem_limit(Direction(delay=10_000, queue=30)) == 30
    # 1 Gbit/s x 100 ms = 8257 full frames in flight; four times that
    assert shaping.netem_limit(Direction(bw=10**9, delay=100_000)) == 4 * 8257


def test_asymmetric_rates():
    p = planner.plan(pair(bw={"h1": 2, "h2": "10Mbit"}), features=NATIVE)
    assert intf(p, "h1").qdiscs[1].option("rate") == 2_000_000
    assert intf(p, "h2").qdiscs[1].option("rate") == 10_000_000


def test_one_way_loss_lands_on_the_receiver_without_netem():
    p = planner.plan(pair(loss={"h1": 10}), features=NATIVE)
    assert intf(p, "h1").ingress_loss is None and intf(p, "h2").ingress_loss == 10.0
    assert intf(p, "h1").qdiscs == () and intf(p, "h2").qdiscs == ()
    p = planner.plan(pair(loss={"h1": 10}), features=STOCK)
    assert intf(p, "h1").qdiscs[0].kind == "netem" and intf(p, "h1").qdiscs[0].option("loss") == 10.0
    assert intf(p, "h2").qdiscs == () and intf(p, "h2").ingress_loss is None


def test_switch_ports_are_shaped_too():
    g = nx.Graph()
    g.add_node("h1", kind="host")
    g.add_node("s1", kind="switch")
    g.add_edge("h1", "s1", bw={"h1": 1, "s1": 4}, loss={"h1": 5})
    p = planner.plan(g, features=NATIVE)
    assert shaping.of(p, "s1", "s1-eth1").qdiscs[1].option("rate") == 4_000_000
    assert shaping.of(p, "s1", "s1-eth1").ingress_loss == 5.0


def test_plans_are_deterministic_and_unshaped_plans_unchanged():
    g = pair(bw=10, loss=1, queue=20)
    assert planner.plan(g, features=NATIVE).to_json() == planner.plan(g, features=NATIVE).to_json()
    data = json.loads(planner.plan(pair()).to_json())
    assert "qdiscs" not in data["nodes"][0]["interfaces"][0] and "shaping" not in data["concerns"]
    data = json.loads(planner.plan(g, features=NATIVE).to_json())
    shown = data["concerns"]["shaping"][0]
    assert [q["kind"] for q in shown["qdiscs"]] == ["htb", "htb", "pfifo"] and shown["ingress_loss"] == 1.0


# ---------------------------------------------------------------- refusals

def test_delay_refused_without_netem_naming_links_and_both_ways_out():
    g = nx.Graph()
    for n in ("h1", "h2", "h3"):
        g.add_node(n, kind="host")
    g.add_node("s1", kind="switch")
    g.add_edge("h1", "s1", delay="10ms")
    g.add_edge("h2", "s1", jitter={"h2": "1ms"}, delay={"h2": "3ms"}, bw=5)
    g.add_edge("h3", "s1", bw=5, loss=1)
    with pytest.raises(EnvironmentProblem) as err:
        planner.plan(g, features=NATIVE)
    text = str(err.value)
    assert text.splitlines()[0] == ("this kernel has no netem, needed by: link h1--s1 (delay); "
                                    "link h2--s1 (delay, jitter)")
    assert "h3" not in text
    assert "`testbed run --vm ...`" in text and "drop the delay/jitter setting(s) from those links" in text
    assert err.value.exit_code == 3


def test_loss_refused_without_netem_or_nftables():
    with pytest.raises(EnvironmentProblem, match="no netem or nftables netdev, needed by: link h1--h2 \\(loss\\)"):
        planner.plan(pair(loss=3), features={"htb"})


def test_bw_refused_without_htb():
    with pytest.raises(EnvironmentProblem, match="no htb, needed by: link h1--h2 \\(bw\\)"):
        planner.plan(pair(bw=3), features={"netem"})


def test_everything_allowed_on_a_stock_kernel():
    p = planner.plan(pair(bw=10, delay="5ms", jitter="1ms", loss=1, queue=100), features=STOCK)
    assert [q.kind for q in intf(p, "h1").qdiscs] == ["netem", "htb", "htb", "pfifo"]


# ---------------------------------------------------------------- drivers' pure parts

def test_nft_rule_text():
    text = nft.ingress_drop_rules("h2-eth0", 10.0)
    assert 'type filter hook ingress device "h2-eth0" priority filter; policy accept;' in text
    assert f"numgen random mod {nft.LOSS_SCALE} < 100000 counter drop" in text
    assert nft.threshold(0.0001) == 1 and nft.threshold(100) == nft.LOSS_SCALE


def test_tc_handles_and_arguments():
    assert tc.handle("root") == 0xFFFFFFFF
    assert tc.handle("1:") == 0x10000 and tc.handle("2:1") == 0x20001 and tc.handle("10:") == 0x100000
    qdiscs = shaping.egress_qdiscs(Direction(bw=8_000_000, delay=5000, loss=1.5, queue=7), netem=True)
    args = [tc._kwargs(q) for q in qdiscs]
    assert args[0] == {"delay": 5000, "loss": 1.5, "limit": 1000}
    assert args[1] == {"default": 1}
    assert args[2]["rate"] == args[2]["ceil"] == 1_000_000          # bytes/s for pyroute2
    assert args[3] == {"limit": 7}


def test_a_missing_qdisc_is_explained_at_deploy():
    import errno

    from testbed.deploy.build import _hint
    from testbed.kernel.netlink import NetlinkError
    assert "testbed doctor" in _hint(NetlinkError(errno.ENOENT, "add netem qdisc 1: on h1/h1-eth0"))


# ---------------------------------------------------------------- ecn (RED marking)

def test_ecn_replaces_the_fifo_with_an_instantaneous_red_queue():
    p = planner.plan(pair(bw={"h1": 100}, queue={"h1": 200}, ecn={"h1": 20}), features=STOCK)
    qdiscs = intf(p, "h1").qdiscs
    assert kinds_of(qdiscs) == [("htb", "qdisc", "1:", "root"), ("htb", "class", "1:1", "1:"),
                                ("red", "qdisc", "10:", "1:1")]
    assert dict(qdiscs[2].options) == {"limit": 200 * 1514, "min": 20 * 1514, "max": 20 * 1514 + 1, "avpkt": 1514,
                                       "bandwidth": 100_000_000, "wlog": 0, "probability": 1.0, "ecn": True}
    assert intf(p, "h2").qdiscs == ()                # the other direction: nothing asked
    delayed = planner.plan(pair(bw=100, delay="1ms", ecn=20), features=STOCK)
    assert [q.kind for q in intf(delayed, "h1").qdiscs] == ["netem", "htb", "htb", "red"]
    assert intf(delayed, "h1").qdiscs[3].parent == "2:1"


def test_ecn_settings_are_checked():
    assert any("ecn from 'h1' without a bw" in m for m in messages_of(pair(ecn=20)))
    assert any("ecn 50 from 'h1' is not below the queue (50 packets)" in m
               for m in messages_of(pair(bw=10, queue=50, ecn=50)))
    assert any("ecn" in m for m in messages_of(pair(bw=10, ecn=0.5)))
    assert not messages_of(pair(bw=10, queue=51, ecn=50))


def test_ecn_refused_without_red_naming_the_way_out():
    with pytest.raises(EnvironmentProblem) as err:
        planner.plan(pair(bw=100, ecn=20), features=NATIVE)
    assert str(err.value).splitlines()[0] == "this kernel has no red, needed by: link h1--h2 (ecn)"
    assert "`testbed run --vm ...`" in str(err.value)


def messages_of(graph) -> list[str]:
    return [str(p) for p in validate(graph)]
