#!/usr/bin/env python3
"""A tree of Linux bridges (depth, fanout), built, optionally pinged all-pairs, and stopped.

The same file runs under Mininet (``python3 tree.py``) and under ``testbed mn tree.py``;
it prints one JSON line: the phases' times and pingAll's loss. Like Mininet's
treeping64.py (depth 2, fanout 8) and tree1024.py (depth 2, fanout 32), with Linux bridges
so that both run on a kernel without the Open vSwitch module and with no controller.
"""
import argparse
import json
import time

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.nodelib import LinuxBridge
from mininet.topolib import TreeTopo


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--fanout", type=int, default=8)
    parser.add_argument("--pingall", action="store_true")
    parser.add_argument("--log", default="warning", help="Mininet's log level")
    args = parser.parse_args()
    setLogLevel(args.log)
    began = time.perf_counter()
    net = Mininet(topo=TreeTopo(depth=args.depth, fanout=args.fanout), switch=LinuxBridge, controller=None)
    net.start()
    started = time.perf_counter()
    loss = net.pingAll() if args.pingall else None
    pinged = time.perf_counter()
    net.stop()
    stopped = time.perf_counter()
    print(json.dumps({"hosts": len(net.hosts), "build": started - began, "ping": pinged - started,
                      "stop": stopped - pinged, "loss": loss}))


if __name__ == "__main__":
    main()
