"""A private Open vSwitch for each OVS switch of a run: own database, daemons, sockets.

Where the switch-side veth ends live: each OVS switch keeps its own namespace (like every
other node) and gets its own ovsdb-server and ovs-vswitchd started *inside that
namespace*. The userspace (netdev) datapath opens its ports with AF_PACKET sockets, which
only see the daemon's own namespace, so the daemon has to run where the ports are; one
daemon pair per switch keeps "one node = one namespace" true (``ip netns exec`` on a
switch shows its ports, names need not be unique across switches, the planner's interface
indexes stay valid) at the cost of two small processes per switch (about 0.2 s to start;
switches start in parallel: linear,10 builds in 0.6-2 s here, against 0.1-0.3 s with Linux
bridges). The one-namespace-for-all-switches alternative would need run-unique port names
and a second mapping from nodes to namespaces everywhere. A switch with
``controller="testcontroller"`` gets a third daemon, an ovs-testcontroller listening on a
Unix socket in the same folder.

Everything of a switch lives in /run/testbed/<run_id>/ovs/<switch>/ (conf.db, db.sock,
pid, log and control files; OVS_RUNDIR, OVS_DBDIR, OVS_LOGDIR and OVS_SYSCONFDIR point
there), so the system's Open vSwitch (/var/run/openvswitch/db.sock) is never contacted.
Daemons are started with --detach (the call returns once they are ready), then journaled
by PID with their start time; the folder itself is journaled first, so ``testbed clean``
can also stop a daemon whose PID never made it to the journal (it reads the pid files
and checks the process's command line names this folder before signalling it).

The kernel datapath is used where the openvswitch module is loaded, the userspace one
otherwise (``datapath="auto"``); with the userspace datapath the deployer turns tx
checksum offload off on every veth end of the switch's links (see ethtool.py).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterable

from testbed.errors import CommandFailed, DeployError, EnvironmentProblem, TestbedError
from testbed.kernel import journal
from testbed.kernel.journal import Entry, Process, Removal, entry_type
from testbed.kernel.procs import process_alive, process_start_time

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
TOOLS = ("ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl", "ovs-appctl")
DAEMONS = ("ovs-vswitchd", "ovs-testcontroller", "ovsdb-server")   # stop order
TESTCONTROLLER = "ovs-testcontroller"
TIMEOUT = 30.0
OVS_ENV = ("OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR")    # where the tools find a daemon
Record = Callable[[list[Entry]], None]


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None] + ([] if os.path.exists(SCHEMA) else [SCHEMA])


def require_tools() -> None:
    missing = missing_tools()
    if missing:
        raise EnvironmentProblem(f"Open vSwitch switches need {', '.join(missing)}: "
                                 "apt-get install openvswitch-switch (or use backend 'linux')")


def kernel_datapath() -> bool:
    """Is the openvswitch kernel module loaded?"""
    return os.path.isdir("/sys/module/openvswitch")


def datapath_type(choice: str) -> str:
    """The OVS datapath_type for a switch's 'datapath' setting ("auto", "netdev", "system")."""
    if choice == "auto":
        return "system" if kernel_datapath() else "netdev"
    return choice


@dataclass(frozen=True)
class Instance:
    """One switch's private Open vSwitch: its namespace and its folder."""

    switch: str
    netns: str
    dir: str

    @property
    def db(self) -> str:
        return os.path.join(self.dir, "conf.db")

    @property
    def sock(self) -> str:
        return os.path.join(self.dir, "db.sock")

    def pidfile(self, daemon: str) -> str:
        return os.path.join(self.dir, f"{daemon}.pid")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for var in OVS_ENV:
            env[var] = self.dir
        return env

    def run(self, argv: list[str], what: str, input: str | None = None,
            error: type[TestbedError] = DeployError) -> str:
        """Run an OVS tool against this instance; ``error`` naming ``what`` when it fails."""
        try:
            proc = subprocess.run(argv, env=self.env(), input=input, capture_output=True, text=True,
                                  timeout=TIMEOUT, cwd=self.dir)
        except subprocess.TimeoutExpired:
            raise error(f"switch {self.switch}: {what} did not finish in {TIMEOUT:.0f} s") from None
        except FileNotFoundError as exc:
            raise EnvironmentProblem(f"switch {self.switch}: {what}: {exc}") from None
        if proc.returncode != 0:
            raise error(f"switch {self.switch}: {what} failed: {(proc.stderr or proc.stdout).strip()[:400]}"
                        f"{self._log_tail()}")
        return proc.stdout

    def vsctl(self, *args: str, error: type[TestbedError] = CommandFailed) -> str:
        """``ovs-vsctl ARGS`` against this instance's database."""
        argv = ["ovs-vsctl", f"--db=unix:{self.sock}", "--timeout=20", *args]
        return self.run(argv, "ovs-vsctl " + " ".join(args), error=error)

    def ofctl(self, *args: str, error: type[TestbedError] = CommandFailed) -> str:
        """``ovs-ofctl ARGS`` against this instance (a bridge name finds its .mgmt socket here)."""
        return self.run(["ovs-ofctl", *args], "ovs-ofctl " + " ".join(args), error=error)

    def appctl(self, *args: str, error: type[TestbedError] = CommandFailed) -> str:
        """``ovs-appctl ARGS`` against this instance's ovs-vswitchd."""
        return self.run(["ovs-appctl", "-t", "ovs-vswitchd", *args], "ovs-appctl " + " ".join(args), error=error)

    def _log_tail(self) -> str:
        lines: list[str] = []
        for daemon in DAEMONS:
            try:
                with open(os.path.join(self.dir, f"{daemon}.log")) as f:
                    lines += [l.rstrip() for l in f.readlines()[-3:] if "|ERR|" in l or "|WARN|" in l]
            except OSError:
                pass
        return ("; log: " + " / ".join(lines)) if lines else ""

    # ------------------------------------------------------------ lifecycle

    @property
    def controller_target(self) -> str:
        """Where the switch finds a controller the run starts (a Unix socket in the folder)."""
        return f"unix:{os.path.join(self.dir, 'controller.sock')}"

    def start(self, record: Record, setup: Iterable[list[str]], controller: bool = False) -> None:
        """Create the database, apply ``setup`` (ovs-vsctl argument lists), start the daemons:
        ovsdb-server, an ovs-testcontroller on ``controller_target`` if asked, ovs-vswitchd."""
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        self.run(["ovsdb-tool", "create", self.db, SCHEMA], "ovsdb-tool create")
        self._daemon(record, "ovsdb-server", [self.db, f"--remote=punix:{self.sock}"])
        if controller:
            if shutil.which(TESTCONTROLLER) is None:
                raise EnvironmentProblem(f"switch {self.switch}: controller 'testcontroller' needs "
                                         f"{TESTCONTROLLER}: apt-get install openvswitch-testcontroller")
            self._daemon(record, TESTCONTROLLER, ["p" + self.controller_target])
        args = ["--no-wait", "--", "init"]
        for command in setup:
            args += ["--", *command]
        self.run(["ovs-vsctl", f"--db=unix:{self.sock}", "--timeout=20", *args], "configuring the bridge")
        self._daemon(record, "ovs-vswitchd", [f"unix:{self.sock}"])
        self._check_interfaces()

    def _check_interfaces(self) -> None:
        """ovs-vswitchd has configured every interface, or DeployError with its reasons."""
        out = self.vsctl("--format=csv", "--data=bare", "--no-headings", "--columns=name,ofport,error",
                         "list", "interface", error=DeployError)
        failed = []
        for line in out.splitlines():
            name, ofport, error = (line.split(",", 2) + ["", ""])[:3]
            if error.strip() or ofport.strip() in ("", "-1"):
                failed.append(f"{name}: {error.strip().strip(chr(34)) or 'not attached'}")
        if failed:
            raise DeployError(f"switch {self.switch}: Open vSwitch could not attach {'; '.join(failed)}"
                              f"{self._log_tail()}")

    def _daemon(self, record: Record, daemon: str, args: list[str]) -> None:
        argv = ["ip", "netns", "exec", self.netns, "sh", "-c", DETACH_NETNS, "sh",
                daemon, *args, f"--pidfile={self.pidfile(daemon)}",
                f"--log-file={os.path.join(self.dir, daemon + '.log')}", "--detach", "--no-chdir"]
        # no --unixctl: each daemon makes <folder>/<daemon>.<pid>.ctl (OVS_RUNDIR is the folder), where
        # ovs-appctl looks by default, so `ovs-appctl dpctl/show` in the switch finds its own daemon
        self.run(argv, f"starting {daemon}")
        pid = journal.read_pid(self.pidfile(daemon))
        if pid is None:
            raise DeployError(f"switch {self.switch}: {daemon} started but wrote no pid file{self._log_tail()}")
        record([Process(pid, process_start_time(pid), daemon)])


# ``ip netns exec`` gives the daemon its own mount namespace, a slave of the machine's: every
# namespace any run mounts on /run/netns later is copied into it and every removal is passed
# on to it, for as long as the daemon lives (1,654 copies were seen in one daemon's mount
# namespace during a 10,101-node build; each removal then also detached them one by one, each
# waiting for an RCU grace period under the lock of /run/netns). The daemon needs no
# /run/netns, so it lets go of it (lazily: ip netns exec holds nothing there) before it starts.
DETACH_NETNS = 'while umount -l /run/netns 2>/dev/null; do :; done; exec "$@"'


@entry_type
@dataclass(frozen=True)
class OvsInstance(Entry):
    """A switch's private Open vSwitch (its folder holds the database, sockets and pid files).

    Journaled before anything is made in the folder, so teardown and ``testbed clean`` can
    stop a daemon whose PID never made it to the journal (read from its pid file, and only
    when the process's command line names this folder)."""

    TYPE: ClassVar[str] = "ovs"
    node: str
    netns: str
    dir: str

    @property
    def instance(self) -> Instance:
        return Instance(self.node, self.netns, self.dir)

    def release(self, removal: Removal) -> None:
        """Delete the datapath devices before the daemons stop.

        The userspace datapath's devices (ovs-netdev and one per bridge) are persistent taps:
        left in a namespace, the kernel moves them to the root namespace when the namespace
        goes. ``exit --cleanup`` makes ovs-vswitchd delete them; any tap still in the switch's
        namespace after that (a daemon killed earlier) is deleted by name.
        """
        inst = self.instance
        if not inst.netns or not os.path.isdir(inst.dir):
            return
        pid = journal.read_pid(inst.pidfile("ovs-vswitchd"))
        if pid is not None and process_alive(pid, None) and \
                journal.daemon_of(pid, DAEMONS, os.path.realpath(inst.dir)):
            try:
                inst.appctl("exit", "--cleanup")
            except TestbedError:
                pass
        listed = subprocess.run(["ip", "-n", inst.netns, "-o", "link", "show", "type", "tun"],
                                capture_output=True, text=True, timeout=TIMEOUT)
        for line in listed.stdout.splitlines():
            name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
            if name:
                subprocess.run(["ip", "-n", inst.netns, "link", "del", name], capture_output=True, timeout=TIMEOUT)

    def stop(self, removal: Removal) -> None:
        """Stop what is left of the instance (by its pid files) and delete its folder."""
        journal.remove_daemon_folder(self.dir, DAEMONS, removal, "ovs")
