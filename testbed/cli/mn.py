"""``testbed mn``: Mininet scripts unchanged, or Mininet's ``mn`` command line, on testbed.

    testbed mn examples/linuxrouter.py              a script; CLI(net) opens the shell
    testbed mn myexperiment.py --my-arg 3           the script's own arguments pass through
    testbed mn -m mininet.examples.linuxrouter      a module, as python -m runs it
    testbed mn --topo tree,2,3 --link tc,bw=10 --switch ovsbr --test pingall
    python -m testbed.mn script.py                  the same as testbed mn script.py

With a script, ``mininet.net``, ``.node``, ``.link``, ``.cli``, ``.clean``, ``.nodelib`` and
``.util`` are testbed's (testbed/compat/); whatever way the script ends (its end, an
exception, exit(), Ctrl-C, SIGTERM), every network it built is torn down. Exit status: the
script's (exit(N)), 1 when it raised, 130 when interrupted, and testbed's usual codes for
testbed's errors (2 bad input, 3 this machine cannot do it).
"""
from __future__ import annotations

import argparse
import os
import runpy
import sys
import traceback

from testbed import compat
from testbed.errors import TestbedError, UsageError

EXIT_OK, EXIT_FAILED = 0, 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("script", nargs="?", metavar="SCRIPT.py",
                   help="a Mininet script to run unchanged (its arguments follow it)")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="the script's own arguments")
    p.add_argument("-m", dest="module", metavar="MODULE", help="run a module as `python -m` does "
                   "(e.g. mininet.examples.linuxrouter)")
    p.add_argument("--examples", metavar="DIR", help="a folder of Mininet's examples: `mininet.examples.X` "
                   "imports come from it (default: the script's own examples folder, if it is in one)")
    mn = p.add_argument_group("mn options (without a script)")
    mn.add_argument("--topo", help="minimal, linear,N, reversed,N, single,N, tree,DEPTH,FANOUT, torus,X,Y "
                    "(or one of --custom's topos)")
    mn.add_argument("--custom", action="append", metavar="FILE",
                    help="a Python file defining topos, switches, hosts, controllers, links, tests dicts")
    mn.add_argument("--switch", default="default", help="default|ovs|ovsk|ovsbr|user|ivs|lxbr[,ARG...]")
    mn.add_argument("--host", default="proc", help="proc|cfs|rt[,cpu=F...]")
    mn.add_argument("--controller", action="append", help="default|ref|ovsc|nox|ryu|remote|none[,ARG...]")
    mn.add_argument("--link", default="default", help="default|tc|tcu|ovs[,bw=10,delay=5ms,loss=1,...]")
    mn.add_argument("--test", action="append", help="pingall|pingpair|iperf|iperfudp|all|build|none "
                    "(several joined by '+')")
    mn.add_argument("--mac", action="store_true", help="MACs from the host numbers")
    mn.add_argument("--arp", action="store_true", help="static ARP entries between the hosts")
    mn.add_argument("--ipbase", default="10.0.0.0/8", help="base network of the hosts' addresses")
    mn.add_argument("--listenport", type=int, default=6654, help="base port of the switches' passive listeners")
    mn.add_argument("--nolistenport", action="store_true", help="no passive listeners")
    mn.add_argument("--innamespace", action="store_true", help="switches and controller in namespaces")
    mn.add_argument("-x", "--xterms", action="store_true", help="a terminal per node (testbed opens none)")
    mn.add_argument("--pin", action="store_true", help="pin hosts to CPU cores (not done here)")
    mn.add_argument("--nat", action="store_true", help="a NAT to this machine's network (refused here)")
    mn.add_argument("-w", "--wait", action="store_true", help="wait for the switches to connect")
    mn.add_argument("--pre", metavar="FILE", help="CLI commands to run before the tests")
    mn.add_argument("--post", metavar="FILE", help="CLI commands to run after the tests")
    mn.add_argument("-c", "--clean", action="store_true",
                    help="tear down what this process and stale runs of Mininet scripts left (journals only)")
    mn.add_argument("-v", "--verbosity", default="info", help="debug|info|output|warning|error|critical")


def cmd_mn(args: argparse.Namespace) -> int:
    if args.module and args.script:                  # -m MODULE ARG...: the module's arguments
        args.args, args.script = [args.script, *args.args], None
    if args.script or args.module:
        return run_script(args.script, list(args.args), module=args.module, examples=args.examples)
    if args.args:
        raise UsageError(f"unexpected arguments {' '.join(args.args)!r}; a script comes first: "
                         "testbed mn SCRIPT.py ARGS...")
    compat.install(args.examples)
    from testbed.compat import mn
    from testbed.compat.engine import Engine
    try:
        return mn.run(args)
    finally:
        try:
            Engine.stop_all()
        finally:
            compat.uninstall()


def run_script(script: str | None, argv: list[str], module: str | None = None, examples: str | None = None) -> int:
    """Run a Mininet script (or module) with testbed's Mininet modules; tear down whatever it built."""
    if script is not None and not os.path.isfile(script):
        raise UsageError(f"{script}: no such file")
    if examples is None:
        examples = os.environ.get("TESTBED_MININET_EXAMPLES") or (compat.examples_folder(script) if script else None)
    from testbed.kernel import caps
    caps.prefetch()                             # the kernel probe runs while the script gets going
    compat.install(examples)
    from testbed.compat.engine import Engine
    os.environ["TESTBED_MN_SCRIPT"] = script or module or "mininet"
    saved_argv, saved_path = list(sys.argv), list(sys.path)
    try:
        if module is not None:
            sys.argv = [module, *argv]
            sys.path.insert(0, os.getcwd())
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        else:
            sys.argv = [script, *argv]
            sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
            runpy.run_path(script, run_name="__main__")
        return EXIT_OK
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return EXIT_OK
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return EXIT_FAILED
    except TestbedError:
        raise
    except Exception:
        traceback.print_exc()
        return EXIT_FAILED
    finally:
        try:
            sys.stdout.flush()
            Engine.stop_all()                    # a signal held during teardown is raised at its end
        finally:
            compat.uninstall()                   # and the ovs-* wrappers' folder it made
            sys.argv, sys.path[:] = saved_argv, saved_path
