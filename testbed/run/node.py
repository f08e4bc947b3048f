"""A handle on one node of a running network: run commands inside it, read its counters.

Commands run inside the node's namespace through ``ip netns exec`` (so /etc/netns files
apply); no shell is kept per node. Processes started with popen() are journaled by PID and
stopped at teardown; anything else left running inside the namespace (a background job)
is stopped then too, found by the namespace it runs in.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from typing import TYPE_CHECKING, Any, Sequence

from testbed import kinds
from testbed.errors import CommandFailed
from testbed.kernel import linkstate
from testbed.model.plan import Node as NodePlan
from testbed.run import traffic

if TYPE_CHECKING:
    from testbed.run.network import Network


class Node:
    """A handle on one node of a running network."""

    def __init__(self, net: "Network", plan: NodePlan, netns: str, environment: dict[str, str] | None = None):
        self.net = net
        self.plan = plan
        self.name = plan.name
        self.kind = plan.kind
        self.netns = netns
        # what commands run here get besides the caller's environment: the run and node they run in,
        # and what the node's kind or backend adds (an OVS switch: its own OVS's folders)
        self.environment = {"TESTBED_RUN": net.run_id, "TESTBED_NODE": plan.name, **(environment or {})}

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name} in netns {self.netns}>"

    @property
    def kind_info(self) -> kinds.Kind:
        return kinds.of(self.kind)

    @property
    def intfs(self) -> list[str]:
        return [i.name for i in self.plan.interfaces]

    @property
    def ip(self) -> str | None:
        addresses = self.net.live_plan.node(self.name).addresses
        return addresses[0].split("/")[0] if addresses else None

    def _argv(self, command: str | Sequence[str]) -> list[str]:
        args = ["sh", "-c", command] if isinstance(command, str) else list(command)
        return ["ip", "netns", "exec", self.netns, *args]

    def run(self, command: str | Sequence[str], *, timeout: float | None = None, check: bool = False,
            input: str | None = None) -> subprocess.CompletedProcess:
        """Run a command inside the node and wait for it; a string goes through ``sh -c``.

        Its output goes to files, not pipes, so a job it leaves in the background
        (``cmd("iperf3 -s &")``) does not hold the call until that job ends: the call returns
        when the command itself exits, with what it printed. Background jobs run on inside
        the node until it is torn down.
        """
        with tempfile.TemporaryFile() as given, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            if input is not None:
                given.write(input.encode())
                given.seek(0)
            proc = self.popen(command, stdin=given if input is not None else subprocess.DEVNULL,
                              stdout=out, stderr=err)
            try:
                proc.wait(timeout=timeout)
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                self.net._forget(proc.pid)
            stdout, stderr = _read(out), _read(err)
        result = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
        if check and result.returncode != 0:
            raise CommandFailed(f"{self.name}: {command!r} exited {result.returncode}: {err.strip()[:300]}")
        return result

    def cmd(self, command: str | Sequence[str], **kwargs: Any) -> str:
        """Run a command and return its output (stdout then stderr), like Mininet's cmd()."""
        result = self.run(command, **kwargs)
        return result.stdout + result.stderr

    def popen(self, command: str | Sequence[str], **kwargs: Any) -> subprocess.Popen:
        """Start a command inside the node; it is journaled and stopped at teardown."""
        kwargs.setdefault("start_new_session", True)
        env = dict(kwargs.get("env") or os.environ)
        for var, value in self.environment.items():
            env.setdefault(var, value)
        kwargs["env"] = env
        return self.net._spawn(self._argv(command), **kwargs)

    def wait_listening(self, port: int, proc: subprocess.Popen | None = None, timeout: float = 20.0) -> None:
        """Wait until something in the node listens on TCP ``port`` (or ``proc`` exits)."""
        traffic.wait_listening(self, port, timeout=timeout, proc=proc)

    def counters(self) -> dict[str, dict[str, int]]:
        """Interface counters of this node, from netlink."""
        return self.net.worker.run_inside(self.netns, linkstate.counters)

    def set_link_state(self, intf: str, up: bool) -> None:
        self.net.worker.run_inside(self.netns, linkstate.set_up, [intf], up)


def _read(f) -> str:
    f.seek(0)
    return f.read().decode(errors="replace")
