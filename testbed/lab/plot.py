"""Plots of experiment results (the only module that imports matplotlib; Agg backend, no display).

Each :class:`testbed.lab.results.Plot` becomes ``<folder>/<name>.png``: the mean of the
repetitions at each x (one series per group value) with error bars of one standard
deviation.
"""
from __future__ import annotations

import os
import statistics
import sys
from typing import Any, Sequence, TextIO

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from testbed.lab import series_plot  # noqa: E402
from testbed.lab.results import Plot, Results, is_number  # noqa: E402


def _stats(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), 0.0
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def series(spec: Plot, results: Results) -> tuple[list[Any], dict[str, tuple[list[float], list[float]]]]:
    """x values, and per series label: (means, standard deviations) at each x."""
    rows = results.where(**dict(spec.where))
    xs = rows.unique(spec.x)
    groups = rows.by(spec.group) if spec.group else {None: rows}
    out: dict[str, tuple[list[float], list[float]]] = {}
    for gvalue, grows in groups.items():
        for y in spec.ys:
            label = " ".join(str(p) for p in (gvalue if spec.group else None,
                                               y if len(spec.ys) > 1 else None) if p is not None) or y
            means, stds = [], []
            for x in xs:
                values = [v for v in grows.where(**{spec.x: x}).values(y) if is_number(v)]
                mean, std = _stats(values)
                means.append(mean)
                stds.append(std)
            out[label] = (means, stds)
    return xs, out


def missing_columns(spec: Plot, results: Results) -> list[str]:
    columns = set(results.columns)
    wanted = [spec.x, *spec.ys, *([spec.group] if spec.group else []), *spec.where]
    return [c for c in wanted if c not in columns]


def draw(spec: Plot, results: Results, path: str) -> None:
    xs, data = series(spec, results)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    try:
        if spec.kind == "line":
            numeric = all(is_number(x) for x in xs)
            positions = xs if numeric else list(range(len(xs)))
            for label, (means, stds) in data.items():
                ax.errorbar(positions, means, yerr=stds, marker="o", capsize=4, label=label)
            if not numeric:
                ax.set_xticks(positions, [str(x) for x in xs])
        else:
            n = max(len(data), 1)
            width = 0.8 / n
            for i, (label, (means, stds)) in enumerate(data.items()):
                positions = [j + (i - (n - 1) / 2) * width for j in range(len(xs))]
                ax.bar(positions, means, width, yerr=stds, capsize=4, label=label)
            ax.set_xticks(range(len(xs)), [str(x) for x in xs])
        if spec.logy:
            ax.set_yscale("log")
        if spec.logx and spec.kind == "line" and all(is_number(x) and x > 0 for x in xs):
            ax.set_xscale("log")
        ax.set_xlabel(spec.xlabel or spec.x)
        ax.set_ylabel(spec.ylabel or ", ".join(spec.ys))
        ax.set_title(spec.title or spec.name)
        labels = [t.get_text() for t in ax.get_xticklabels()]
        if sum(len(t) for t in labels) > 60:           # long category names: slant them
            ax.tick_params(axis="x", labelrotation=25)
            for t in ax.get_xticklabels():
                t.set_horizontalalignment("right")
        if len(data) > 1:
            ax.legend(title=spec.group if spec.group and len(spec.ys) == 1 else None)
        ax.grid(True, axis="y", alpha=0.3)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def where_text(where) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in dict(where).items())


def render(specs: Sequence[Plot], results: Results, folder: str, log: TextIO | None = None) -> list[str]:
    """Draw every plot into folder/<name>.png; a plot whose columns are missing is skipped, said on log."""
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
        path = os.path.join(folder, f"{spec.name}.png")
        if spec.kind in series_plot.KINDS:
            if not series_plot.draw(spec, results, path):
                print(f"*** plot {spec.name}: no row has a series of [t, value] pairs in {spec.ys[0]}; skipped",
                      file=log)
                continue
        elif spec.kind not in ("bar", "line"):
            print(f"*** plot {spec.name}: kind {spec.kind!r} is not bar, line, series or cdf; skipped", file=log)
            continue
        else:
            draw(spec, results, path)
        written.append(path)
    if written:
        print(f"*** plots: {', '.join(written)}", file=log)
    return written
