"""Subcommands about the testbeds on this machine: list, clean, dpctl, counters.

Every one names a run the same way, ``--run RUN_ID`` (the ids `testbed list` shows);
``dpctl`` and ``counters`` take the node first and may leave the run out when exactly one
running testbed has that node. ``clean RUN_ID`` (the run is what it removes) and the older
``counters RUN_ID NODE`` keep working.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from typing import Callable

from testbed.kernel.journal import RUNS_DIR, Journal, all_runs, run_dir
from testbed.errors import RunNotFound, UsageError

EXIT_OK, EXIT_CHECK = 0, 1
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
RUN_HELP = "the run, as `testbed list` shows it (default: the only running testbed that has NODE)"


def open_run(run_id: str) -> Journal:
    """The journal of run ``run_id``, or RunNotFound naming where to look."""
    if not RUN_ID_RE.match(run_id) or not os.path.isdir(run_dir(run_id)):
        raise RunNotFound(f"no run {run_id!r} under {RUNS_DIR}; see `testbed list`")
    return Journal.open(run_id)


def pick_run(run_id: str | None, node: str, has_node: Callable[[Journal], bool], what: str) -> Journal:
    """The run given with --run, else the only one whose ``has_node`` is true."""
    if run_id:
        run = open_run(run_id)
        if not has_node(run):
            raise UsageError(f"run {run_id} has no {what} {node!r}; see `testbed list`")
        return run
    runs = [r for r in all_runs() if has_node(r)]
    if not runs:
        raise UsageError(f"no run has {what} {node!r}; see `testbed list`")
    if len(runs) > 1:
        raise UsageError(f"several runs have {what} {node!r} ({', '.join(r.run_id for r in runs)}): "
                         "pick one with --run RUN_ID")
    return runs[0]


# ---------------------------------------------------------------- list, clean

def cmd_list(args: argparse.Namespace) -> int:
    runs = all_runs()
    if args.json:
        print(json.dumps([dict(r.meta(), alive=r.owner_alive(), objects=len(r.entries())) for r in runs],
                         indent=2, default=str))
        return EXIT_OK
    if not runs:
        print("no testbed runs")
        return EXIT_OK
    print(f"{'RUN':10} {'STATE':8} {'PID':>8} {'NODES':>6} {'AGE':>8}  SOURCE")
    for run in runs:
        meta = run.meta()
        age = time.time() - meta.get("created", time.time())
        state = "running" if run.owner_alive() else "crashed"
        print(f"{run.run_id:10} {state:8} {meta.get('pid', '?'):>8} {meta.get('nodes', '?'):>6} "
              f"{age:>7.0f}s  {meta.get('source', '?')}")
    return EXIT_OK


def cmd_clean(args: argparse.Namespace) -> int:
    from testbed.deploy.teardown import teardown
    if args.run_id and args.run and args.run_id != args.run:
        raise UsageError(f"clean {args.run_id} --run {args.run}: name the run once")
    run_id = args.run_id or args.run
    if args.all == bool(run_id):
        raise UsageError("give a RUN_ID or --all (see `testbed list`)")
    runs = [open_run(run_id)] if run_id else all_runs()
    status = EXIT_OK
    for run in runs:
        if run.owner_alive() and not args.force:
            if args.all:                   # --all means the runs whose owner is gone: not an error
                print(f"{run.run_id}: skipped, still running (process {run.meta().get('pid')})", file=sys.stderr)
                continue
            print(f"{run.run_id}: still owned by running process {run.meta().get('pid')}; "
                  "stop it, or use --force", file=sys.stderr)
            status = EXIT_CHECK
            continue
        counts = teardown(run)
        print(f"{run.run_id}: removed {counts['netns']} namespaces, {counts['dir']} /etc/netns folders, "
              f"stopped {counts['process']} processes")
    return status


# ---------------------------------------------------------------- dpctl, counters

def cmd_dpctl(args: argparse.Namespace) -> int:
    from testbed import backends

    def flows(run: Journal) -> str | None:
        found = [f for b in backends.REGISTRY.values()
                 for f in [b.flows_in_run(run, args.switch, args.datapath)] if f is not None]
        return found[0] if found else None
    run = pick_run(args.run, args.switch, lambda r: flows(r) is not None,
                   "a switch with a flow table (an Open vSwitch switch)")
    print(flows(run), end="")
    return EXIT_OK


def _counters_target(args: argparse.Namespace) -> tuple[str | None, str]:
    """(run id or None, node) from ``counters NODE [--run ID]`` or the older ``counters RUN_ID NODE``."""
    if len(args.names) == 1:
        return args.run, args.names[0]
    if len(args.names) == 2:
        if args.run:
            raise UsageError(f"counters {' '.join(args.names)} --run {args.run}: name the run once: "
                             f"`testbed counters {args.names[1]} --run {args.run}`")
        return args.names[0], args.names[1]
    raise UsageError("usage: testbed counters NODE [--run RUN_ID]")


def cmd_counters(args: argparse.Namespace) -> int:
    from testbed import backends, concerns
    from testbed.concerns.portsec.nft import COUNTER_MEANING
    from testbed.deploy.context import netns_name
    from testbed.kernel import nsfs
    run_id, node = _counters_target(args)
    run = pick_run(run_id, node, lambda r: nsfs.exists(netns_name(r.run_id, node)), "a node")
    found = concerns.status_of(netns_name(run.run_id, node))
    for backend in backends.REGISTRY.values():     # e.g. an Open vSwitch switch: its drop flows
        found.update(backend.status(run, node))
    if args.json:
        print(json.dumps(found, indent=2))
        return EXIT_OK
    if not found:
        print(f"{node}: no port security, DHCP snooping or NAT rules")
    for port, values in sorted(found.get("ports", {}).items()):
        text = ", ".join(f"{what} {n}" for what, n in values.items())
        print(f"{node} {port}: dropped {text}")
    if "ports" in found:
        print("  " + "; ".join(f"{k}: {v}" for k, v in COUNTER_MEANING.items()))
    for name, packets in found.get("nat", {}).items():
        print(f"{node} nat {name}: {packets} packets")
    return EXIT_OK


def add_parsers(sub) -> None:
    """Register list, clean, dpctl and counters on the main parser's subparsers."""
    p = sub.add_parser("list", help="list testbed runs on this machine")
    p.add_argument("--json", action="store_true", help="print the runs as JSON")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("clean", help="remove what a crashed run left, from its journal")
    p.add_argument("run_id", nargs="?", metavar="RUN_ID", help="the run to remove (see `testbed list`)")
    p.add_argument("--run", metavar="RUN_ID", help="the same as RUN_ID")
    p.add_argument("--all", action="store_true", help="every run whose owner is gone")
    p.add_argument("--force", action="store_true", help="also runs whose owner is still alive")
    p.set_defaults(func=cmd_clean)

    p = sub.add_parser("dpctl", help="dump an Open vSwitch switch's flows in a running network")
    p.add_argument("switch", metavar="SWITCH", help="the switch node, e.g. s1")
    p.add_argument("--run", metavar="RUN_ID", help=RUN_HELP.replace("NODE", "SWITCH"))
    p.add_argument("--datapath", action="store_true", help="the datapath's flows, not the OpenFlow table")
    p.set_defaults(func=cmd_dpctl)

    p = sub.add_parser("counters", help="drop counters of a running network's switch ports or NAT",
                       usage="testbed counters [-h] [--run RUN_ID] [--json] NODE   (or: counters RUN_ID NODE)")
    p.add_argument("names", nargs="+", metavar="NODE",
                   help="a switch (port security, DHCP snooping) or a nat node; "
                        "`counters RUN_ID NODE` is accepted too")
    p.add_argument("--run", metavar="RUN_ID", help=RUN_HELP)
    p.add_argument("--json", action="store_true", help="print the counters as JSON")
    p.set_defaults(func=cmd_counters)
