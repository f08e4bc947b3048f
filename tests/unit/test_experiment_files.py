"""The shipped experiment files without a network: they load, their helpers compute, their checks judge."""
from __future__ import annotations

import glob
import io
import math
import os

import pytest

from testbed.lab.experiment import load_experiment
from testbed.topology.load import load
from testbed.lab.results import Plot, Results

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = sorted(glob.glob(os.path.join(ROOT, "experiments", "*.py")))


def experiment(name: str):
    return load_experiment(os.path.join(ROOT, "experiments", f"{name}.py"))


def module(name: str):
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"exp_{name}", os.path.join(ROOT, "experiments", f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_every_experiment_loads_with_checks_and_plots(path):
    exp = load_experiment(path)
    assert exp.checks and exp.plots and exp.description
    assert all(check.__doc__ for check in exp.checks)


def test_link_sweep_settings():
    from importlib import util
    spec = util.spec_from_file_location("link_sweep", os.path.join(ROOT, "topologies", "link_sweep.py"))
    mod = util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.parse("bw:20+loss:h1=1") == {"bw": 20.0, "loss": {"h1": 1.0}}
    assert mod.parse("delay:10ms+queue:50") == {"delay": "10ms", "queue": 50}
    with pytest.raises(ValueError, match="attr:value"):
        mod.parse("rate:10")
    graph, _ = load(os.path.join(ROOT, "topologies", "link_sweep.py"), {"link": "bw:5+loss:2"})
    assert graph.edges["h1", "h2"] == {"bw": 5.0, "loss": 2.0}


def test_lossy_link_drops_only_the_data_direction():
    graph, _ = load(os.path.join(ROOT, "topologies", "lossy_link.py"), {"loss": "2"})
    assert graph.edges["h1", "h2"] == {"bw": 200.0, "loss": {"h1": 2.0}}


def test_mathis_model_and_slope():
    tcp = module("tcp_vs_loss")
    # 1448 bytes per 10 ms at 1 % loss: 1.158 Mbit/s * 1.2247 / 0.1
    assert tcp.mathis_mbps(10.0, 1.0) == pytest.approx(1448 * 8 / 0.01 * math.sqrt(1.5) / 0.1 / 1e6)
    points = [(p, tcp.mathis_mbps(1.0, p)) for p in (0.1, 0.5, 1, 2, 5)]
    assert tcp.loglog_slope(points) == pytest.approx(-0.5)


def _tcp_rows(curve):
    return Results([{"point": i, "repetition": 0, "loss": p, "measured_mbps": t, "mathis_mbps": 1000 / math.sqrt(p),
                     "delay": "20ms"}
                    for i, (p, t) in enumerate(curve)], ["loss"])


def test_tcp_checks_judge_shape():
    tcp = module("tcp_vs_loss")
    mathis_like = _tcp_rows([(p, 100 / math.sqrt(p)) for p in (0.1, 1, 5)])
    flat = _tcp_rows([(0.1, 100), (1, 99), (5, 98)])
    rising = _tcp_rows([(0.1, 100), (1, 150), (5, 20)])
    assert tcp.slope_like_mathis(mathis_like)[0] and tcp.decreases_with_loss(mathis_like)[0]
    assert not tcp.slope_like_mathis(flat)[0]
    assert not tcp.decreases_with_loss(rising)[0]


def test_link_accuracy_checks():
    acc = module("link_accuracy")
    ok = Results([{"point": 0, "repetition": 0, "attr": "bw", "configured": 10, "error_percent": -1.0},
                  {"point": 1, "repetition": 0, "attr": "loss", "configured": 5, "error_percent": 0.5,
                   "bound_percent": 3.0, "measured": 10.2, "expected": 9.75}], ["link"])
    bad = Results([{"point": 0, "repetition": 0, "attr": "bw", "configured": 10, "error_percent": -6.0}], ["link"])
    assert acc.rate_within_5_percent(ok)[0] and acc.loss_within_bound(ok)[0]
    assert not acc.rate_within_5_percent(bad)[0]
    assert not acc.loss_within_bound(bad)[0]                       # no loss rows: nothing shown
    passed, message = acc.delay_within_10_percent(ok)                # no delay rows: skipped, said why
    assert passed is None and "not measured" in message and "--vm" in message
    slow = Results([{"point": 0, "repetition": 0, "attr": "delay", "configured": 10.0, "measured": 25.0,
                     "error_percent": 25.0, "bound_percent": 10.0}], ["link"])
    assert not acc.delay_within_10_percent(slow)[0]


def test_logx_line_plot(tmp_path):
    from testbed.lab import plot
    rows = [{"point": i, "repetition": 0, "bw": bw, "y": bw * 0.95} for i, bw in enumerate((1, 10, 100, 1000))]
    written = plot.render([Plot("rate", y="y", x="bw", kind="line", logx=True, logy=True)],
                          Results(rows, ["bw"]), str(tmp_path), io.StringIO())
    assert written and os.path.getsize(written[0]) > 5000


def test_a_plot_whose_filter_matches_nothing_is_skipped_and_said(tmp_path):
    from testbed.lab import plot
    rows = [{"point": 0, "repetition": 0, "attr": "bw", "x": 1, "y": 2}]
    log = io.StringIO()
    written = plot.render([Plot("delay", y="y", x="x", where={"attr": "delay"})], Results(rows, []),
                          str(tmp_path), log)
    assert written == [] and "no results with attr='delay'; skipped" in log.getvalue()
