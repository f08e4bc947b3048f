"""Run the testbed CLI and stop it at one chosen point, for the chaos tests to signal it there.

    python chaos_run.py POINT -- ARGS...

POINT is "build:<phase>" (just before that deploy phase runs), "start" (just before the
concerns' run-time services start), "teardown:<step>" (when the first entry reaches that
teardown step: release, signal, stop or remove), or "none". At the point the process says so
on stderr ("chaos: stopped at POINT") and stops itself (SIGSTOP); the test then sends its
signal from outside and SIGCONT, so the signal is delivered to whichever thread the kernel
picks, as a real Ctrl-C or SIGTERM is.
"""
from __future__ import annotations

import os
import signal
import sys

from testbed.cli.main import main
from testbed.deploy import build
from testbed.kernel import journal
from testbed.run import network

FIRED: list[str] = []


def fire(point: str) -> None:
    if not FIRED:
        FIRED.append(point)
        print(f"chaos: stopped at {point}", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGSTOP)


def arm(point: str) -> None:
    where, _, name = point.partition(":")
    if where == "build":
        def wrap(phase):
            def run(ctx):
                if phase.__name__ == name:
                    fire(point)
                phase(ctx)
            run.__name__ = phase.__name__
            return run
        build.PHASES = tuple(wrap(p) for p in build.PHASES)
    elif where == "start":
        first = network.concerns.REGISTRY[0]           # the first run-time hook after the build

        def start_then_fire(net, _start=first.start):
            fire(point)
            return _start(net)
        first.start = start_then_fire
    elif where == "teardown":
        for cls in journal.ENTRY_TYPES.values():
            method = getattr(cls, name)

            def step(self, removal, _method=method):
                fire(point)
                return _method(self, removal)
            setattr(cls, name, step)


if __name__ == "__main__":
    point = sys.argv[1]
    assert sys.argv[2] == "--"
    if point != "none":
        arm(point)
    sys.exit(main(sys.argv[3:]))
