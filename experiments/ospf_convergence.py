"""How long traffic stops when a link of an OSPF ring fails: the dead interval, BFD, or at once.

Topology topologies/ospf_ring.py with five routers (h<i> behind r<i>): h1 -> h3 goes
r1 - r2 - r3 (cost 20) rather than the other way round (cost 30). A 100 packets/s ping
stream runs h1 -> h3 while the link r2 - r3 fails and, once traffic flows around the ring,
comes back. The outage is read from the stream: the time between the last reply before
the event and the first one after it (minus one interval), from ping's own timestamps.

Two kinds of failure: ``carrier`` (the link goes down: both routers see their interface
go down and react at once) and ``silent`` (both ends keep their carrier but drop every
frame, like a cable cut behind a media converter: OSPF notices only when hellos stop for
its dead interval, BFD after its detection time of 3 x 200 ms). Claims:
- silent, with BFD: outage <= 1 s;
- silent, without BFD: dead - hello - 0.25 s <= outage <= dead + SPF delay (0 s) + 1 s;
- carrier loss: outage <= 1 s, whatever the timers;
- the link coming back: outage <= 1 s.

``--param ipv6=true`` runs the same over an IPv6 ring routed by OSPFv3 (the stream pings
h3's IPv6 address).
"""
from __future__ import annotations

import re
import subprocess
import threading
import time

from testbed import Plot, skip, traffic

TOPOLOGY = "topologies/ospf_ring.py"
PARAMS = {"n": 5, "hosts": 1, "hello": 1, "interval": 0.01}
RUN_PARAMS = {"interval": "seconds between the stream's pings (0.01: 100 packets/s)",
              "failure": "how the link fails: 'carrier' (down) or 'silent' (frames dropped, carrier up)"}
GRID = {"failure": ["silent", "carrier"], "dead": [4, 8], "bfd": [False, True]}
REPEAT = 3
TABLE = ["outage_s", "lost"]

SPF_DELAY = 0.0                  # s: the initial SPF delay the generated configs set (timers throttle spf 0 ...)
RECOVERY_TIMEOUT = 30.0          # s beyond the dead interval to wait for traffic to flow again
_REPLY = re.compile(r"^\[(\d+\.\d+)\].*icmp_seq=(\d+)")


class Stream:
    """A ping stream from ``node`` to ``address``: the arrival time of every reply, by sequence number."""

    def __init__(self, node, address: str, interval: float):
        self.node, self.interval = node, interval
        self.replies: dict[int, float] = {}
        self.proc = node.popen(["ping", "-n", "-D", "-i", f"{interval:g}", "-W", "1", address],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            found = _REPLY.match(line)
            if found:
                self.replies.setdefault(int(found.group(2)), float(found.group(1)))

    def flowing_since(self, after: float, count: int = 10) -> bool:
        """Whether ``count`` consecutive replies arrived after time ``after``."""
        seqs = sorted(s for s, t in list(self.replies.items()) if t > after)
        run = 1
        for a, b in zip(seqs, seqs[1:]):
            run = run + 1 if b == a + 1 else 1
            if run >= count:
                return True
        return count <= 1 and bool(seqs)

    def wait_flowing(self, after: float, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.flowing_since(after):
                return True
            time.sleep(0.05)
        return False

    def outage(self, event: float, window: float) -> tuple[float, int]:
        """(seconds without replies, pings lost) in the largest gap that begins within
        [event - 0.5 s, event + window]; (0, 0) when the stream never stopped."""
        items = sorted(self.replies.items())
        best = (0.0, 0)
        for (s1, t1), (s2, t2) in zip(items, items[1:]):
            if s2 > s1 + 1 and event - 0.5 <= t1 <= event + window:
                best = max(best, (max(0.0, t2 - t1 - self.interval), s2 - s1 - 1))
        return best

    def stop(self) -> None:
        traffic.stop(self.node, self.proc, grace=0)
        self.reader.join(timeout=5)


def run(net, params):
    net.converge()
    silent = params["failure"] == "silent"
    stream = Stream(net["h1"], net["h3"].ip, params["interval"])
    rows = []
    try:
        if not stream.wait_flowing(0.0, 10):
            raise RuntimeError("the ping stream h1 -> h3 never started flowing")
        down = time.time()
        net.link_down("r2", "r3", silent=silent)
        recovered = stream.wait_flowing(down + 0.05, params["dead"] + RECOVERY_TIMEOUT)
        net.converge()                                  # the routes as they are with r2 - r3 down
        rows.append(_row(stream, "down", down, params, recovered))
        up = time.time()
        net.link_up("r2", "r3")
        net.converge()                                  # back on the short path
        recovered = stream.wait_flowing(time.time(), 10)
        rows.append(_row(stream, "up", up, params, recovered))
    finally:
        stream.stop()
    return rows


def _row(stream: Stream, event: str, when: float, params, recovered: bool) -> dict:
    outage, lost = stream.outage(when, params["dead"] + RECOVERY_TIMEOUT)
    if params["failure"] == "carrier":
        detection = "carrier loss"
    else:
        detection = "BFD" if params["bfd"] else "dead interval"
    return {"event": event, "detection": detection, "outage_s": round(outage, 3), "lost": lost,
            "recovered": recovered, "dead_s": float(params["dead"]), "replies": len(stream.replies)}


def _rows(results, **where):
    return results.where(**where).rows


def _verdict(rows, ok, describe) -> tuple[bool, str]:
    wrong = [r for r in rows if not ok(r)]
    if not rows:
        return skip("no such runs in these results")
    text = ", ".join(f"{r['outage_s']:.2f} s" for r in rows)
    return not wrong, (f"{describe}: {text}" if not wrong else
                       f"{describe}, but {len(wrong)} of {len(rows)} runs were not: {text}")


def bfd_is_fast(results):
    """A silent failure with BFD stops traffic for at most 1 s."""
    rows = _rows(results, event="down", failure="silent", bfd=True)
    return _verdict(rows, lambda r: r["recovered"] and r["outage_s"] <= 1.0, "outages with BFD <= 1 s")


def dead_interval_bounds(results):
    """Without BFD a silent failure stops traffic for about the dead interval: between dead - hello and dead + 1 s."""
    rows = _rows(results, event="down", failure="silent", bfd=False)
    return _verdict(rows, lambda r: r["recovered"] and r["dead_s"] - r["hello"] - 0.25 <= r["outage_s"]
                    <= r["dead_s"] + SPF_DELAY + 1.0, "outages within [dead - hello - 0.25, dead + 1] s")


def carrier_loss_is_fast(results):
    """When the link loses its carrier, traffic stops for at most 1 s, whatever the timers."""
    rows = _rows(results, event="down", failure="carrier")
    return _verdict(rows, lambda r: r["recovered"] and r["outage_s"] <= 1.0, "outages on carrier loss <= 1 s")


def restoring_is_fast(results):
    """The link coming back stops traffic for at most 1 s."""
    rows = _rows(results, event="up")
    return _verdict(rows, lambda r: r["recovered"] and r["outage_s"] <= 1.0, "outages when the link returns <= 1 s")


CHECKS = [bfd_is_fast, dead_interval_bounds, carrier_loss_is_fast, restoring_is_fast]
PLOTS = [
    Plot("outage", y="outage_s", x="dead", group="detection", kind="line", where={"event": "down"},
         identity=True, unit="s", x_unit="s", xlabel="OSPF dead interval", ylabel="traffic outage",
         labels={"detection": "failure detected by"}, title="Outage after a link failure in an OSPF ring",
         caption="h1 -> h3 at 100 packets/s; hello 1 s; BFD 3 x 200 ms; dotted: outage = dead interval"),
    Plot("outage_up", y="outage_s", x="detection", group="dead", where={"event": "up"}, unit="s",
         xlabel="how the link had failed", ylabel="traffic outage", legend="dead interval (s)",
         title="Outage when the link comes back"),
]
