"""Plots of experiment results: the only module of testbed.lab that imports matplotlib (Agg, no display).

Each :class:`testbed.Plot` (testbed.lab.plotspec) becomes ``<folder>/<name>.png`` (200 dpi),
``.svg`` and ``.pdf``, sized for one column of a paper (3.5 in wide) with fonts that stay
readable at that size. What is drawn, and how error bars, units, bands and references
are chosen, is described in testbed.lab.plotspec; the numbers come from testbed.lab.plotdata.
"""
from __future__ import annotations

import math
import os
import sys
import textwrap
from typing import Any, Sequence, TextIO

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from testbed.lab import plotdata  # noqa: E402
from testbed.lab.plotspec import KINDS, Plot  # noqa: E402
from testbed.lab.results import Results, is_number  # noqa: E402

FORMATS = ("png", "svg", "pdf")
PNG_DPI = 200
WIDTH, HEIGHT = 3.5, 3.0                 # inches: one column of a two-column paper
FONT = 8.0                               # points
# Okabe & Ito's colour-blind-safe palette
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
REFERENCE_STYLES = (("#555555", (0, (5, 2))), ("#888888", (0, (2, 2))), ("#333333", (0, (6, 2, 1, 2))))
BAND_COLOUR = "#2ca02c"
STYLE = {
    "font.size": FONT, "axes.titlesize": FONT + 0.5, "axes.labelsize": FONT, "xtick.labelsize": FONT - 1,
    "ytick.labelsize": FONT - 1, "legend.fontsize": FONT - 1, "legend.title_fontsize": FONT - 1,
    "axes.linewidth": 0.6, "lines.linewidth": 1.2, "lines.markersize": 4, "xtick.major.width": 0.6,
    "ytick.major.width": 0.6, "svg.fonttype": "none", "pdf.fonttype": 42,
}


def parse_formats(text: str) -> tuple[str, ...]:
    """"png,svg" -> ("png", "svg"); unknown formats are refused."""
    from testbed.errors import UsageError
    formats = tuple(f.strip().lower().lstrip(".") for f in text.split(",") if f.strip())
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise UsageError(f"--format {text!r}: give some of {', '.join(FORMATS)}, e.g. --format png,svg,pdf")
    return formats


# ---------------------------------------------------------------- one figure

def figure(spec: Plot, results: Results) -> Figure:
    """The matplotlib Figure of one plot (not saved): title, legend above the axes, caption below."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH, HEIGHT), layout="constrained")
        ax = fig.add_subplot()
        if spec.kind == "timeseries":
            caption, handles, title = _timeseries(ax, spec, results)
        elif spec.kind == "cdf":
            caption, handles, title = _cdf(ax, spec, results)
        else:
            caption, handles, title = _xy(ax, spec, results)
        if spec.title:
            fig.suptitle("\n".join(textwrap.wrap(spec.title, 50)), x=0.02, ha="left", fontsize=FONT + 0.5)
        if handles:                                 # above the axes: never over the data
            legend = ax.legend(handles=handles, title=spec.legend or title, loc="lower left",
                               bbox_to_anchor=(0.0, 1.01), borderaxespad=0.0, frameon=False,
                               ncols=1 if max(len(h.get_label()) for h in handles) > 24 else min(len(handles), 2),
                               handlelength=1.8, columnspacing=1.0)
            legend._legend_box.align = "left"
        ax.grid(True, axis="y", alpha=0.3, linewidth=0.5)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for axis, log in ((ax.xaxis, ax.get_xscale() == "log"), (ax.yaxis, ax.get_yscale() == "log")):
            if log:                                     # 0.1, 1, 10 rather than 10^-1, 10^0, 10^1
                axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
        lines = [line for part in (caption, spec.caption) if part for line in textwrap.wrap(part, 68)]
        if lines:
            fig.supxlabel("\n".join(lines), x=0.02, ha="left", fontsize=FONT - 1.5, color="#444444")
    return fig


def _y_label(spec: Plot, unit: str) -> str:
    if spec.ylabel:
        text = spec.ylabel
    elif spec.ratio_to:
        text = f"{spec.label(spec.data_ys[0]) if len(spec.data_ys) == 1 else 'measured'} / {spec.label(spec.ratio_to)}"
    else:
        text = spec.label(spec.ys[0]) if len(spec.ys) == 1 else ""
    return f"{text} ({unit})" if unit and text else (unit or text)


def _x_label(spec: Plot) -> str:
    text = spec.xlabel or spec.label(spec.x)
    return f"{text} ({spec.x_unit})" if spec.x_unit else text


def _xy(ax: Any, spec: Plot, results: Results) -> str:
    data = plotdata.xy_data(spec, results)
    numeric = spec.kind == "line" and all(is_number(x) for x in data.xs)
    positions = [float(x) for x in data.xs] if numeric else list(range(len(data.xs)))
    ax.set_xlabel(_x_label(spec))
    ax.set_ylabel(_y_label(spec, data.unit))
    if spec.logx and numeric and all(x > 0 for x in positions):
        ax.set_xscale("log")
    if spec.logy:
        ax.set_yscale("log")
    handles: list = []
    _bands(ax, spec, data, positions, handles)
    data_series = [s for s in data.series if not s.reference]
    if spec.kind == "bar" and not spec.logy:
        _bars(ax, data_series, positions, handles)
    else:
        _points(ax, data_series, positions, handles, spec.kind == "line", spec.logy)
    _references(ax, spec, data, positions, handles)
    if not numeric:
        ax.set_xticks(positions, [spec.label(x) for x in data.xs])
        if sum(len(t.get_text()) for t in ax.get_xticklabels()) > 40:
            ax.tick_params(axis="x", labelrotation=30)
            for t in ax.get_xticklabels():
                t.set_horizontalalignment("right")
    if spec.band:                                 # the band with room around it, not the whole plot
        lo, hi = (v * data.factor for v in spec.band)
        bottom, top = ax.get_ylim()
        pad = 0.6 * (hi - lo)
        ax.set_ylim(min(bottom, lo - pad), max(top, hi + pad))
    show = len(data_series) > 1 or any(s.reference for s in data.series) or spec.band or spec.band_around \
        or spec.identity
    title = spec.label(spec.group) if spec.group and len(spec.data_ys) == 1 else None
    return plotdata.error_bar_caption(data.counts), handles if show else [], title


def _offsets(count: int, width: float = 0.8) -> tuple[list[float], float]:
    step = width / max(count, 1)
    return [(i - (count - 1) / 2) * step for i in range(count)], step


def _bars(ax: Any, series: Sequence[plotdata.Series], positions: list[float], handles: list) -> None:
    offsets, width = _offsets(len(series))
    for i, s in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        xs = [p + offsets[i] for p in positions]
        errors = _errors(s)
        ax.bar(xs, [0 if math.isnan(m) else m for m in s.means], width * 0.92, yerr=errors, capsize=2,
               color=colour, edgecolor="none", error_kw={"elinewidth": 0.7, "capthick": 0.7}, label=s.label)
        handles.append(Patch(facecolor=colour, label=s.label))
        for x, m in zip(xs, s.means):
            if m == 0:
                ax.annotate("0", (x, 0), xytext=(0, 1.5), textcoords="offset points", ha="center", va="bottom",
                            fontsize=FONT - 1.5)
    ax.axhline(0, color="#333333", linewidth=0.6)


def _points(ax: Any, series: Sequence[plotdata.Series], positions: list[float], handles: list, lines: bool,
            logy: bool) -> None:
    offsets, _ = _offsets(len(series), 0.3) if not lines else ([0.0] * len(series), 0.0)
    markers = "osD^vP*X"
    zeros: list[tuple[float, str]] = []
    for i, s in enumerate(series):
        colour, marker = COLOURS[i % len(COLOURS)], markers[i % len(markers)]
        if lines and ax.get_xscale() == "log":
            xs = positions
        else:
            xs = [p + offsets[i] for p in positions]
        means = [m if not (logy and m <= 0) else math.nan for m in s.means]
        lower = [lo if not (logy and lo <= 0) else m for lo, m in zip(s.lower, means)]
        errors = [[max(0.0, m - lo) if not math.isnan(m) else 0 for m, lo in zip(means, lower)],
                  [max(0.0, hi - m) if not math.isnan(m) else 0 for m, hi in zip(means, s.upper)]]
        ax.errorbar(xs, means, yerr=errors, fmt=("-" if lines else "") + marker, color=colour, capsize=2,
                    elinewidth=0.7, capthick=0.7, markersize=4, label=s.label)
        handles.append(Line2D([], [], color=colour, marker=marker, linestyle="-" if lines else "none",
                              label=s.label))
        zeros += [(x, colour) for x, m in zip(xs, s.means) if m == 0]
    for x, colour in zeros:                   # a zero on a log axis: at the bottom, said in words
        if logy:
            ax.annotate("0", (x, 0), xycoords=("data", "axes fraction"), xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=FONT - 1.5, color=colour)
            ax.plot([x], [0], marker="v", color=colour, markersize=4, transform=ax.get_xaxis_transform(),
                    clip_on=False)
        else:
            ax.annotate("0", (x, 0), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=FONT - 1.5,
                        color=colour)


def _errors(s: plotdata.Series) -> list[list[float]]:
    return [[0 if math.isnan(m) else max(0.0, m - lo) for m, lo in zip(s.means, s.lower)],
            [0 if math.isnan(m) else max(0.0, hi - m) for m, hi in zip(s.means, s.upper)]]


def _references(ax: Any, spec: Plot, data: plotdata.Data, positions: list[float], handles: list) -> None:
    refs = [s for s in data.series if s.reference]
    for i, s in enumerate(refs):
        colour, dashes = REFERENCE_STYLES[i % len(REFERENCE_STYLES)]
        ax.plot(positions, s.means, color=colour, linestyle=dashes, linewidth=1.0, zorder=1.5)
        handles.append(Line2D([], [], color=colour, linestyle=dashes, linewidth=1.0, label=f"{s.label} (reference)"))
    if spec.identity and positions:
        lo, hi = min(positions), max(positions)
        ax.plot([lo, hi], [lo * data.factor, hi * data.factor], color="#555555", linestyle=":", linewidth=1.0,
                zorder=1.5)
        handles.append(Line2D([], [], color="#555555", linestyle=":", linewidth=1.0, label="y = x (reference)"))


def _bands(ax: Any, spec: Plot, data: plotdata.Data, positions: list[float], handles: list) -> None:
    label = spec.band_label or "acceptance band"
    if spec.band:
        lo, hi = (v * data.factor for v in spec.band)
        ax.axhspan(lo, hi, color=BAND_COLOUR, alpha=0.15, linewidth=0, zorder=0)
        handles.append(Patch(facecolor=BAND_COLOUR, alpha=0.25, label=label))
    for low, high in data.bands:
        if spec.kind == "line":
            ax.fill_between(positions, low, high, color=BAND_COLOUR, alpha=0.15, linewidth=0, zorder=0)
        else:
            for p, lo, hi in zip(positions, low, high):
                ax.fill_between([p - 0.45, p + 0.45], [lo, lo], [hi, hi], color=BAND_COLOUR, alpha=0.15,
                                linewidth=0, zorder=0)
        handles.append(Patch(facecolor=BAND_COLOUR, alpha=0.25, label=label))


def _timeseries(ax: Any, spec: Plot, results: Results) -> str:
    groups = plotdata.timeseries(spec, results)
    values = [v for _, lines in groups for line in lines for _, v in line]
    factor, unit = plotdata.scale(spec.unit, values, log=spec.logy)
    handles = []
    runs = 0
    for i, (label, lines) in enumerate(groups):
        colour = COLOURS[i % len(COLOURS)]
        for line in lines:
            ax.plot([t for t, _ in line], [v * factor for _, v in line], color=colour, linewidth=0.8, alpha=0.7)
            runs += 1
        handles.append(Line2D([], [], color=colour, label=label))
    ax.set_xlabel(spec.xlabel or "time since the flow started (s)")
    ax.set_ylabel(_y_label(spec, unit))
    if spec.logy:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    title = spec.label(spec.group) if spec.group else None
    return (f"one line per run ({runs} runs), one point per reporting interval",
            handles if len(groups) > 1 else [], title)


def _cdf(ax: Any, spec: Plot, results: Results) -> str:
    groups = plotdata.cdf(spec, results)
    values = [v for _, vs, _ in groups for v in vs]
    factor, unit = plotdata.scale(spec.unit, values, log=spec.logx)
    handles = []
    for i, (label, vs, fractions) in enumerate(groups):
        colour = COLOURS[i % len(COLOURS)]
        ax.step([v * factor for v in vs], fractions, where="post", color=colour)
        handles.append(Line2D([], [], color=colour, label=f"{label} (n = {len(vs)})"))
    ax.set_xlabel(_y_label(spec, unit) if not spec.xlabel else spec.xlabel)
    ax.set_ylabel("fraction of samples ≤ value")
    ax.set_ylim(0, 1.02)
    if spec.logx and values and min(values) > 0:
        ax.set_xscale("log")
    return "empirical CDF over every sample of every run", handles, spec.label(spec.group) if spec.group else None


# ---------------------------------------------------------------- files

def missing_columns(spec: Plot, results: Results) -> list[str]:
    columns = set(results.columns)
    return [c for c in spec.columns() if c not in columns]


def where_text(where) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in dict(where).items())


def save(fig: Figure, base: str, formats: Sequence[str] = FORMATS) -> list[str]:
    """Write ``base.<format>`` for each format; PNG at PNG_DPI."""
    paths = []
    for fmt in formats:
        path = f"{base}.{fmt}"
        fig.savefig(path, format=fmt, dpi=PNG_DPI if fmt == "png" else None,
                    metadata={"Creator": "testbed"} if fmt != "png" else {"Software": "testbed"})
        paths.append(path)
    return paths


def render(specs: Sequence[Plot], results: Results, folder: str, log: TextIO | None = None,
           formats: Sequence[str] = FORMATS) -> list[str]:
    """Draw every plot into folder/<name>.<format>; a plot that cannot be drawn is skipped, said on log."""
    log = log or sys.stderr
    os.makedirs(folder, exist_ok=True)
    written = []
    for spec in specs:
        missing = missing_columns(spec, results)
        if missing:
            print(f"*** plot {spec.name}: no column {', '.join(missing)} in the results; skipped", file=log)
            continue
        if spec.where and not results.where(**dict(spec.where)).rows:
            print(f"*** plot {spec.name}: no results with {where_text(spec.where)}; skipped", file=log)
            continue
        if spec.kind not in KINDS:
            print(f"*** plot {spec.name}: kind {spec.kind!r} is not one of {', '.join(KINDS)}; skipped", file=log)
            continue
        if spec.kind in ("bar", "line") and not spec.x:
            print(f"*** plot {spec.name}: a {spec.kind} plot needs x; skipped", file=log)
            continue
        written += save(figure(spec, results), os.path.join(folder, spec.name), formats)
    if written:
        names = sorted({os.path.splitext(os.path.basename(p))[0] for p in written})
        print(f"*** plots in {folder}: {', '.join(names)} ({', '.join(formats)})", file=log)
    return written
