"""`--vm`: re-run a testbed command inside a stock-kernel guest (testbed.vm).

``testbed run --vm FILE ...`` and ``testbed experiment --vm FILE ...`` run the same
command, without ``--vm``, as root in a QEMU guest booted from a stock Debian kernel (which
has netem, 802.1Q and the OVS kernel module), with this machine's files, in the current
folder. Output streams back, the exit code is the command's own, and an experiment's
``--out`` folder is shared writable so its results land on this machine.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from testbed.errors import EnvironmentProblem, UsageError

VM_FLAG = "--vm"
STAGED = ("testbed", "networkx", "pyroute2")      # imported by every command: kept in guest memory
DEFAULT_TIMEOUT = 4 * 3600.0                        # seconds; TESTBED_VM_TIMEOUT overrides


def add_argument(parser: argparse.ArgumentParser) -> None:
    """The --vm option of a subcommand."""
    parser.add_argument(VM_FLAG, action="store_true",
                        help="run this command in a VM booted from a stock kernel (netem, 802.1Q, OVS "
                             "kernel datapath); needs the stock-kernel lane: `make vm-lane`")


def strip_vm_flag(argv: Sequence[str]) -> list[str]:
    """``argv`` without the --vm option (or an abbreviation argparse accepted for it),
    leaving everything after a ``--`` alone."""
    out: list[str] = []
    rest = False
    for token in argv:
        if not rest and token == "--":
            rest = True
        elif not rest and len(token) >= 3 and VM_FLAG.startswith(token):
            continue
        out.append(token)
    return out


def guest_command(argv: Sequence[str]) -> list[str]:
    """The command the guest runs: this Python and testbed, ``argv`` minus --vm.

    ``-P``: the current folder does not shadow the staged testbed package.
    """
    return [sys.executable, "-P", "-m", "testbed.cli.main", *strip_vm_flag(argv)]


def writable_dirs(args: argparse.Namespace) -> list[str]:
    """Folders the guest must be able to write: an experiment's --out."""
    if args.command == "experiment":
        return [os.path.abspath(args.out)]
    return []


def timeout() -> float:
    value = os.environ.get("TESTBED_VM_TIMEOUT", "")
    try:
        return float(value) if value else DEFAULT_TIMEOUT
    except ValueError:
        raise UsageError(f"TESTBED_VM_TIMEOUT={value!r}: give seconds, e.g. 3600") from None


def guest_env() -> dict[str, str]:
    """The environment forwarded to the guest, plus this checkout's commit: the guest imports
    a staged copy of testbed, outside any checkout, and records this one in its results."""
    from testbed import vm
    from testbed.lab import provenance
    env = {k: os.environ[k] for k in vm.FORWARDED_ENV if k in os.environ}
    source = provenance.git_commit()
    if source["commit"]:
        env[provenance.SOURCE_COMMIT_ENV] = source["commit"]
        env[provenance.SOURCE_DIRTY_ENV] = "1" if source["dirty"] else "0"
    return env


def rerun(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Run ``argv`` (this process's arguments) again without --vm in a stock-kernel guest."""
    from testbed import vm
    if args.command == "run" and args.test is None and args.commands is None:
        raise UsageError("--vm runs without a terminal: give --test TEST or -c 'COMMANDS' "
                         "(the interactive shell needs the host kernel)")
    if args.command == "mn" and not (args.script or args.module or args.test or args.clean):
        raise UsageError("--vm runs without a terminal: give a script, or --test TEST "
                         "(the mn CLI needs the host kernel)")
    rwdirs = writable_dirs(args)
    for d in rwdirs:
        os.makedirs(d, exist_ok=True)
    limit = timeout()
    try:
        vng, kernel = vm.lane_tools()
        print(f"*** --vm: booting {kernel} ({'KVM' if vm.kvm_usable() else 'software emulation: about a minute'})",
              file=sys.stderr, flush=True)
        return vm.run_in_vm(guest_command(argv), rwdirs=rwdirs, cwd=os.getcwd(), timeout=limit,
                            kernel=kernel, stage=STAGED, env=guest_env())
    except vm.VMUnavailable as exc:
        raise EnvironmentProblem(f"--vm: the stock-kernel lane is not installed: {exc}") from None
    except vm.VMFailed as exc:
        raise EnvironmentProblem(f"--vm: {exc} (raise the limit with TESTBED_VM_TIMEOUT=SECONDS)") from None
    except ValueError as exc:                      # a path vng cannot pass to the guest
        raise UsageError(f"--vm: {exc}; run from (and write to) such a folder") from None
