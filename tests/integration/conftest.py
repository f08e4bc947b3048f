"""Integration tests build real namespaces: they need root and must leave nothing behind.

Around every test, ``no_leftovers`` compares namespaces, root links, /etc/netns entries and
runs under /run/testbed before and after. Other people may build networks on this machine
at the same time, so only things that belong to runs this test made (their run ids are
tracked) count as namespaces, /etc/netns entries and runs left behind; a testbed never
creates anything in the root namespace, so any root link that appeared and stays is ours.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from itest import BackgroundRun, Owned, Snapshot, cli_argv

ROOT = Path(__file__).resolve().parents[2]


TIMEOUT = 120      # seconds per test (pytest-timeout; SIGALRM, so a stuck test still tears down)


def pytest_collection_modifyitems(config, items) -> None:
    here = str(Path(__file__).parent)
    mine = [item for item in items if str(item.fspath).startswith(here)]
    for item in mine:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TIMEOUT, method="signal"))
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="integration tests build namespaces: run them as root")
        for item in mine:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def no_leftovers(monkeypatch):
    """Fail the test when a namespace, root link, /etc/netns entry or run it made is left."""
    from testbed.run import network
    owned = Owned()

    original_init = network.Network.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        owned.add(self.run_id)

    monkeypatch.setattr(network.Network, "__init__", init)
    before = Snapshot.take()
    yield owned
    left = owned.leftovers(before, Snapshot.take())
    deadline = time.monotonic() + 5.0
    while left.get("root links") and time.monotonic() < deadline:    # someone else's short-lived link?
        time.sleep(0.1)
        left = owned.leftovers(before, Snapshot.take())
    if left:                              # report it, but leave the machine clean for the next test
        for run_id in sorted(owned.run_ids):
            subprocess.run(cli_argv("clean", "--force", run_id), cwd=ROOT, capture_output=True, timeout=120)
    assert not left, f"left behind: {left}"


@pytest.fixture
def owned(no_leftovers) -> Owned:
    return no_leftovers


@pytest.fixture
def background(owned):
    """Start background `testbed run`s; anything still running at the end is stopped and cleaned."""
    started: list[BackgroundRun] = []

    def start(*args: str, env: dict | None = None) -> BackgroundRun:
        run = BackgroundRun(owned, *args, env=env)
        started.append(run)
        return run

    yield start
    for run in started:
        if run.proc.poll() is None:
            run.signal(signal.SIGTERM)
            run.finish()
        if run.run_id and os.path.isdir(os.path.join(run.runs_dir, run.run_id)):
            subprocess.run(cli_argv("clean", "--force", run.run_id), cwd=ROOT, env=run.env, timeout=60)
