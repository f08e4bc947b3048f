"""Helpers of the integration tests: snapshots, owned run ids, the CLI in subprocesses."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NETNS_DIR = "/run/netns"
ETC_NETNS = "/etc/netns"
RUNS_DIR = "/run/testbed"
RUN_ID_RE = re.compile(r"\(run (\S+)\)")


def _listdir(path: str) -> set[str]:
    try:
        return set(os.listdir(path))
    except FileNotFoundError:
        return set()


def root_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return {line.split(":", 2)[1].strip().split("@")[0] for line in out.splitlines() if line.strip()}


@dataclass
class Snapshot:
    netns: set[str]
    links: set[str]
    etc: set[str]
    runs: set[str]

    @classmethod
    def take(cls) -> "Snapshot":
        return cls(_listdir(NETNS_DIR), root_links(), _listdir(ETC_NETNS), _listdir(RUNS_DIR))


@dataclass
class Owned:
    """The run ids a test made; everything named after them must be gone at the end."""

    run_ids: set[str] = field(default_factory=set)

    def add(self, run_id: str) -> str:
        self.run_ids.add(run_id)
        return run_id

    def mine(self, name: str) -> bool:
        return any(name == r or name.startswith(r + "-") for r in self.run_ids)

    def leftovers(self, before: Snapshot, after: Snapshot) -> dict[str, list[str]]:
        found = {
            "namespaces": sorted(n for n in after.netns - before.netns if self.mine(n)),
            "/etc/netns entries": sorted(n for n in after.etc - before.etc if self.mine(n)),
            "runs": sorted(n for n in after.runs - before.runs if self.mine(n)),
            "root links": sorted(after.links - before.links),
        }
        return {k: v for k, v in found.items() if v}


def runs_of(pid: int, runs_dir: str = RUNS_DIR) -> list[str]:
    """The runs whose folder names process ``pid`` as their owner (also after it died)."""
    import json
    found = []
    for name in sorted(_listdir(runs_dir)):
        try:
            with open(os.path.join(runs_dir, name, "meta.json")) as f:
                if json.load(f).get("pid") == pid:
                    found.append(name)
        except (OSError, ValueError):
            continue
    return found


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "testbed.cli.main", *args]


def run_cli(owned: Owned, *args: str, timeout: float = 90, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the testbed CLI to completion; the run id it prints is tracked."""
    done = subprocess.run(cli_argv(*args), cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=env)
    for run_id in RUN_ID_RE.findall(done.stderr):
        owned.add(run_id)
    return done


class BackgroundRun:
    """`testbed run FILE` (no --test) in the background: it reads shell commands from a pipe
    that stays open, so it keeps the network up until it is signalled."""

    def __init__(self, owned: Owned, *args: str, env: dict | None = None):
        self.env = env
        self.runs_dir = (env or {}).get("TESTBED_RUNS_DIR", RUNS_DIR)
        self.proc = subprocess.Popen(cli_argv("run", *args), cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
        self.owned = owned
        self.run_id: str | None = None

    def wait_for_run_dir(self, timeout: float = 30) -> str:
        """The run id, as soon as the run's folder names this process as its owner."""
        import json
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name in _listdir(self.runs_dir):
                try:
                    with open(os.path.join(self.runs_dir, name, "meta.json")) as f:
                        meta = json.load(f)
                except (OSError, ValueError):
                    continue
                if meta.get("pid") == self.proc.pid:
                    self.run_id = self.owned.add(name)
                    return name
            if self.proc.poll() is not None:
                raise AssertionError(f"testbed run exited {self.proc.returncode}: {self.proc.stderr.read()}")
            time.sleep(0.02)
        raise AssertionError("the run's folder never appeared")

    def wait_until_up(self, timeout: float = 60) -> str:
        """Read stderr until the "built in" line; returns the run id."""
        deadline = time.monotonic() + timeout
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise AssertionError(f"testbed run ended early ({self.proc.wait()}): {''.join(lines)}")
            lines.append(line)
            for run_id in RUN_ID_RE.findall(line):
                self.run_id = self.owned.add(run_id)
            if " built in " in line:
                assert self.run_id, lines
                return self.run_id
        raise AssertionError(f"not up after {timeout} s: {''.join(lines)}")

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    def finish(self, timeout: float = 30) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc.stderr.close()


def load_network(name: str, **params):
    """A Network (not started) of topologies/NAME.py with the given parameters."""
    from testbed import Network, load
    graph, full = load(str(ROOT / "topologies" / f"{name}.py"), {k: str(v) for k, v in params.items()})
    return Network(graph, source=name, params=full)
