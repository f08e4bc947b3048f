"""Units of link settings: rates, times, loss and queue lengths, parsed and formatted.

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
"""
from __future__ import annotations

import math
import re
from typing import Any

from testbed.errors import UsageError
from testbed.model import values

ATTRS = ("bw", "delay", "jitter", "loss", "queue", "ecn")

RATE_MIN, RATE_MAX = 1_000, 100_000_000_000        # bit/s: 1 kbit/s .. 100 Gbit/s
TIME_MAX_US = 60_000_000                           # 60 s
QUEUE_MAX = 1_000_000
DEFAULT_QUEUE = 1000                               # packets: a veth's txqueuelen
FRAME = 1514                                       # bytes of a full Ethernet frame at MTU 1500

_RATE_UNITS = {"bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9, "tbit": 10**12}
_TIME_UNITS = {"us": 1, "ms": 1_000, "s": 1_000_000}
_NUMBER = r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_RATE_RE = re.compile(rf"^\s*{_NUMBER}\s*([a-z]*)(?:/s)?\s*$", re.IGNORECASE)
_TIME_RE = re.compile(rf"^\s*{_NUMBER}\s*([a-z]*)\s*$", re.IGNORECASE)


class SettingError(UsageError, ValueError):
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


_LOSS_CHECK = values.number(minimum=0, maximum=100)
_QUEUE_CHECK = values.number(minimum=1, maximum=QUEUE_MAX, integer=True)


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
