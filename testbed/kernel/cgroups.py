"""CPU limits for the processes of a node: a cgroup per node with a CFS quota.

Both cgroup versions are found and used: v2 (one unified tree, ``cpu.max``, ``cpu.stat``)
where the ``cpu`` controller is available there, else v1 (``cpu`` and ``cpuacct``
hierarchies under /sys/fs/cgroup/<controller>, ``cpu.cfs_quota_us``, ``cpuacct.usage``).
A run's cgroups live under ``testbed/<run id>/<node>`` in each hierarchy, journaled (a
``Cgroup`` entry) before they are made; teardown removes them once every process of the
run has stopped. Processes join by writing their PID to ``cgroup.procs``.
"""
from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass
from typing import ClassVar

from testbed.errors import EnvironmentProblem
from testbed.kernel.journal import Entry, Removal, entry_type

ROOT = "/sys/fs/cgroup"
TOP = "testbed"
REMOVE_WAIT = 3.0          # seconds for a cgroup's last processes to leave it at teardown


@dataclass(frozen=True)
class Hierarchy:
    version: int
    cpu: str             # where the quota is set
    usage: str           # where CPU time is read (v1: the cpuacct hierarchy)


def _v2_root() -> str | None:
    for path in (ROOT, os.path.join(ROOT, "unified")):
        try:
            with open(os.path.join(path, "cgroup.controllers")) as f:
                if "cpu" in f.read().split():
                    return path
        except OSError:
            continue
    return None


def hierarchy() -> Hierarchy:
    """The cgroup tree to put CPU limits in (EnvironmentProblem when there is none)."""
    v2 = _v2_root()
    if v2 is not None:
        return Hierarchy(2, v2, v2)
    cpu, acct = os.path.join(ROOT, "cpu"), os.path.join(ROOT, "cpuacct")
    if os.path.exists(os.path.join(cpu, "cpu.cfs_quota_us")):
        return Hierarchy(1, cpu, acct if os.path.exists(os.path.join(acct, "cpuacct.usage")) else cpu)
    raise EnvironmentProblem("CPU limits need the cgroup cpu controller (v2, or v1 mounted at "
                             f"{ROOT}/cpu with cpu.cfs_quota_us), and this machine has neither; "
                             "run without CPU limits, or in a VM with --vm")


def node_paths(h: Hierarchy, run_id: str, node: str) -> list[str]:
    """The cgroup folders of a node, parents first, in every hierarchy it uses."""
    roots = [h.cpu] if h.usage == h.cpu else [h.cpu, h.usage]
    return [os.path.join(root, *parts) for root in roots
            for parts in ((TOP,), (TOP, run_id), (TOP, run_id, node))]


@entry_type
@dataclass(frozen=True)
class Cgroup(Entry):
    """A cgroup folder of the run (removed once its processes have stopped)."""

    TYPE: ClassVar[str] = "cgroup"
    path: str

    def remove(self, removal: Removal) -> None:
        if not os.path.realpath(self.path).startswith(ROOT + os.sep) or f"/{TOP}" not in self.path:
            return
        deadline = time.monotonic() + REMOVE_WAIT
        while True:                 # processes killed a moment ago may still be leaving it
            try:
                os.rmdir(self.path)
                return
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    return
                if exc.errno not in (errno.ENOTEMPTY, errno.EBUSY) or time.monotonic() > deadline:
                    return
            time.sleep(0.02)


def create(paths: list[str]) -> None:
    """Make the folders (journal them first); in v2, turn the cpu controller on below each parent
    (the hierarchy's root too: without systemd, as in a bare VM, nothing has turned it on there)."""
    if paths:
        _enable_cpu(os.path.dirname(paths[0]))
    for path in paths:
        try:
            os.mkdir(path)
        except FileExistsError:
            pass
        if path != paths[-1]:
            _enable_cpu(path)


def _enable_cpu(path: str) -> None:
    controllers = os.path.join(path, "cgroup.subtree_control")
    try:
        with open(controllers) as f:
            if "cpu" in f.read().split():
                return
        with open(controllers, "w") as f:
            f.write("+cpu")
    except OSError:
        pass                          # set_quota says so, naming the folder


def set_quota(h: Hierarchy, path: str, fraction: float, period_us: int) -> int:
    """Let the cgroup use ``fraction`` of one CPU per period (fraction 0.5: half a CPU); returns the quota."""
    quota = max(1000, int(round(fraction * period_us)))
    if h.version == 2:
        if not os.path.exists(os.path.join(path, "cpu.max")):
            parent = os.path.dirname(path)
            raise EnvironmentProblem(f"cgroup {path} has no cpu.max: the cpu controller could not be turned on "
                                     f"in {parent}/cgroup.subtree_control (a cgroup above it with processes "
                                     "of its own, or real-time threads outside the root cgroup); run without "
                                     "CPU limits, or turn it on: echo +cpu > .../cgroup.subtree_control")
        _write(os.path.join(path, "cpu.max"), f"{quota} {period_us}")
    else:
        _write(os.path.join(path, "cpu.cfs_period_us"), str(period_us))
        _write(os.path.join(path, "cpu.cfs_quota_us"), str(quota))
    return quota


def usage_seconds(h: Hierarchy, path: str) -> float:
    """CPU time the cgroup's processes have used, in seconds."""
    if h.version == 2:
        with open(os.path.join(path, "cpu.stat")) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) / 1e6
        return 0.0
    with open(os.path.join(path, "cpuacct.usage")) as f:
        return int(f.read()) / 1e9


def join(paths: list[str], pid: int | None = None) -> None:
    """Move a process (this one by default) into each cgroup."""
    pid = os.getpid() if pid is None else pid
    for path in paths:
        _write(os.path.join(path, "cgroup.procs"), str(pid))


def _write(path: str, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as exc:
        raise EnvironmentProblem(f"cgroup: writing {value!r} to {path}: {exc.strerror}") from None
