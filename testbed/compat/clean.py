"""``mininet.clean`` on testbed: cleanup() removes what testbed's journals list, nothing else.

Mininet's ``mn -c`` deletes every interface, bridge, process and file that *looks like*
Mininet's; this one stops this process's Mininet networks and tears down the runs of
Mininet scripts whose process is gone (a crash, a kill), from their journals alone, as
``testbed clean`` does. Nothing is ever found or stopped by name.
"""
from __future__ import annotations

import subprocess
from typing import Callable

from mininet.log import info

from testbed import clean_stale
from testbed.compat.engine import SOURCE, Engine
from testbed.compat.util import decode
from testbed.errors import UsageError


def sh(cmd: str) -> str:
    """Run a shell command here and return its output (as Mininet's clean.sh)."""
    info(cmd + "\n")
    result = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return decode(result.stdout)


def killprocs(pattern: str) -> None:
    raise UsageError(f"killprocs({pattern!r}): testbed stops only processes it started, by PID (teardown "
                     "does it); nothing is killed by name")


class Cleanup:
    """Wrapper for cleanup(); callbacks run after it (Mininet's addCleanupCallback)."""

    callbacks: list[Callable[[], None]] = []

    @classmethod
    def cleanup(cls) -> None:
        info("*** Removing this process's Mininet networks\n")
        Engine.stop_all()
        removed = clean_stale(SOURCE)
        info(f"*** Removed {len(removed)} stale run(s) of Mininet scripts"
             f"{': ' + ', '.join(removed) if removed else ''}\n")
        for callback in cls.callbacks:
            callback()
        info("*** Cleanup complete.\n")

    @classmethod
    def addCleanupCallback(cls, callback: Callable[[], None]) -> None:
        if callback not in cls.callbacks:
            cls.callbacks.append(callback)


cleanup = Cleanup.cleanup
addCleanupCallback = Cleanup.addCleanupCallback
