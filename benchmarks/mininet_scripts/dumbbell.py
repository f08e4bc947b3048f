#!/usr/bin/env python3
"""A shaped dumbbell: two hosts each side of a bottleneck link, TCP through it with iperf3.

The same file runs under Mininet (``python3 dumbbell.py``) and under ``testbed mn
dumbbell.py``; it prints one JSON line: the phases' times, pingAll's loss and the rates
(Mbit/s, as the receiver counted them) from a left to a right host, then between the
other two. It runs iperf3 itself: Mininet 2.3.0's ``net.iperf`` waits for a second server
report that iperf 2.1 (Debian 12) never prints, so it never returns there.
"""
import argparse
import json
import re
import time

from mininet.link import TCLink
from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.nodelib import LinuxBridge
from mininet.topo import Topo


class Dumbbell(Topo):
    def build(self, bw=10, edge=100):
        left, right = self.addSwitch("s1"), self.addSwitch("s2")
        self.addLink(left, right, bw=bw)
        for i, side in ((1, left), (2, left), (3, right), (4, right)):
            self.addLink(self.addHost(f"h{i}"), side, bw=edge)


def rate(client, server, seconds):
    """TCP from client to server for seconds: the receiver's rate in Mbit/s."""
    listener = server.popen(["iperf3", "-s", "-1"])
    try:
        for _ in range(200):                   # until the server accepts (each try fails at once)
            out = client.cmd(f"iperf3 -f m -t {seconds} -c {server.IP()}")
            found = re.findall(r"([\d.]+) Mbits/sec.*receiver", out)
            if found:
                return float(found[-1])
            if "refused" not in out:
                raise RuntimeError(out)
        raise RuntimeError(f"iperf3 -s in {server} never listened")
    finally:
        listener.terminate()
        listener.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bw", type=float, default=10)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--log", default="warning", help="Mininet's log level")
    args = parser.parse_args()
    setLogLevel(args.log)
    began = time.perf_counter()
    net = Mininet(topo=Dumbbell(bw=args.bw), switch=LinuxBridge, link=TCLink, controller=None)
    net.start()
    started = time.perf_counter()
    loss = net.pingAll()
    rates = [rate(net[a], net[b], args.seconds) for a, b in (("h1", "h3"), ("h2", "h4"))]
    measured = time.perf_counter()
    net.stop()
    stopped = time.perf_counter()
    print(json.dumps({"build": started - began, "measure": measured - started, "stop": stopped - measured,
                      "loss": loss, "iperf": rates}))


if __name__ == "__main__":
    main()
