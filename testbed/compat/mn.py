"""The ``mn`` command line on testbed (``testbed mn`` without a script).

    testbed mn --topo tree,2,3 --link tc,bw=10 --switch ovsbr --test pingall

Mininet's options and their meanings: ``--topo`` (minimal, linear, reversed, single,
tree, torus, and those of ``--custom`` files), ``--switch`` (default/ovs/ovsk, ovsbr, user,
ivs, lxbr), ``--host`` (proc, cfs, rt), ``--controller`` (default, ref, ovsc, nox, ryu,
remote, none), ``--link`` (default, tc, tcu, ovs), each with ``,key=value`` arguments;
``--mac``, ``--arp``, ``--ipbase``, ``--listenport``/``--nolistenport``, ``--innamespace``,
``--wait``, ``--pre``/``--post`` CLI scripts, ``--test`` (pingall, pingpair, iperf, iperfudp,
all, build, none, or any Mininet method; several joined by '+'), ``--clean``, ``-v``.
Without ``--test`` the CLI opens. The exit status is 1 when a ping test lost packets.
"""
from __future__ import annotations

import runpy
import time
from typing import Any

from mininet.log import info, setLogLevel

from testbed.compat import cli as cli_module
from testbed.compat.clean import cleanup
from testbed.compat.link import Link, OVSLink, TCLink, TCULink
from testbed.compat.net import Mininet, MininetWithControlNet
from testbed.compat.node import (CPULimitedHost, Controller, DefaultController, Host, IVSSwitch, NOX,
                                 NullController, OVSBridge, OVSController, OVSSwitch, RemoteController, Ryu,
                                 UserSwitch)
from testbed.compat.nodelib import LinuxBridge
from testbed.compat.util import buildTopo, customClass, specialClass, splitArgs
from testbed.errors import UsageError


def topos() -> dict:
    from mininet.topo import LinearTopo, MinimalTopo, SingleSwitchReversedTopo, SingleSwitchTopo
    from mininet.topolib import TorusTopo, TreeTopo
    return {"minimal": MinimalTopo, "linear": LinearTopo, "reversed": SingleSwitchReversedTopo,
            "single": SingleSwitchTopo, "tree": TreeTopo, "torus": TorusTopo}


SWITCHES = {"user": UserSwitch, "ovs": OVSSwitch, "ovsbr": OVSBridge, "ovsk": OVSSwitch, "ivs": IVSSwitch,
            "lxbr": LinuxBridge, "default": OVSSwitch}
HOSTS = {"proc": Host, "rt": specialClass(CPULimitedHost, defaults={"sched": "rt"}),
         "cfs": specialClass(CPULimitedHost, defaults={"sched": "cfs"})}
CONTROLLERS = {"ref": Controller, "ovsc": OVSController, "nox": NOX, "remote": RemoteController, "ryu": Ryu,
               "default": DefaultController, "none": NullController}
LINKS = {"default": Link, "tc": TCLink, "tcu": TCULink, "ovs": OVSLink}
ALTSPELLING = {"pingall": "pingAll", "pingpair": "pingPair", "iperfudp": "iperfUdp"}


def _all(net: Mininet) -> float:
    loss = net.ping()
    net.iperf()
    return loss


TESTS: dict[str, Any] = {"all": _all, "none": lambda net: None, "build": lambda net: None,
                         "iperfUdp": lambda net, *a, **k: net.iperf(l4Type="UDP", *a, **k)}


def load_custom(paths: list[str]) -> None:
    """Run each --custom file and take its topos, switches, hosts, controllers, links and tests."""
    for path in paths:
        for one in path.split(","):
            namespace = runpy.run_path(one)
            for name, table in (("topos", None), ("switches", SWITCHES), ("hosts", HOSTS),
                                ("controllers", CONTROLLERS), ("links", LINKS), ("tests", TESTS)):
                found = namespace.get(name)
                if isinstance(found, dict):
                    (CUSTOM_TOPOS if table is None else table).update(found)


CUSTOM_TOPOS: dict = {}


def run(options: Any) -> int:
    """Build, test (or open the CLI), stop: Mininet's ``mn`` with ``options`` (argparse)."""
    setLogLevel(options.verbosity)
    if options.clean:
        cleanup()
        return 0
    load_custom(options.custom or [])
    started = time.time()
    known = {**topos(), **CUSTOM_TOPOS}
    if options.topo is None:
        options.topo = next(iter(CUSTOM_TOPOS)) if len(CUSTOM_TOPOS) == 1 else "minimal"
    name = splitArgs(options.topo)[0]
    if name not in known:
        raise UsageError(f"--topo {options.topo}: unknown topology {name!r}; known: {', '.join(sorted(known))}")
    topo = buildTopo(known, options.topo)
    switch = _custom(SWITCHES, options.switch, "--switch")
    host = _custom(HOSTS, options.host, "--host")
    controller = [_custom(CONTROLLERS, c, "--controller") for c in (options.controller or ["default"])]
    link = _custom(LINKS, options.link, "--link")
    tests = options.test or []
    wait = options.wait or bool(tests and tests != ["none"])
    net_class = MininetWithControlNet if options.innamespace else Mininet
    net = net_class(topo=topo, switch=switch, host=host, controller=controller, link=link, ipBase=options.ipbase,
                    inNamespace=options.innamespace, xterms=options.xterms, autoSetMacs=options.mac,
                    autoStaticArp=options.arp, autoPinCpus=options.pin, waitConnected=wait,
                    listenPort=None if options.nolistenport else options.listenport)
    status = 0
    try:
        if options.nat:
            net.addNAT().configDefault()
        if options.pre:
            cli_module.CLI(net, script=options.pre)
        net.start()
        if tests:
            status = run_tests(net, tests)
        else:
            cli_module.CLI(net)
        if options.post:
            cli_module.CLI(net, script=options.post)
    finally:
        net.stop()
    info("completed in %0.3f seconds\n" % (time.time() - started))
    return status


def _custom(table: dict, spec: str, option: str):
    try:
        return customClass(table, spec)
    except UsageError as exc:
        raise UsageError(f"{option} {spec}: {exc}") from None


def run_tests(net: Mininet, options: list[str]) -> int:
    """Run each test (several may be joined by '+'); 1 when a ping test lost packets."""
    status = 0
    for option in options:
        for test in option.split("+"):
            test, args, kwargs = splitArgs(test)
            test = ALTSPELLING.get(test.lower(), test)
            fn = TESTS.get(test)
            if fn is not None:
                result = fn(net, *args, **kwargs)
            elif hasattr(net, test):
                result = getattr(net, test)(*args, **kwargs)
            else:
                raise UsageError(f"--test {test}: unknown test; known: pingall, pingpair, iperf, iperfudp, all, "
                                 "build, none, or a Mininet method")
            if test in ("pingAll", "pingPair", "all", "ping") and isinstance(result, (int, float)) and result > 0:
                status = 1
    return status
