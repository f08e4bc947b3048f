"""What an experiment asks to be plotted: :class:`Plot` (testbed.Plot). Pure data, no matplotlib.

    Plot("throughput", y="aggregate_mbps", x="kind", group="backend", unit="Mbit/s",
         ylabel="aggregate TCP throughput", xlabel="device",
         labels={"linux": "Linux bridge", "ovs": "Open vSwitch", "backend": "switch backend"})

Kinds:

- ``bar``: grouped bars, one per x and group. On a log axis bars would start from an
  arbitrary baseline, so there the values are drawn as points instead.
- ``line``: lines with markers over a numeric (or categorical) x.
- ``timeseries``: ``y`` names a column of per-interval series ``[[t, value], ...]`` (one per
  run); one thin line per run, coloured by group.
- ``cdf``: the empirical distribution of ``y`` (scalars, or the values of series) per group.

Repetitions (rows with equal x and group) become mean and error bars: ± 1 s.d. for
n < 5 runs, a 95 % bootstrap confidence interval of the mean for n ≥ 5; the caption
says which, and n. Units: ``unit`` ("Mbit/s", "bytes", "ms", "%", "frames"...) is written
on the axis, and rates, sizes and times are rescaled to a sensible prefix (20,000 Mbit/s
is drawn as 20 Gbit/s). Claims: ``band=(low, high)`` shades the acceptance band in y
units, ``band_around=(centre_column, halfwidth_column)`` a band that follows x;
``references`` are y columns drawn as references (dashed, grey: a model, the configured
value), ``identity`` draws y = x. ``ratio_to`` divides y by another column first
(accuracy: measured / expected, where lines on log-log axes would lie on each other).
Values that are zero are annotated "0" (on a log axis they are drawn at its bottom).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

KINDS = ("bar", "line", "timeseries", "cdf")


@dataclass(frozen=True)
class Plot:
    """A plot of results: ``y`` (one column or several) against ``x``, one series per ``group``."""

    name: str
    y: str | tuple[str, ...]
    x: str = ""
    group: str | None = None
    kind: str = "bar"
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    logy: bool = False
    logx: bool = False                     # numeric x only
    where: Mapping[str, Any] = field(default_factory=dict)
    unit: str = ""                         # of y (after ratio_to: none)
    x_unit: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)   # human words for columns and values
    legend: str = ""                       # legend title (default: the group's label)
    ratio_to: str | None = None            # plot y / this column
    band: tuple[float, float] | None = None
    band_around: tuple[str, str] | None = None
    band_label: str = ""                   # e.g. "claim: within ±5 %"
    references: tuple[str, ...] = ()       # y columns drawn as references, not data
    identity: bool = False                 # a y = x reference line
    caption: str = ""                      # more to say under the plot

    @property
    def ys(self) -> tuple[str, ...]:
        return (self.y,) if isinstance(self.y, str) else tuple(self.y)

    @property
    def data_ys(self) -> tuple[str, ...]:
        return tuple(y for y in self.ys if y not in self.references)

    def label(self, key: Any) -> str:
        """Human words for a column name or a value: ``labels``, else the name with spaces."""
        if isinstance(key, bool):
            return self.labels.get(str(key), "yes" if key else "no")
        text = str(key)
        return self.labels.get(text, text.replace("_", " "))

    def columns(self) -> list[str]:
        """Every column the plot reads."""
        wanted = [*self.ys, *([self.x] if self.x else []), *([self.group] if self.group else []), *self.where]
        if self.ratio_to:
            wanted.append(self.ratio_to)
        if self.band_around:
            wanted += list(self.band_around)
        return wanted
