"""Link shaping: parse link settings and plan the qdiscs and drop rules of each interface.

Pure: nothing here touches the kernel. What the kernel can do arrives as ``features``, a
set of names from ``testbed.kernel.caps`` ("netem", "htb", "nft-netdev"); ``None`` means
a kernel with all of them (a stock distribution kernel).

Link attributes (Mininet's TCLink vocabulary, with exact meanings):

    bw      rate of the frames an end sends, in Mbit/s (a number) or a string with a
            unit: "100kbit", "20Mbit", "2Gbit" (bits per second; 1 kbit = 1000 bit).
            Counted like tc counts: whole Ethernet frames, headers included, so TCP
            goodput is about 1448/1514 = 95.6 % of it at MTU 1500.
    delay   one-way delay added to each direction: "10ms", "1.5ms", "100us", "1s";
            a bare number is milliseconds.
    jitter  uniform variation of that delay (+/- jitter; packets may be reordered);
            needs a delay.
    loss    percent of the frames an end sends that never arrive (0-100); a ping
            round trip over a link lossy both ways then loses 1 - (1 - p)^2.
    queue   packets that may wait for the link (the rate limiter's queue, tail drop).
    ecn     K, in packets: ECN marking at the rate limiter's queue, as DCTCP's switches do.
            A RED queue (instantaneous, not averaged: W = 1) marks every ECN-capable
            packet that finds K full frames (K x 1514 bytes) or more waiting, and drops
            one that is not ECN-capable there; the queue still holds ``queue`` packets'
            bytes at most (tail drop). Needs a bw in the same direction (the queue only
            builds where the rate limit is) and a kernel with RED (CONFIG_NET_SCH_RED).

Per direction: any of them may be a dict keyed by the link's node names, and the value
under a node applies to what that node sends; a node left out gets no such setting.
An asymmetric access link, 2 Mbit/s up and 10 down from the host's side:

    G.add_edge("h1", "s1", bw={"h1": 2, "s1": 10}, delay="5ms")

Mechanisms, per direction (interface x sending to its peer y):

    bw (+ queue)          x: htb root 1:, class 1:1 at the rate, pfifo 10: (limit queue)
    bw + ecn              x: the same with red 10: instead of the pfifo (bytes: limit
                          queue x 1514, min K x 1514, max one byte more, ecn)
    delay/jitter/loss     x: netem root 1: (when the kernel has netem); with bw the htb
                          tree hangs below it (netem 1: -> htb 2: -> class 2:1 -> pfifo 10:)
    loss without netem    y: nftables netdev ingress drop, ``numgen random`` (silent to the
                          sender, like loss on a wire; an egress drop would be reported to it)
    queue alone           x: pfifo root limit queue (matters only when x is the bottleneck)

Without netem, delay and jitter are refused before anything is built.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Collection, Iterable, Mapping

from testbed.topology import values as checks

ATTRS = ("bw", "delay", "jitter", "loss", "queue", "ecn")
ALL_FEATURES = frozenset({"netem", "htb", "nft-netdev", "red"})

RATE_MIN, RATE_MAX = 1_000, 100_000_000_000        # bit/s: 1 kbit/s .. 100 Gbit/s
TIME_MAX_US = 60_000_000                           # 60 s
QUEUE_MAX = 1_000_000
DEFAULT_QUEUE = 1000                               # packets: a veth's txqueuelen
FRAME = 1514                                       # bytes of a full Ethernet frame at MTU 1500
LOSS_SCALE = 1_000_000                             # nft: numgen random mod LOSS_SCALE < threshold

_RATE_UNITS = {"bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9, "tbit": 10**12}
_TIME_UNITS = {"us": 1, "ms": 1_000, "s": 1_000_000}
_NUMBER = r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_RATE_RE = re.compile(rf"^\s*{_NUMBER}\s*([a-z]*)(?:/s)?\s*$", re.IGNORECASE)
_TIME_RE = re.compile(rf"^\s*{_NUMBER}\s*([a-z]*)\s*$", re.IGNORECASE)


class SettingError(ValueError):
    """A link setting that cannot be understood; the message says what to write instead."""


# ---------------------------------------------------------------- units

def parse_rate(value: Any) -> int:
    """Bits per second of a bw value: a number of Mbit/s, or "100kbit", "20Mbit", "2Gbit"."""
    if isinstance(value, bool):
        raise SettingError(f"{value!r} is not a rate; give Mbit/s as a number (10) or a string like '20Mbit'")
    if isinstance(value, (int, float)):
        bits = value * 1e6
    elif isinstance(value, str):
        match = _RATE_RE.match(value)
        if not match:
            raise SettingError(f"{value!r} is not a rate; write e.g. 10 (Mbit/s), '100kbit', '20Mbit' or '2Gbit'")
        number, unit = float(match.group(1)), (match.group(2) or "mbit").lower()
        if unit not in _RATE_UNITS:
            if unit.endswith("ps") or unit.endswith("b") or unit.startswith("byte"):
                raise SettingError(f"{value!r}: {match.group(2)!r} is ambiguous (bits or bytes?); write the rate "
                                   f"in bits, e.g. '{match.group(1)}Mbit' (1 Mbit = 1,000,000 bit/s)")
            raise SettingError(f"{value!r}: unknown unit {match.group(2)!r}; use bit, kbit, Mbit or Gbit")
        bits = number * _RATE_UNITS[unit]
    else:
        raise SettingError(f"{value!r} is not a rate; give Mbit/s as a number (10) or a string like '20Mbit'")
    if not math.isfinite(bits) or bits < RATE_MIN or bits > RATE_MAX:
        raise SettingError(f"{value!r} is outside 1 kbit/s .. 100 Gbit/s")
    return round(bits)


def parse_time(value: Any) -> int:
    """Microseconds of a delay or jitter: "10ms", "1.5ms", "100us", "1s", or a number of ms."""
    if isinstance(value, bool):
        raise SettingError(f"{value!r} is not a time; write e.g. '10ms', '1.5ms', '100us' or '1s'")
    if isinstance(value, (int, float)):
        micros = value * 1000
    elif isinstance(value, str):
        match = _TIME_RE.match(value)
        if not match:
            raise SettingError(f"{value!r} is not a time; write e.g. '10ms', '1.5ms', '100us' or '1s'")
        unit = (match.group(2) or "ms").lower()
        if unit not in _TIME_UNITS:
            raise SettingError(f"{value!r}: unknown unit {match.group(2)!r}; use us, ms or s")
        micros = float(match.group(1)) * _TIME_UNITS[unit]
    else:
        raise SettingError(f"{value!r} is not a time; write e.g. '10ms', '1.5ms', '100us' or '1s'")
    if not math.isfinite(micros) or micros < 0 or micros > TIME_MAX_US:
        raise SettingError(f"{value!r} is outside 0 .. 60 s")
    if abs(micros - round(micros)) > 1e-6:
        raise SettingError(f"{value!r} is finer than a microsecond, the kernel's unit")
    return round(micros)


_LOSS_CHECK = checks.number(minimum=0, maximum=100)
_QUEUE_CHECK = checks.number(minimum=1, maximum=QUEUE_MAX, integer=True)


def parse_loss(value: Any) -> float:
    """Percent of frames lost: a number 0..100 (or a string like "10%")."""
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip().rstrip("%"))
        except ValueError:
            raise SettingError(f"{value!r} is not a loss; give a percentage like 10 or '0.5%'") from None
    error = _LOSS_CHECK(number) or (None if math.isfinite(number) else f"{value!r} is not a number")
    if error:
        raise SettingError(error)
    return float(number)


def parse_queue(value: Any) -> int:
    """Packets: an integer 1..1,000,000."""
    error = _QUEUE_CHECK(value)
    if error:
        raise SettingError(error)
    return value


PARSERS = {"bw": parse_rate, "delay": parse_time, "jitter": parse_time, "loss": parse_loss, "queue": parse_queue,
           "ecn": parse_queue}


def format_rate(bits: int) -> str:
    for unit, scale in (("Gbit", 10**9), ("Mbit", 10**6), ("kbit", 10**3)):
        if bits >= scale:
            return f"{bits / scale:g}{unit}"
    return f"{bits}bit"


def format_time(micros: int) -> str:
    return f"{micros / 1000:g}ms" if micros >= 1000 or micros == 0 else f"{micros}us"


# ---------------------------------------------------------------- settings per direction

@dataclass(frozen=True)
class Direction:
    """The settings of one direction of a link (what one end sends), parsed."""

    bw: int | None = None            # bit/s
    delay: int | None = None         # microseconds
    jitter: int | None = None        # microseconds
    loss: float | None = None        # percent
    queue: int | None = None         # packets
    ecn: int | None = None           # packets: the marking threshold K

    @property
    def empty(self) -> bool:
        return all(getattr(self, a) in (None, 0) for a in ATTRS)


def setting_problems(settings: Mapping[str, Any], ends: tuple[Any, Any]) -> list[tuple[str, str]]:
    """(what, fix) for every problem of a link's shaping settings; empty when they are fine."""
    problems: list[tuple[str, str]] = []
    for attr in ATTRS:
        if attr not in settings:
            continue
        value = settings[attr]
        if isinstance(value, Mapping):
            for end, one in value.items():
                if end not in ends:
                    problems.append((f"{attr!r} names {end!r}, which is not an end of this link",
                                     f"key it by {ends[0]!r} or {ends[1]!r} (the end that sends)"))
                    continue
                try:
                    PARSERS[attr](one)
                except SettingError as exc:
                    problems.append((f"{attr} of {end!r}: {exc}", ""))
        else:
            try:
                PARSERS[attr](value)
            except SettingError as exc:
                problems.append((f"{attr}: {exc}", ""))
    if not problems:
        for end in ends:
            d = direction(settings, end)
            if d.jitter and not d.delay:
                problems.append((f"jitter from {end!r} without a delay",
                                 "jitter varies a delay: set delay too, e.g. delay='10ms', jitter='2ms'"))
            if d.ecn and not d.bw:
                problems.append((f"ecn from {end!r} without a bw",
                                 "a queue to mark builds only behind a rate limit: set bw in the same direction"))
            if d.ecn and d.ecn >= (d.queue or DEFAULT_QUEUE):
                problems.append((f"ecn {d.ecn} from {end!r} is not below the queue ({d.queue or DEFAULT_QUEUE} packets)",
                                 "mark below the tail-drop limit: a smaller ecn or a larger queue"))
    return problems


def direction(settings: Mapping[str, Any], sender: Any) -> Direction:
    """The parsed settings of what ``sender`` sends over a link (settings must be valid)."""
    values: dict[str, Any] = {}
    for attr in ATTRS:
        value = settings.get(attr)
        if isinstance(value, Mapping):
            value = value.get(sender, value.get(str(sender)))
        if value is None:
            continue
        parsed = PARSERS[attr](value)
        if parsed:                                   # 0 means unset
            values[attr] = parsed
    return Direction(**values)


# ---------------------------------------------------------------- the plan of an interface

@dataclass(frozen=True)
class Qdisc:
    """One tc object on an interface's egress: a qdisc or (``object`` "class") an htb class.

    Units of ``options``: rate and bandwidth bit/s, burst and quantum bytes, delay and
    jitter microseconds, loss percent, limit packets (red: limit, min, max, avpkt bytes).
    """

    kind: str                                  # "htb", "pfifo", "netem", "red"
    handle: str                                # "1:" for a qdisc, "1:1" for a class
    parent: str                                # "root" or the class it hangs from
    options: tuple[tuple[str, Any], ...] = ()
    object: str = "qdisc"                      # "qdisc" or "class"

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)


@dataclass(frozen=True)
class Shaping:
    """What one interface gets: egress tc objects (in creation order) and an ingress drop."""

    qdiscs: tuple[Qdisc, ...] = ()
    ingress_loss: float | None = None          # percent dropped on arrival (nftables), no netem


def htb_burst(bits: int) -> int:
    """Bytes of credit: 1 ms at the rate, at least two full frames."""
    return max(2 * FRAME, bits // 8 // 1000)


def htb_quantum(bits: int) -> int:
    """Bytes per round (one class: only keeps the kernel's r2q warning away)."""
    return min(200_000, max(FRAME, bits // 8 // 10))


def netem_limit(d: Direction) -> int:
    """Packets netem may hold: the queue alone, or (with htb below) the delay line as well."""
    if not d.bw:
        return d.queue or DEFAULT_QUEUE
    line = math.ceil(d.bw * ((d.delay or 0) + (d.jitter or 0)) / 1e6 / 8 / FRAME)
    return max(DEFAULT_QUEUE, 4 * line)


def egress_qdiscs(d: Direction, netem: bool) -> tuple[Qdisc, ...]:
    """The tc objects an interface needs on egress for direction ``d``."""
    uses_netem = bool(d.delay or d.jitter or (d.loss and netem))
    result: list[Qdisc] = []
    major = 1
    if uses_netem:
        opts: list[tuple[str, Any]] = []
        if d.delay:
            opts.append(("delay", d.delay))
        if d.jitter:
            opts.append(("jitter", d.jitter))
        if d.loss and netem:
            opts.append(("loss", d.loss))
        opts.append(("limit", netem_limit(d)))
        result.append(Qdisc("netem", "1:", "root", tuple(opts)))
        major = 2
    if d.bw:
        parent = "1:1" if uses_netem else "root"
        result.append(Qdisc("htb", f"{major}:", parent, (("default", 1),)))
        result.append(Qdisc("htb", f"{major}:1", f"{major}:", (
            ("rate", d.bw), ("ceil", d.bw), ("burst", htb_burst(d.bw)), ("cburst", htb_burst(d.bw)),
            ("quantum", htb_quantum(d.bw))), object="class"))
        result.append(red_queue(d, f"{major}:1") if d.ecn else
                      Qdisc("pfifo", "10:", f"{major}:1", (("limit", d.queue or DEFAULT_QUEUE),)))
    elif d.queue and not uses_netem:
        result.append(Qdisc("pfifo", "10:", "root", (("limit", d.queue),)))
    return tuple(result)


def red_queue(d: Direction, parent: str) -> Qdisc:
    """The marking queue of ``ecn``: RED on the instantaneous backlog, thresholds in whole frames."""
    return Qdisc("red", "10:", parent, (
        ("limit", (d.queue or DEFAULT_QUEUE) * FRAME), ("min", d.ecn * FRAME), ("max", d.ecn * FRAME + 1),
        ("avpkt", FRAME), ("bandwidth", d.bw), ("wlog", 0), ("probability", 1.0), ("ecn", True)))


def plan_link(settings: Mapping[str, Any], a: tuple[str, str], b: tuple[str, str],
              features: Collection[str] | None = None) -> dict[tuple[str, str], Shaping]:
    """(node, ifname) -> Shaping for both ends of one link (settings must be valid)."""
    feats = ALL_FEATURES if features is None else frozenset(features)
    netem = "netem" in feats
    egress: dict[tuple[str, str], tuple[Qdisc, ...]] = {}
    ingress: dict[tuple[str, str], float | None] = {a: None, b: None}
    for sender, receiver in ((a, b), (b, a)):
        d = direction(settings, sender[0])
        egress[sender] = egress_qdiscs(d, netem)
        if d.loss and not netem:
            ingress[receiver] = d.loss
    return {end: Shaping(egress[end], ingress[end]) for end in (a, b)
            if egress[end] or ingress[end] is not None}


# ---------------------------------------------------------------- what the kernel cannot do

def needs(settings: Mapping[str, Any], ends: Iterable[str]) -> dict[str, set[str]]:
    """feature -> the settings that need it, for one link (given the kernel lacks netem)."""
    wanted: dict[str, set[str]] = {}
    for end in ends:
        d = direction(settings, end)
        for attr in ("delay", "jitter"):
            if getattr(d, attr):
                wanted.setdefault("netem", set()).add(attr)
        if d.bw:
            wanted.setdefault("htb", set()).add("bw")
        if d.loss:
            wanted.setdefault("loss", set()).add("loss")
        if d.ecn:
            wanted.setdefault("red", set()).add("ecn")
    return wanted


def unsupported(links: Iterable[tuple[str, Mapping[str, Any], tuple[str, str]]],
                features: Collection[str] | None) -> str | None:
    """A refusal message naming every link that asks for what the kernel lacks, or None.

    ``links`` holds (label, settings, (end node, end node)) of each link.
    """
    if features is None:
        return None
    feats = frozenset(features)
    missing: dict[str, list[str]] = {}
    for label, settings, ends in links:
        for feature, attrs in needs(settings, ends).items():
            if feature == "loss":
                if "netem" in feats or "nft-netdev" in feats:
                    continue
                feature = "netem or nftables netdev"
            elif feature in feats:
                continue
            missing.setdefault(feature, []).append(f"{label} ({', '.join(sorted(attrs))})")
    if not missing:
        return None
    lines = []
    for feature, where in missing.items():
        lines.append(f"this kernel has no {feature}, needed by: {'; '.join(where)}")
    settings = sorted({a.strip() for ws in missing.values() for w in ws
                       for a in w[w.rindex("(") + 1:-1].split(",")})
    lines.append("two ways out: run it on a stock kernel in a VM with `testbed run --vm ...`, "
                 f"or drop the {'/'.join(settings)} setting(s) from those links "
                 "(`testbed doctor` shows what this kernel can do)")
    return "\n".join(lines)


def used(graph: Any) -> bool:
    """Whether any link of a networkx graph has a shaping setting (then the kernel is probed)."""
    return any(attr in data for *_, data in graph.edges(data=True) for attr in ATTRS)
