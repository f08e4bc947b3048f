"""The numbers behind a plot (no matplotlib): series with error bars, units, captions.

Error bars: mean ± 1 s.d. for fewer than BOOTSTRAP_FROM runs; from BOOTSTRAP_FROM on, a 95 %
bootstrap confidence interval of the mean (percentile method, a fixed seed, so the same
results always give the same picture).
"""
from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass, field
from typing import Any, Sequence

from testbed.lab.plotspec import Plot
from testbed.lab.results import Results, is_number

BOOTSTRAP_FROM = 5
BOOTSTRAP_SAMPLES = 2000

# unit -> (its ladder of prefixes, the step between them); the spec names the base unit it stores.
LADDERS: dict[str, tuple[tuple[str, ...], float]] = {
    "bit/s": (("bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"), 1000.0),
    "bytes": (("bytes", "kB", "MB", "GB", "TB"), 1000.0),
    "s": (("ns", "µs", "ms", "s"), 1000.0),
}
ALIASES = {"kbit/s": ("bit/s", 1), "Mbit/s": ("bit/s", 2), "Gbit/s": ("bit/s", 3), "B": ("bytes", 0),
           "kB": ("bytes", 1), "MB": ("bytes", 2), "GB": ("bytes", 3), "ms": ("s", 2), "µs": ("s", 1),
           "us": ("s", 1), "ns": ("s", 0)}


def scale(unit: str, values: Sequence[float], log: bool = False) -> tuple[float, str]:
    """(factor, unit) that puts the largest |value| between 1 and 1000 on the unit's ladder
    (on a log axis: the smallest, so that no value needs a negative power).

    ``scale("Mbit/s", [20000])`` -> (0.001, "Gbit/s"); units off a ladder ("%", "frames")
    are left alone.
    """
    if unit in ALIASES:
        base, start = ALIASES[unit]
    elif unit in LADDERS:
        base, start = unit, LADDERS[unit][0].index(unit)
    else:
        return 1.0, unit
    ladder, step = LADDERS[base]
    finite = [abs(v) for v in values if is_number(v) and math.isfinite(v) and v != 0]
    if not finite:
        return 1.0, unit
    top = min(finite) if log else max(finite)
    rung = start
    while top * step ** (start - rung) >= 1000 and rung + 1 < len(ladder):
        rung += 1
    while top * step ** (start - rung) < 1 and rung > 0:
        rung -= 1
    return step ** (start - rung), ladder[rung]


def error_bar(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, lower, upper) of some runs: ± 1 s.d., or a 95 % bootstrap CI from BOOTSTRAP_FROM runs."""
    values = [v for v in values if is_number(v)]
    if not values:
        return math.nan, math.nan, math.nan
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, mean, mean
    if len(values) < BOOTSTRAP_FROM:
        sd = statistics.stdev(values)
        return mean, mean - sd, mean + sd
    rng = random.Random(0)
    means = sorted(statistics.fmean(rng.choices(values, k=len(values))) for _ in range(BOOTSTRAP_SAMPLES))
    return mean, means[int(0.025 * BOOTSTRAP_SAMPLES)], means[int(0.975 * BOOTSTRAP_SAMPLES) - 1]


def error_bar_caption(counts: Sequence[int]) -> str:
    """What the error bars are, e.g. "error bars: mean ± 1 s.d., n = 3"."""
    counts = sorted(set(c for c in counts if c))
    if not counts or counts[-1] < 2:
        return "one run per point (no error bars)"
    n = str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    if counts[0] >= BOOTSTRAP_FROM:
        return f"error bars: 95 % bootstrap CI of the mean, n = {n}"
    if counts[-1] >= BOOTSTRAP_FROM:
        return f"error bars: mean ± 1 s.d. (n < {BOOTSTRAP_FROM}) or 95 % bootstrap CI, n = {n}"
    return f"error bars: mean ± 1 s.d., n = {n}"


@dataclass
class Series:
    label: str
    means: list[float]
    lower: list[float]
    upper: list[float]
    counts: list[int]
    reference: bool = False


@dataclass
class Data:
    xs: list[Any]
    series: list[Series] = field(default_factory=list)
    unit: str = ""
    factor: float = 1.0
    bands: list[tuple[list[float], list[float]]] = field(default_factory=list)   # per x: (low, high)

    @property
    def counts(self) -> list[int]:
        return [n for s in self.series if not s.reference for n in s.counts]


def _value(spec: Plot, row: dict, column: str) -> float | None:
    value = row.get(column)
    if not is_number(value):
        return None
    if spec.ratio_to and column not in spec.references:
        base = row.get(spec.ratio_to)
        return value / base if is_number(base) and base else None
    return value


def xy_data(spec: Plot, results: Results) -> Data:
    """Means and error bars per x and series (group value, or y column when there are several)."""
    rows = results.where(**dict(spec.where))
    xs = rows.unique(spec.x)
    if all(is_number(x) for x in xs):
        xs = sorted(xs)
    groups = rows.by(spec.group) if spec.group else {None: rows}
    data = Data(xs)
    for gvalue, grows in groups.items():
        for y in spec.ys:
            parts = [spec.label(gvalue) if spec.group else None, spec.label(y) if len(spec.ys) > 1 else None]
            label = " – ".join(p for p in parts if p) or spec.label(y)
            means, lower, upper, counts = [], [], [], []
            for x in xs:
                values = [v for r in grows.where(**{spec.x: x}) if (v := _value(spec, r, y)) is not None]
                mean, lo, hi = error_bar(values)
                means.append(mean)
                lower.append(lo)
                upper.append(hi)
                counts.append(len(values))
            data.series.append(Series(label, means, lower, upper, counts, reference=y in spec.references))
    if spec.band_around:
        centre, half = spec.band_around
        low, high = [], []
        for x in xs:
            at = rows.where(**{spec.x: x})
            c = [v for v in at.values(centre) if is_number(v)]
            h = [v for v in at.values(half) if is_number(v)]
            mc, mh = (statistics.fmean(c), statistics.fmean(h)) if c and h else (math.nan, math.nan)
            low.append(mc - mh)
            high.append(mc + mh)
        data.bands.append((low, high))
    everything = [v for s in data.series for v in (*s.means, *s.upper)] + \
        [v for lo, hi in data.bands for v in (*lo, *hi)] + list(spec.band or ())
    data.factor, data.unit = scale(spec.unit, everything, log=spec.logy) if not spec.ratio_to else (1.0, spec.unit)
    if data.factor != 1.0:
        for s in data.series:
            s.means, s.lower, s.upper = ([v * data.factor for v in vs] for vs in (s.means, s.lower, s.upper))
        data.bands = [([v * data.factor for v in lo], [v * data.factor for v in hi]) for lo, hi in data.bands]
    return data


def series_values(value: Any) -> list[float]:
    """The values of a per-interval series [[t, v], ...] (or of a plain list, or a scalar)."""
    if is_number(value):
        return [value]
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            if isinstance(item, (list, tuple)) and len(item) >= 2 and is_number(item[1]):
                out.append(item[1])
            elif is_number(item):
                out.append(item)
        return out
    return []


def timeseries(spec: Plot, results: Results) -> list[tuple[str, list[list[tuple[float, float]]]]]:
    """Per group: one [(t, value), ...] line per run."""
    rows = results.where(**dict(spec.where))
    groups = rows.by(spec.group) if spec.group else {None: rows}
    out = []
    for gvalue, grows in groups.items():
        lines = []
        for row in grows:
            points = [(float(i[0]), float(i[1])) for i in row.get(spec.ys[0]) or []
                      if isinstance(i, (list, tuple)) and len(i) >= 2 and is_number(i[0]) and is_number(i[1])]
            if points:
                lines.append(points)
        out.append((spec.label(gvalue) if spec.group else spec.label(spec.ys[0]), lines))
    return out


def cdf(spec: Plot, results: Results) -> list[tuple[str, list[float], list[float]]]:
    """Per group: sorted values and their cumulative fractions."""
    rows = results.where(**dict(spec.where))
    groups = rows.by(spec.group) if spec.group else {None: rows}
    out = []
    for gvalue, grows in groups.items():
        values = sorted(v for row in grows for y in spec.ys for v in series_values(row.get(y)))
        fractions = [(i + 1) / len(values) for i in range(len(values))]
        out.append((spec.label(gvalue) if spec.group else spec.label(spec.ys[0]), values, fractions))
    return out
