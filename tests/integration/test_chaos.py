"""Signals at every phase boundary: SIGINT/SIGTERM leave nothing, SIGKILL leaves what `clean`
removes, and every run exits within 5 s of the signal.

The run stops itself at the chosen point (tests/integration/chaos_run.py) — before each
deploy phase, before the run-time services start, at each teardown step — or waits on its
shell while the network is up; the test then signals it from outside. For a Linux-bridge, an
Open vSwitch and a DHCP topology.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from itest import RUNS_DIR, cli_argv, run_cli
from testbed.deploy.build import PHASES

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TOPOLOGIES = {
    "linux": ["topologies/single.py", "--param", "n=3"],
    "ovs": ["topologies/single.py", "--param", "n=3", "--switch", "ovs"],
    "dhcp": ["topologies/dhcp.py", "--param", "hosts=2"],
}
POINTS = ([f"build:{p.__name__}" for p in PHASES] + ["start", "run"]
          + [f"teardown:{s}" for s in ("release", "signal", "stop", "remove")])
EXIT_WITHIN = 5.0
RUN_RE = re.compile(r"\(run (\S+)\)|\b(tb[0-9a-f]{6})\b")


def _leftovers(run_id: str) -> dict[str, list[str]]:
    found = {
        "namespaces": [n for n in os.listdir("/run/netns") if n.startswith(run_id + "-")]
        if os.path.isdir("/run/netns") else [],
        "/etc/netns": [n for n in os.listdir("/etc/netns") if n.startswith(run_id + "-")]
        if os.path.isdir("/etc/netns") else [],
        "run folder": [run_id] if os.path.exists(os.path.join(RUNS_DIR, run_id)) else [],
        "processes": [],
    }
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
        except OSError:
            continue
        if f"/{run_id}/" in cmdline or f"{run_id}-" in cmdline.replace("\0", " "):
            found["processes"].append(f"{pid}: {cmdline.replace(chr(0), ' ')[:80]}")
    return {k: v for k, v in found.items() if v}


def _run_id(text: str) -> str | None:
    for match in RUN_RE.finditer(text):
        return match.group(1) or match.group(2)
    return None


def _stopped(pid: int, timeout: float = 30.0) -> None:
    """Wait until the process has stopped itself (state T)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] in ("T", "t"):
                return
        time.sleep(0.005)
    raise AssertionError(f"process {pid} did not stop at its point within {timeout} s")


def _chaos(owned, topology: str, sig: signal.Signals, point: str) -> tuple[int, str, float]:
    """(exit code, stderr, seconds from the signal to the exit)."""
    args = ["run", *TOPOLOGIES[topology]] + ([] if point == "run" else ["--test", "none"])
    argv = [sys.executable, str(HERE / "chaos_run.py"), "none" if point == "run" else point, "--", *args]
    proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    lines, sent_at = [], None
    wanted = " built in " if point == "run" else f"chaos: stopped at {point}"
    try:
        for line in proc.stderr:                         # up to the point (then it waits or is stopped)
            lines.append(line)
            if _run_id(line):
                owned.add(_run_id(line))
            if wanted in line:
                if point != "run":
                    _stopped(proc.pid)
                sent_at = time.monotonic()
                os.kill(proc.pid, sig)
                if sig != signal.SIGKILL:
                    os.kill(proc.pid, signal.SIGCONT)
                break
        rest = proc.communicate(timeout=60)[1]
        ended = time.monotonic()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = "".join(lines) + rest
    run_id = _run_id(text)
    if run_id:
        owned.add(run_id)
    assert sent_at is not None, f"the run never reached {point}:\n{text}"
    return proc.returncode, text, ended - sent_at


CASES = [(t, s, p) for t in TOPOLOGIES for s in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL) for p in POINTS
         if not (s == signal.SIGINT and t != "linux")]      # SIGINT and SIGTERM share their path: one topology


@pytest.mark.timeout(240)
@pytest.mark.parametrize("topology, sig, point", CASES,
                         ids=[f"{t}-{s.name}-{p}" for t, s, p in CASES])
def test_a_signal_at_any_point_leaves_nothing(owned, topology, sig, point):
    code, text, took = _chaos(owned, topology, sig, point)
    run_id = _run_id(text)
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL, text
        if run_id:                                       # killed before the journal existed: nothing was made
            done = run_cli(owned, "clean", run_id)
            assert done.returncode in (0, 2), done.stderr    # 2: the run's folder was not made yet
    else:
        assert code == 130, f"exit {code}, expected 130 after {sig.name} at {point}:\n{text}"
        assert "interrupted; torn down" in text, text
    assert took < EXIT_WITHIN, f"{sig.name} at {point}: exited {took:.1f} s after the signal"
    if run_id:
        assert _leftovers(run_id) == {}, f"{sig.name} at {point} left: {_leftovers(run_id)}\n{text}"


@pytest.mark.timeout(240)
@pytest.mark.parametrize("delay", [0.005, 0.02, 0.05, 0.1])
def test_sigterm_while_a_large_network_tears_down(owned, delay):
    """single,300 torn down after its shell's input ends; SIGTERM arrives during the teardown."""
    proc = subprocess.Popen(cli_argv("run", "topologies/single.py", "--param", "n=300"), cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    run_id = None
    try:
        for line in proc.stderr:
            run_id = run_id or _run_id(line)
            if " built in " in line:
                break
        assert run_id, "the run never came up"
        owned.add(run_id)
        proc.stdin.close()                               # the shell ends: teardown begins
        time.sleep(delay)                                # (the point of the test: a signal at some moment of it)
        os.kill(proc.pid, signal.SIGTERM)
        text = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode in (0, 130, -signal.SIGTERM), text
    assert _leftovers(run_id) == {}, f"SIGTERM {delay} s into the teardown left: {_leftovers(run_id)}"
