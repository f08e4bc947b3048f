"""testbed's command line (``testbed --help`` lists every subcommand).

Exit codes, for every subcommand: 0 success; 1 a check failed; 2 invalid input;
3 the environment cannot do it (not root, a missing tool or kernel feature); for
``experiment`` and ``report`` also 4 nothing was checked (every claim was skipped) and
5 the experiment's run() raised (traceback printed, what was measured kept).
"""
from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import textwrap
import time
from typing import Callable, Sequence

from testbed import __version__
from testbed.cli import experiments as experiment_commands
from testbed.cli import runs as run_commands
from testbed.cli import vmrun
from testbed.errors import TestbedError, UsageError
from testbed.topology import load as loader

EXIT_OK, EXIT_CHECK, EXIT_INPUT, EXIT_ENV = 0, 1, 2, 3
TESTS: dict[str, Callable] = {}
KNOWN_TESTS = (None, "none", "pingall", "pingallfull", "ping", "iperf")


MAX_COUNT = 100_000                 # pings
MAX_SECONDS = 86_400                # a day of traffic


def bounded(kind: type, low: float, high: float):
    """An argparse type: a finite ``kind`` between ``low`` and ``high``, or a message saying so."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is outside {low:g}..{high:g}")
        return value
    parse.__name__ = kind.__name__
    return parse


class Terminated(BaseException):
    """SIGTERM arrived: unwind and tear down like Ctrl-C."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def add_topology_args(parser: argparse.ArgumentParser, build: bool = True) -> None:
    """The topology's source (FILE with --param, or --topo/--custom); with ``build``, how to build it."""
    parser.add_argument("file", nargs="?", metavar="FILE",
                        help="topology file: a .py defining topology(**params)")
    parser.add_argument("--param", "-p", action="append", metavar="KEY=VALUE", default=[],
                        help="a topology parameter (repeatable), converted by the default's type")
    parser.add_argument("--topo", metavar="NAME[,ARGS]",
                        help="instead of FILE, a Mininet topology like mn's: single,3 linear,4 tree,2,3")
    parser.add_argument("--custom", metavar="FILE",
                        help="a Mininet custom file (a 'topos' dict of Topo classes); pick one with --topo")
    if not build:
        return
    parser.add_argument("--switch", metavar="BACKEND", default=None,
                        help="backend of switches that name none: linux (bridge, default) or ovs")
    parser.add_argument("--arp", choices=("auto", "static", "dynamic"), default="auto",
                        help="dynamic: real ARP; static: permanent neighbour entries from the start; "
                             "auto (default): real ARP, but an all-pairs test of more pairs than the "
                             "kernel's shared neighbour table holds installs permanent entries first")


def load_graph(args: argparse.Namespace):
    """(graph, params, source) from FILE, or from --topo/--custom (Mininet topologies)."""
    if args.topo or args.custom:
        if args.file:
            raise UsageError(f"give a topology FILE or --topo/--custom, not both ({args.file!r} and "
                             f"--topo {args.topo or ''} --custom {args.custom or ''})")
        if args.param:
            raise UsageError("--param is for topology files; Mininet topologies take their arguments "
                             "in --topo, e.g. --topo tree,depth=2,fanout=3")
        from testbed.topology import mininet as mininet_import
        conversion = mininet_import.build(args.topo, args.custom)
        for note in conversion.ignored:
            print(f"testbed: note: Mininet {note} has no equivalent here; ignored", file=sys.stderr)
        source = f"{args.custom}:{args.topo or ''}" if args.custom else f"mininet:{args.topo}"
        return conversion.graph, conversion.params, source
    if not args.file:
        raise UsageError("give a topology FILE (e.g. topologies/single.py) or --topo NAME[,ARGS]")
    graph, params = loader.load(args.file, loader.parse_param_args(args.param))
    return graph, params, args.file


def load_plan(args: argparse.Namespace, draft: bool = False):
    """The plan of the command's topology for this kernel. With ``draft``, a plan this kernel
    cannot build is still made (for a kernel with everything) and the reasons are printed."""
    from testbed.kernel import caps
    from testbed.planning import pipeline
    graph, params, source = load_graph(args)
    arp = "static" if getattr(args, "arp", "auto") == "static" else "dynamic"
    options = dict(source=source, params=params, arp=arp, features=caps.features, switch=getattr(args, "switch", None))
    if not draft:
        return pipeline.plan(graph, **options)
    plan, refusals = pipeline.draft(graph, **options)
    for refusal in refusals:
        print("testbed: warning: this kernel cannot build it; shown as planned for a stock kernel "
              f"(`--vm`):\n{refusal}", file=sys.stderr)
    return plan


# ---------------------------------------------------------------- subcommands

def cmd_plan(args: argparse.Namespace) -> int:
    print(load_plan(args, draft=True).to_json())
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from testbed.cli.progress import progress_for
    from testbed.run.network import Network
    if args.test not in KNOWN_TESTS:            # refuse before building anything
        raise UsageError(f"--test {args.test!r}: unknown test; known: {', '.join(t for t in KNOWN_TESTS if t)}")
    if args.count is not None and args.count < 1:
        raise UsageError(f"--count {args.count}: give at least 1 ping")
    if args.count is not None and args.count > MAX_COUNT:
        raise UsageError(f"--count {args.count}: at most {MAX_COUNT} pings")
    if args.pair is not None and args.test not in ("ping", "iperf"):
        raise UsageError(f"--pair {args.pair}: only --test ping and --test iperf take a pair")
    plan = load_plan(args)
    started = time.perf_counter()
    net = Network(plan, arp=args.arp, progress=progress_for(len(plan.nodes)))
    try:
        net.start()
        built = time.perf_counter()
        print(f"*** {plan.source}: {len(plan.nodes)} nodes, {len(plan.links)} links built in "
              f"{built - started:.2f} s (run {net.run_id})", file=sys.stderr)
        return run_test(net, args)
    finally:
        t0 = time.perf_counter()
        net.stop()
        print(f"*** torn down in {time.perf_counter() - t0:.2f} s", file=sys.stderr)


def run_test(net, args: argparse.Namespace) -> int:
    test = args.test
    if test is None:
        from testbed.cli import shell
        commands = shell.split_commands(args.commands) if args.commands is not None else None
        return EXIT_CHECK if shell.run_session(net, commands) else EXIT_OK
    if test == "none":
        return EXIT_OK
    if test in ("pingall", "pingallfull"):
        result = net.pingall(count=args.count or 1)
        print(result.matrix())
        return EXIT_OK if result.ok else EXIT_CHECK
    if test in ("iperf", "ping"):
        return link_test(net, test, args)
    raise UsageError(f"--test {test!r}: unknown test; known: none, pingall, ping, iperf")


def test_pair(net, test: str, pair: str | None) -> tuple[str, str]:
    """The two nodes of --test ping/iperf: --pair A,B, else the first and the last host (as Mininet's iperf)."""
    if pair is not None:
        names = [n.strip() for n in pair.split(",")]
        if len(names) != 2 or not all(names):
            raise UsageError(f"--pair {pair!r}: give two nodes as A,B, e.g. --pair h1,h3")
        unknown = [n for n in names if n not in net.nodes]
        if unknown:
            raise UsageError(f"--pair {pair}: no node {', '.join(map(repr, unknown))} in this network; "
                             f"nodes: {', '.join(sorted(net.nodes))}")
        if names[0] == names[1]:
            raise UsageError(f"--pair {pair}: give two different nodes")
        return names[0], names[1]
    hosts = [n.name for n in net.hosts]
    if len(hosts) < 2:
        raise UsageError(f"--test {test} needs two hosts; this network has {', '.join(hosts) or 'none'}")
    return hosts[0], hosts[-1]


def link_test(net, test: str, args: argparse.Namespace) -> int:
    """iperf (TCP throughput) or ping (RTT and loss) between --pair, or the first and the last host."""
    from testbed.run import traffic
    src, dst = test_pair(net, test, getattr(args, "pair", None))
    if test == "iperf":
        result = traffic.iperf3(net[src], net[dst], duration=args.time, omit=0.5)
        print(result.summary(src, dst))
        return EXIT_OK if result.bits_per_second > 0 else EXIT_CHECK
    stats = traffic.ping(net[src], net[dst], count=args.count or 20, interval=0.01, warmup=5.0)
    print(stats.summary(src, dst))
    return EXIT_OK if stats.received > 0 else EXIT_CHECK


def cmd_doctor(args: argparse.Namespace) -> int:
    from testbed import vm
    from testbed.kernel import caps
    found = caps.probe() + tuple(vm.lane_capabilities())
    print(caps.to_json(found) if args.json else caps.report(found))
    return EXIT_OK


def cmd_draw(args: argparse.Namespace) -> int:
    from testbed.views import draw
    graph, params, source = load_graph(args)
    draw.draw(graph, args.output, intfs=args.intfs, addresses=args.addresses, layout=args.layout,
              title=source)
    print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


# ---------------------------------------------------------------- parser

EPILOG = """exit codes: 0 success; 1 a check failed; 2 invalid input (nothing was created);
3 this machine cannot do it (not root, a missing tool or kernel feature);
experiment and report also: 4 nothing was checked (every claim skipped), 5 run() raised.
`testbed COMMAND --help` describes a command."""


def cmd_help(args: argparse.Namespace) -> int:
    from testbed import kinds
    from testbed.cli import reference
    if args.topic == "kinds":
        print("\n".join(reference.kinds_table()))
        return EXIT_OK
    if args.topic == "links":
        print("\n".join(reference.link_table()))
        return EXIT_OK
    if args.kind is not None and kinds.get(args.kind) is None:
        raise UsageError(f"help attributes {args.kind!r}: no such kind; known: {', '.join(kinds.names())}")
    print("\n".join(reference.attributes_table(args.kind)))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="testbed", epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"testbed {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="one of the commands below")

    p = sub.add_parser("help", help="the attributes of nodes (of one kind), links and the node kinds, as tables "
                       "(the whole reference: docs/reference.md)")
    p.add_argument("topic", choices=("attributes", "links", "kinds"), help="what to describe")
    p.add_argument("kind", nargs="?", metavar="KIND", help="attributes: only those a node of KIND accepts")
    p.set_defaults(func=cmd_help)

    p = sub.add_parser("run", help="build a topology, open the testbed> shell (or run -c/stdin "
                       "commands, or a --test), tear down")
    add_topology_args(p)
    p.add_argument("--test", metavar="TEST", help="none (build and tear down), pingall, pingallfull, ping "
                   "or iperf (ping and iperf: from the first host to the last, or --pair); exit 1 if it fails")
    p.add_argument("--pair", metavar="A,B", help="the two nodes of --test ping or iperf, client first "
                   "(default: the first and the last host, as Mininet's iperf)")
    p.add_argument("--count", type=int, default=None,
                   help=f"pings per pair for pingall (default 1), pings for ping (default 20); 1..{MAX_COUNT}")
    p.add_argument("--time", type=bounded(float, 1, MAX_SECONDS), default=3.0,
                   help=f"seconds of iperf3 traffic for iperf (default 3); 1..{MAX_SECONDS}")
    p.add_argument("-c", dest="commands", metavar="COMMANDS",
                   help="shell commands separated by ';' to run instead of the interactive shell")
    vmrun.add_argument(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("draw", help="draw a topology to a PNG, SVG or PDF file (no root needed)")
    add_topology_args(p, build=False)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="topo.png, topo.svg or topo.pdf")
    p.add_argument("--intfs", action="store_true", help="label link ends with interface names")
    p.add_argument("--addresses", action="store_true", help="label link ends with IP addresses")
    p.add_argument("--layout", default="auto", metavar="LAYOUT",
                   help="auto (default: tiers for layered graphs, see testbed/views/draw.py), tree (layers "
                        "by distance from the core), spring, circular, shell or kamada_kawai; "
                        "nodes with a pos=(x, y) attribute stay where it says")
    p.set_defaults(func=cmd_draw)

    p = sub.add_parser("plan", help="print the JSON plan of a topology (no root needed)")
    add_topology_args(p)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("doctor", help="what this kernel and machine can do, and how to get what is missing")
    p.add_argument("--json", action="store_true", help="print the capabilities as JSON")
    p.set_defaults(func=cmd_doctor)

    run_commands.add_parsers(sub)
    experiment_commands.add_parsers(sub)
    parser.description = textwrap.fill("testbed: networkx topologies built as real networks of namespaces, "
                                       "veths and bridges. Commands: " + ", ".join(sub.choices) + ".", 79)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_INPUT if exc.code not in (0, None) else EXIT_OK
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if getattr(args, "vm", False):
            return vmrun.rerun(args, sys.argv[1:] if argv is None else argv)
        return args.func(args)
    except TestbedError as exc:
        print(f"testbed: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:                  # the reader went away (`testbed help attributes | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except (KeyboardInterrupt, Terminated):
        print("testbed: interrupted; torn down", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
