"""Plots of per-run series: values over time side by side, and their distribution (CDF).

Two kinds of :class:`testbed.lab.results.Plot` whose ``y`` column holds, in each row, a
list of ``[t, value]`` pairs (results.json keeps lists; results.csv does not):

- ``kind="series"``: one panel per value of the ``x`` column, side by side and on one
  y scale, each run's series drawn over time (repetitions overlaid). How the papers show
  a queue or a congestion window over time for two settings.
- ``kind="cdf"``: one axes, the empirical CDF of the values per value of the ``x``
  column (repetitions pooled).

``where`` selects rows as for the other kinds; ``logy`` is honoured by "series".
"""
from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from testbed.lab.results import Plot, Results, is_number  # noqa: E402

KINDS = ("series", "cdf")


def pairs(value: Any) -> list[tuple[float, float]]:
    """The numeric [t, v] pairs of a row's series (anything else is left out)."""
    if not isinstance(value, (list, tuple)):
        return []
    return [(p[0], p[1]) for p in value
            if isinstance(p, (list, tuple)) and len(p) == 2 and is_number(p[0]) and is_number(p[1])]


def panels(spec: Plot, results: Results) -> dict[Any, list[list[tuple[float, float]]]]:
    """x value -> the series of each run with it (in row order)."""
    rows = results.where(**dict(spec.where))
    found: dict[Any, list[list[tuple[float, float]]]] = {}
    for row in rows:
        series = pairs(row.get(spec.ys[0]))
        if series:
            found.setdefault(row.get(spec.x), []).append(series)
    return found


def _label(spec: Plot, value: Any) -> str:
    return f"{spec.x}={value}"


def draw(spec: Plot, results: Results, path: str) -> bool:
    """Draw the plot into ``path``; False when no row had a series to draw."""
    data = panels(spec, results)
    if not data:
        return False
    if spec.kind == "series":
        fig, axes = plt.subplots(1, len(data), figsize=(4.2 * len(data) + 0.6, 3.6), dpi=100, sharey=True,
                                 squeeze=False)
        for ax, (value, runs) in zip(axes[0], data.items()):
            for i, series in enumerate(runs):
                ax.plot([t for t, _ in series], [v for _, v in series], linewidth=0.9,
                        alpha=1.0 if len(runs) == 1 else 0.75, label=f"run {i + 1}" if len(runs) > 1 else None)
            ax.set_title(_label(spec, value))
            ax.set_xlabel(spec.xlabel or "time (s)")
            ax.grid(True, alpha=0.3)
            if spec.logy:
                ax.set_yscale("log")
            if len(runs) > 1:
                ax.legend(fontsize="small")
        axes[0][0].set_ylabel(spec.ylabel or spec.ys[0])
        fig.suptitle(spec.title or spec.name)
    else:
        fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
        for value, runs in data.items():
            values = sorted(v for series in runs for _, v in series)
            n = len(values)
            ax.step(values, [(i + 1) / n for i in range(n)], where="post", label=_label(spec, value))
        ax.set_xlabel(spec.xlabel or spec.ys[0])
        ax.set_ylabel(spec.ylabel or "fraction of samples")
        ax.set_ylim(0, 1.02)
        ax.set_title(spec.title or spec.name)
        ax.grid(True, alpha=0.3)
        ax.legend()
    try:
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return True
