"""Plots a reviewer accepts: inspected as figure objects and as the files written."""
from __future__ import annotations

import glob
import io
import os
import struct

import pytest
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from testbed.lab import plot, plotdata
from testbed.lab.experiment import load_experiment
from testbed.lab.plotspec import Plot
from testbed.lab.results import Results

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rows(points, reps=3, **extra):
    """Rows of grid points (dicts) repeated ``reps`` times; y varies by +-1 per repetition."""
    out = []
    for p, point in enumerate(points):
        for r in range(reps):
            row = {"point": p, "repetition": r, **point, **extra}
            if "y" in row:
                row["y"] = row["y"] + (r - (reps - 1) / 2)
            out.append(row)
    return Results(out, list(points[0]))


def texts(fig):
    return [t for t in fig.findobj(Text) if t.get_text().strip()]


def all_text(fig):
    return "\n".join(t.get_text() for t in texts(fig))


def test_three_formats_png_at_200_dpi_paper_column_and_readable_fonts(tmp_path):
    results = rows([{"kind": "hub", "y": 10.0}, {"kind": "switch", "y": 20.0}])
    written = plot.render([Plot("p", y="y", x="kind", unit="frames")], results, str(tmp_path), io.StringIO())
    assert sorted(os.path.basename(p) for p in written) == ["p.pdf", "p.png", "p.svg"]
    png = open(tmp_path / "p.png", "rb").read()
    at = png.index(b"pHYs")
    x_ppm, y_ppm, unit = struct.unpack(">IIB", png[at + 4:at + 13])
    assert unit == 1 and round(x_ppm * 0.0254) == round(y_ppm * 0.0254) == 200
    width, height = struct.unpack(">II", png[16:24])
    assert width == 700                                 # 3.5 in at 200 dpi
    assert open(tmp_path / "p.svg", "rb").read(5) == b"<?xml" and open(tmp_path / "p.pdf", "rb").read(4) == b"%PDF"
    fig = plot.figure(Plot("p", y="y", x="kind", unit="frames"), results)
    assert tuple(fig.get_size_inches()) == (3.5, 3.0)
    assert min(t.get_fontsize() for t in texts(fig)) >= 6.5
    assert plot.parse_formats("svg, PDF") == ("svg", "pdf")
    with pytest.raises(Exception, match="--format"):
        plot.parse_formats("png,jpeg")


def test_axis_titles_in_words_with_units_scaled_and_legend_titled():
    results = rows([{"kind": k, "backend": b, "y": v} for k, b, v in
                    [("hub", "linux", 20000.0), ("hub", "ovs", 800.0), ("switch", "linux", 30000.0),
                     ("switch", "ovs", 900.0)]])
    spec = Plot("t", y="y", x="kind", group="backend", unit="Mbit/s", ylabel="aggregate TCP throughput",
                labels={"linux": "Linux bridge", "ovs": "Open vSwitch", "backend": "implementation",
                        "kind": "device"})
    fig = plot.figure(spec, results)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "aggregate TCP throughput (Gbit/s)"
    assert ax.get_xlabel() == "device"
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "implementation"
    assert [t.get_text() for t in legend.get_texts()] == ["Linux bridge", "Open vSwitch"]
    heights = sorted(round(p.get_height(), 3) for p in ax.patches if isinstance(p, Rectangle) and p.get_height())
    assert heights == [0.8, 0.9, 20.0, 30.0]            # drawn in Gbit/s, not 20,000 Mbit/s
    assert plotdata.scale("Mbit/s", [20000]) == (0.001, "Gbit/s")
    assert plotdata.scale("ms", [0.02]) == (1000.0, "µs")
    assert plotdata.scale("bytes", [14, 5e6], log=True) == (1.0, "bytes")


def test_error_bars_are_labelled_sd_below_five_runs_bootstrap_from_five():
    three = plot.figure(Plot("e", y="y", x="x", kind="line"), rows([{"x": 1, "y": 5.0}, {"x": 2, "y": 6.0}]))
    assert "error bars: mean ± 1 s.d., n = 3" in all_text(three)
    five = plot.figure(Plot("e", y="y", x="x", kind="line"), rows([{"x": 1, "y": 5.0}], reps=6))
    assert "error bars: 95 % bootstrap CI of the mean, n = 6" in all_text(five)
    mean, lo, hi = plotdata.error_bar([1, 2, 3, 4, 5, 6])
    assert mean == 3.5 and 1 < lo < 3.5 < hi < 6 and plotdata.error_bar([1, 2, 3, 4, 5, 6]) == (mean, lo, hi)
    assert plotdata.error_bar([1, 3]) == (2.0, 2.0 - 2 ** 0.5, 2.0 + 2 ** 0.5)
    one = plot.figure(Plot("e", y="y", x="x", kind="line"), rows([{"x": 1, "y": 5.0}], reps=1))
    assert "one run per point (no error bars)" in all_text(one)


def test_accuracy_as_a_ratio_with_the_claim_band_shaded():
    results = Results([{"point": i, "repetition": 0, "bw": bw, "measured": m, "expected": e}
                       for i, (bw, m, e) in enumerate([(1, 0.96, 0.95), (10, 9.4, 9.5), (1000, 960.0, 955.0)])],
                      ["bw"])
    spec = Plot("rate", y="measured", ratio_to="expected", x="bw", kind="line", logx=True, band=(0.95, 1.05),
                band_label="claim: within ±5 %")
    fig = plot.figure(spec, results)
    ax = fig.axes[0]
    line = next(l for l in ax.get_lines() if len(l.get_ydata()) == 3)
    assert list(line.get_ydata()) == pytest.approx([0.96 / 0.95, 9.4 / 9.5, 960 / 955])
    assert ax.get_ylabel() == "measured / expected"
    spans = [(round(p.get_y(), 3), round(p.get_y() + p.get_height(), 3)) for p in ax.patches
             if isinstance(p, Rectangle)]
    assert (0.95, 1.05) in spans
    bottom, top = ax.get_ylim()
    assert bottom < 0.95 and top > 1.05                 # the band with room around it
    assert "claim: within ±5 %" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_references_are_styled_as_references_not_data():
    results = rows([{"loss": p, "y": 100 / p, "model": 150 / p} for p in (0.1, 1.0, 5.0)])
    spec = Plot("m", y=("y", "model"), references=("model",), x="loss", kind="line", logx=True, logy=True,
                labels={"y": "measured", "model": "Mathis model"}, identity=False)
    ax = plot.figure(spec, results).axes[0]
    data_line = next(l for l in ax.get_lines() if l.get_marker() not in ("None", None, "") and len(l.get_xdata()) == 3)
    reference = next(l for l in ax.get_lines() if l.get_marker() in ("None", None, "") and len(l.get_xdata()) == 3)
    assert reference.get_linestyle() in ("--", "-.", ":") and reference.get_color() in ("#555555", "#888888", "#333333")
    assert data_line.get_linestyle() == "-"
    assert "Mathis model (reference)" in [t.get_text() for t in ax.get_legend().get_texts()]
    ident = plot.figure(Plot("i", y="y", x="loss", kind="line", identity=True), results).axes[0]
    assert "y = x (reference)" in [t.get_text() for t in ident.get_legend().get_texts()]


def test_no_bars_on_a_log_axis_and_zeros_are_visible():
    results = rows([{"kind": "hub", "y": 5e6}, {"kind": "switch", "y": 1.0}])      # switch: 0, 1, 2
    results.rows[3]["y"] = results.rows[4]["y"] = results.rows[5]["y"] = 0.0       # switch: all zero
    ax = plot.figure(Plot("b", y="y", x="kind", logy=True, unit="bytes"), results).axes[0]
    assert not [p for p in ax.patches if isinstance(p, Rectangle) and p.get_height() > 0]   # points, not bars
    assert ax.get_yscale() == "log"
    assert "0" in [t.get_text() for t in ax.texts]                                  # the zero, in words
    linear = plot.figure(Plot("b", y="y", x="kind", unit="bytes"), results).axes[0]
    assert "0" in [t.get_text() for t in linear.texts]                              # a zero-height bar, said


def test_time_series_and_cdf():
    series = [[[t, 10.0 * (i + 1) + t] for t in (1.0, 2.0, 3.0)] for i in range(2)]
    results = Results([{"point": i, "repetition": r, "backend": b, "intervals": series[r]}
                       for i, b in enumerate(("linux", "ovs")) for r in range(2)], ["backend"])
    ax = plot.figure(Plot("ts", y="intervals", group="backend", kind="timeseries", unit="Mbit/s"), results).axes[0]
    assert len([l for l in ax.get_lines() if len(l.get_xdata()) == 3]) == 4          # one line per run
    assert ax.get_xlabel() == "time since the flow started (s)" and ax.get_ylabel().endswith("(Mbit/s)")
    ax = plot.figure(Plot("c", y="intervals", group="backend", kind="cdf", unit="Mbit/s"), results).axes[0]
    steps = [l for l in ax.get_lines() if len(l.get_xdata()) == 6]
    assert len(steps) == 2
    for line in steps:
        ys = list(line.get_ydata())
        assert ys == sorted(ys) and ys[-1] == 1.0
    assert "fraction of samples" in ax.get_ylabel()


def test_shipped_plots_use_words_units_and_the_new_kinds():
    specs = {os.path.basename(p): load_experiment(p).plots for p in glob.glob(os.path.join(ROOT, "experiments", "*.py"))}
    for name, plots in specs.items():
        for spec in plots:
            assert spec.title, (name, spec.name)
            if spec.kind in ("bar", "line"):
                assert spec.ylabel and "_" not in spec.ylabel, (name, spec.name)
                assert spec.xlabel or spec.x in spec.labels, (name, spec.name)     # words, not the column
                assert "_" not in (spec.xlabel or spec.label(spec.x)), (name, spec.name)
            assert not (spec.kind == "bar" and spec.logy and spec.band), (name, spec.name)
    kinds = {spec.kind for plots in specs.values() for spec in plots}
    assert {"bar", "line", "timeseries", "cdf"} <= kinds
    rate = next(s for s in specs["link_accuracy.py"] if s.name == "rate")
    assert rate.ratio_to == "expected" and rate.band == (0.95, 1.05)
    tcp = next(s for s in specs["tcp_vs_loss.py"] if s.name == "throughput_vs_loss")
    assert "mathis_mbps" in tcp.references
