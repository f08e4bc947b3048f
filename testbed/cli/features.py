"""``testbed counters RUN_ID NODE``: the drop counters of a running network's concerns.

Shows, for a switch, each port's port-security and DHCP-snooping drops; for a NAT, the
packets it masqueraded, forwarded in and blocked inbound. Read from the node's namespace
(an Open vSwitch switch: from its drop flows), so it works from another terminal while
``testbed run`` holds the network.
"""
from __future__ import annotations

import argparse
import json
import os

from testbed import backends, concerns
from testbed.concerns.portsec.nft import COUNTER_MEANING
from testbed.deploy.context import netns_name
from testbed.errors import RunNotFound, UsageError
from testbed.kernel import nsfs
from testbed.kernel.journal import Journal, run_dir


def cmd_counters(args: argparse.Namespace) -> int:
    if not os.path.isdir(run_dir(args.run_id)):
        raise RunNotFound(f"no run {args.run_id!r}; see `testbed list`")
    netns = netns_name(args.run_id, args.node)
    if not nsfs.exists(netns):
        raise UsageError(f"run {args.run_id} has no node {args.node!r} (no namespace {netns})")
    found = concerns.status_of(netns)
    journal = Journal.open(args.run_id)
    for backend in backends.REGISTRY.values():
        found.update(backend.status(journal, args.node))
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    if not found:
        print(f"{args.node}: no port security, DHCP snooping or NAT rules")
    for port, values in sorted(found.get("ports", {}).items()):
        text = ", ".join(f"{what} {n}" for what, n in values.items())
        print(f"{args.node} {port}: dropped {text}")
    if "ports" in found:
        print("  " + "; ".join(f"{k}: {v}" for k, v in COUNTER_MEANING.items()))
    for name, packets in found.get("nat", {}).items():
        print(f"{args.node} nat {name}: {packets} packets")
    return 0


def add_parsers(sub) -> None:
    p = sub.add_parser("counters", help="drop counters of a running network's switch ports or NAT")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("node", metavar="NODE", help="a switch (port security, DHCP snooping) or a nat node")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_counters)
