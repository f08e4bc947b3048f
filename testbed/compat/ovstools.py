"""ovs-vsctl, ovs-ofctl, ovs-appctl and ovs-dpctl for Mininet scripts, outside the switches.

Mininet's switches share the machine's one Open vSwitch, so scripts run ``ovs-vsctl
get-controller s1`` or ``ovs-ofctl dump-flows s1`` anywhere (the CLI's ``sh``, ``os.system``,
a host's shell). testbed gives every switch its own OVS in its own namespace. During
``testbed mn`` these four names on PATH lead here: the command goes to the OVS of the
switch it names (a switch name, or one of its ``<switch>-eth<N>`` ports); a command that
names none (``ovs-vsctl show``, ``list-br``) goes to every switch's OVS in turn. The
switches are those of this process's Mininet networks (``TESTBED_MN_RUNS``). A command
run inside a switch (its own OVS is in its environment already), or with no Mininet
network up, goes to the real tool unchanged.

    python -m testbed.compat.ovstools ovs-vsctl get-controller s1
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

TOOLS = ("ovs-vsctl", "ovs-ofctl", "ovs-appctl", "ovs-dpctl")
RUNS_VAR = "TESTBED_MN_RUNS"
DIR_VAR = "TESTBED_MN_TOOLS"
_made: str | None = None                  # the wrappers' folder, if this process made it


def wrappers() -> str:
    """A folder with the four tools leading here (made once per process; PATH gets it first).

    Each is a shell script: inside a switch (OVS_RUNDIR set), or with no Mininet network up,
    it runs the real tool at once; otherwise this module picks the switch."""
    global _made
    folder = os.environ.get(DIR_VAR)
    if folder and os.path.isdir(folder):
        return folder                           # a parent testbed mn made it (and removes it)
    folder = tempfile.mkdtemp(prefix="testbed-mn-ovs-")
    _made = folder
    import testbed
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(testbed.__file__)))
    for tool in TOOLS:
        real = real_tool(tool) or tool
        path = os.path.join(folder, tool)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n"
                    f'if [ -n "$OVS_RUNDIR" ] || [ -z "${RUNS_VAR}" ]; then exec {real} "$@"; fi\n'
                    f'PYTHONPATH={package_root}${{PYTHONPATH:+:$PYTHONPATH}} exec {sys.executable} '
                    f'-m testbed.compat.ovstools {tool} "$@"\n')
        os.chmod(path, 0o755)
    os.environ[DIR_VAR] = folder
    os.environ["PATH"] = folder + os.pathsep + os.environ.get("PATH", "")
    return folder


def remove_wrappers() -> None:
    """Take the folder off PATH; remove it if this process made it (not one a parent shares)."""
    global _made
    folder = os.environ.pop(DIR_VAR, None)
    if folder:
        os.environ["PATH"] = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != folder)
    if _made is not None:
        shutil.rmtree(_made, ignore_errors=True)
        _made = None


def add_run(run_id: str) -> None:
    runs = [r for r in os.environ.get(RUNS_VAR, "").split(",") if r]
    if run_id not in runs:
        os.environ[RUNS_VAR] = ",".join([*runs, run_id])


def remove_run(run_id: str) -> None:
    runs = [r for r in os.environ.get(RUNS_VAR, "").split(",") if r and r != run_id]
    os.environ[RUNS_VAR] = ",".join(runs)


def real_tool(tool: str) -> str | None:
    """The tool itself: the first one on PATH that is not our wrapper."""
    ours = os.environ.get(DIR_VAR)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != ours)
    return shutil.which(tool, path=path)


def switches() -> dict[str, dict[str, str]]:
    from testbed import switch_environments
    found: dict[str, dict[str, str]] = {}
    for run in [r for r in os.environ.get(RUNS_VAR, "").split(",") if r]:
        try:
            found.update(switch_environments(run))
        except OSError:
            continue
    return found


def target(args: list[str], known: dict[str, dict[str, str]]) -> str | None:
    """The switch a command names: a switch name, or one of its <switch>-eth<N> ports."""
    words = [w for a in args for w in re.split(r"[\s=,]+", a)]
    for word in words:
        if word in known:
            return word
    for word in words:
        match = re.match(r"^(.+)-eth\d+$", word)
        if match and match.group(1) in known:
            return match.group(1)
    return None


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in TOOLS:
        print(f"usage: python -m testbed.compat.ovstools {{{'|'.join(TOOLS)}}} ARGS...", file=sys.stderr)
        return 2
    tool, args = argv[0], argv[1:]
    real = real_tool(tool)
    if real is None:
        print(f"{tool}: not installed (apt-get install openvswitch-switch)", file=sys.stderr)
        return 127
    known = {} if os.environ.get("OVS_RUNDIR") else switches()
    if not known:
        os.execv(real, [tool, *args])
    name = target(args, known)
    chosen = [name] if name is not None else sorted(known)
    status = 0
    for switch in chosen:
        env = {**os.environ, **known[switch]}
        result = subprocess.run([real, *args], env=env)
        status = max(status, result.returncode)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
