"""FRR daemons of one router: own folder, config, pid files, vty and zebra sockets.

Everything of router r1 lives in /run/testbed/<run>/frr/r1/: frr.conf (the plan's text),
vtysh.conf (the prompt's hostname), the daemons' pid files (-i), their vty sockets
(--vty_socket, so ``vtysh --vty_socket DIR`` reaches exactly this router), zebra's API
socket (-z), one log per daemon, and bin/vtysh, a wrapper that points vtysh at the folder
(it is first on the PATH of commands run in the node). The system's FRR (/etc/frr,
/var/run/frr, its service) is never read, started or touched; the TCP vty ports are off
(-P 0).

Start: every config is first checked with FRR's own dry run (``vtysh -C``, one run for all
routers; an error in a router's frr_config is reported by its line there). Then every
router's zebra at once, then all the other daemons at once, each started inside its
router's namespace (posix_spawn from a thread in it, no ``ip netns exec``, with an empty
signal mask: that thread blocks SIGTERM, and a daemon that inherited it would not stop) with -d (it returns
when the daemon is ready) and its own part of frr.conf (frrconf.split), journaled by PID;
then ripd's and isisd's parts and a router's frr_config go to its daemons through
``vtysh -f`` (read from a startup config, RIP and IS-IS took 10-30 s to converge).

The folder is journaled (FrrRouter) before anything is made in it, so teardown and
``testbed clean`` stop a daemon whose PID never reached the journal: from its pid file,
only when its command line names the folder.
"""
from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, replace
from typing import Callable, ClassVar, Iterable

from testbed.concerns.routing.frrconf import split
from testbed.concerns.routing.records import Router
from testbed.errors import DeployError, EnvironmentProblem, Problem, TopologyError
from testbed.kernel import journal
from testbed.kernel.journal import Entry, Process, Removal, entry_type, run_dir
from testbed.kernel.procs import process_alive, process_start_time

FRR_LIBEXEC = "/usr/lib/frr"
VTYSH = "vtysh"
PACKAGE = "frr"
USER = "frr"
DAEMONS = ("bfdd", "bgpd", "ospfd", "ospf6d", "isisd", "ripd", "staticd", "zebra")   # stop order: zebra last
TIMEOUT = 30.0
Record = Callable[[list[Entry]], None]


def binary(daemon: str) -> str:
    return os.path.join(FRR_LIBEXEC, daemon)


def vtysh_path() -> str | None:
    return shutil.which(VTYSH) or shutil.which(VTYSH, path="/usr/bin:/bin")


def missing(daemons: Iterable[str]) -> list[str]:
    """The FRR programs (and user) a set of daemons needs that this machine lacks."""
    found = [binary(d) for d in sorted(set(daemons)) if not os.access(binary(d), os.X_OK)]
    if vtysh_path() is None:
        found.append(VTYSH)
    try:
        pwd.getpwnam(USER)
    except KeyError:
        found.append(f"the user {USER!r}")
    return found


def require(daemons: Iterable[str], routers: Iterable[str]) -> None:
    lacking = missing(daemons)
    if lacking:
        names = ", ".join(routers)
        raise EnvironmentProblem(f"routers {names} run FRR, but {', '.join(lacking)} is missing: "
                                 f"apt-get install {PACKAGE} (or `make install`)")


def router_dir(run_id: str, node: str) -> str:
    return os.path.join(run_dir(run_id), "frr", node)


@dataclass(frozen=True)
class Instance:
    """One router's FRR: its namespace and its folder."""

    node: str
    netns: str
    dir: str

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    @property
    def bin(self) -> str:
        return self.path("bin")

    def daemon_argv(self, daemon: str, ecmp: int) -> list[str]:
        """The daemon's command line (run inside the router's namespace)."""
        argv = [binary(daemon), "-d", "-f", self.path(f"{daemon}.conf"),
                "-i", self.path(f"{daemon}.pid"), "-z", self.path("zserv.api"), "--vty_socket", self.dir,
                "-P", "0", "--log", f"file:{self.path(daemon + '.log')}", "--log-level", "informational"]
        if daemon == "zebra":
            argv += ["-e", str(ecmp)]
        return argv

    def vtysh_argv(self, *args: str) -> list[str]:
        return [vtysh_path() or VTYSH, "--vty_socket", self.dir, "--config_dir", self.dir, *args]

    def run(self, argv: list[str], what: str, check: bool = True, timeout: float = TIMEOUT
            ) -> subprocess.CompletedProcess:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.dir)
        except subprocess.TimeoutExpired:
            raise DeployError(f"router {self.node}: {what} did not finish in {timeout:.0f} s") from None
        if check and done.returncode != 0:
            raise DeployError(f"router {self.node}: {what} failed (exit {done.returncode}): "
                              f"{(done.stdout + done.stderr).strip()[-600:]}{self._log_tail()}")
        return done

    def vtysh(self, *commands: str, daemon: str | None = None, timeout: float = TIMEOUT) -> str:
        """Output of vtysh -c COMMAND... against this router's daemons (or ``daemon`` alone)."""
        args = (["-d", daemon] if daemon else []) + [a for c in commands for a in ("-c", c)]
        done = self.run(self.vtysh_argv(*args), f"vtysh {' '.join(commands)}", check=False, timeout=timeout)
        return done.stdout + done.stderr

    def _log_tail(self) -> str:
        lines: list[str] = []
        for daemon in DAEMONS:
            try:
                with open(self.path(f"{daemon}.log")) as f:
                    lines += [l.strip() for l in f.readlines()[-20:] if "error" in l.lower()][-2:]
            except OSError:
                pass
        return ("; log: " + " / ".join(lines)) if lines else ""

    # ------------------------------------------------------------ files

    def write(self, router: Router) -> None:
        """The folder with frr.conf, each daemon's startup part of it (<daemon>.conf), what is
        configured once they run (late.conf), vtysh.conf and bin/vtysh, owned by FRR's user."""
        os.makedirs(self.bin, mode=0o755, exist_ok=True)
        with open(self.path("frr.conf"), "w") as f:
            f.write("\n".join(router.config) + "\n")
        parts = split(router.config, router.own_config_line)
        header = [line for line in router.config[:3] if line.startswith(("frr defaults ", "hostname "))]
        for daemon in router.daemons:
            with open(self.path(f"{daemon}.conf"), "w") as f:
                f.write("\n".join(header if daemon in LATE else parts.get(daemon, ())) + "\n")
        late, _ = late_config(router)
        if late:
            with open(self.path("late.conf"), "w") as f:
                f.write("\n".join(late) + "\n")
        with open(self.path("vtysh.conf"), "w") as f:
            f.write(f"hostname {self.node}\n")
        wrapper = self.path("bin/vtysh")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\n# vtysh of router {self.node} of this run\n'
                    f'exec {vtysh_path() or VTYSH} --vty_socket {self.dir} --config_dir {self.dir} "$@"\n')
        os.chmod(wrapper, 0o755)
        user = pwd.getpwnam(USER)
        os.chown(self.dir, user.pw_uid, user.pw_gid)

    def located(self, text: str, own_line: int) -> list[Problem]:
        """FRR's "line N: message" errors as Problems, placed in the router's frr_config where they are."""
        found = []
        for line, message in re.findall(r"line (\d+): (.*)", text):
            number = int(line)
            if own_line and number >= own_line:
                where = f"node {self.node!r} frr_config line {number - own_line + 1}"
            else:
                where = f"node {self.node!r} generated frr.conf line {number}"
            message = re.sub(r"\[\d+\]", "", message)
            found.append(Problem(where, " ".join(message.split()), "see FRR's documentation of the command"))
        return found

LATE = ("isisd", "ripd")   # configured once running: from a startup config their first adjacency took 10-30 s


def late_config(router: Router) -> tuple[list[str], int]:
    """What goes to a router's daemons through vtysh once they run: the parts of the daemons in
    LATE, then its frr_config; (lines, the line where frr_config begins or 0)."""
    parts = split(router.config, router.own_config_line)
    header = [line for line in router.config[:3] if line.startswith(("frr defaults ", "hostname "))]
    lines = [line for daemon in LATE if daemon in router.daemons for line in parts.get(daemon, [])[len(header):]]
    if not router.own_config_line:
        return lines, 0
    return lines + list(router.config[router.own_config_line - 1:]), len(lines) + 1


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0].strip(" %") if text.strip() else ""


@entry_type
@dataclass(frozen=True)
class FrrRouter(Entry):
    """A router's FRR folder (config, pid files, sockets, logs), journaled before it is made."""

    TYPE: ClassVar[str] = "frr"
    node: str
    netns: str
    dir: str

    def stop(self, removal: Removal) -> None:
        """Stop what is left of the router's daemons (by their pid files), delete the folder."""
        journal.remove_daemon_folder(self.dir, DAEMONS, removal, "frr")


Spawn = Callable[[str, list[str], str], int]      # (netns, argv, output file) -> PID of a process in netns


def check_all(instances: list[tuple[Instance, Router]]) -> list[Problem]:
    """Every router's frr.conf through FRR's own dry run (``vtysh -C``), all in one run: each
    config after the other in one file, an error placed back in its router by its line."""
    if not instances:
        return []
    first = instances[0][0]
    combined = os.path.join(os.path.dirname(first.dir), "check.conf")
    offsets, lines = [], []
    for inst, router in instances:
        offsets.append((len(lines), inst, router))
        lines += list(router.config)
    with open(combined, "w") as f:
        f.write("\n".join(lines) + "\n")
    try:
        done = first.run(first.vtysh_argv("-C", "-f", combined), "checking frr.conf", check=False)
    finally:
        os.unlink(combined)
    if done.returncode == 0:
        return []
    text = done.stdout + done.stderr
    found = []
    for line, message in re.findall(r"line (\d+): (.*)", text):
        number = int(line)
        base, inst, router = next(o for o in reversed(offsets) if o[0] < number)
        found += inst.located(f"line {number - base}: {message}", router.own_config_line)
    return found or [Problem("routers", f"FRR refused their configuration: {text[-400:]}")]


def start_all(instances: list[tuple[Instance, Router]], record: Record, spawn: Spawn) -> None:
    """Check every router's config, then start every router's daemons: every zebra at once,
    then every other daemon at once, each reading its part of frr.conf (it returns when it is
    ready), then what is configured once they run (RIP, IS-IS, frr_config) through vtysh.
    PIDs are journaled as the daemons report them."""
    for inst, router in instances:
        inst.write(router)
    problems = check_all(instances)
    if problems:
        raise TopologyError(problems, "frr_config")
    for first in (True, False):
        started = [(inst, daemon, spawn(inst.netns, inst.daemon_argv(daemon, router.ecmp),
                                        inst.path(f"{daemon}.out")))
                   for inst, router in instances
                   for daemon in (router.daemons[:1] if first else router.daemons[1:])]
        _finish(started, record)
    loading = [(inst, router, subprocess.Popen(inst.vtysh_argv("-f", inst.path("late.conf")),
                                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                               cwd=inst.dir))
               for inst, router in instances if late_config(router)[0]]
    failures: list[BaseException] = []
    for inst, router, proc in loading:
        text = _wait(proc)
        if proc.returncode == 0:
            continue
        _, own = late_config(router)

        def integrated(match: re.Match) -> str:       # a line of late.conf as a line of frr.conf
            number = int(match.group(1))
            return f"line {number - own + router.own_config_line}:" if own and number >= own else "line 0:"
        text = re.sub(r"line (\d+):", integrated, text)
        problems = inst.located(text, router.own_config_line)
        if problems and all("frr_config" in p.where for p in problems):
            failures.append(TopologyError([replace(p, what=f"{p.what} ({_first_line(text)})") for p in problems],
                                          "frr_config"))
        else:
            failures.append(DeployError(f"router {inst.node}: FRR refused part of frr.conf: {text.strip()[-600:]}"))
    if failures:
        raise failures[0]


def _wait(proc: subprocess.Popen) -> str:
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return (out or "") + (err or "")


def _exit_status(pid: int, timeout: float = TIMEOUT) -> int | None:
    """Wait for our child ``pid`` (a daemon's -d parent, which exits once the daemon is ready):
    its exit code, or None when it did not exit in time (then it is killed)."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.005)


def _finish(started: list[tuple[Instance, str, int]], record: Record) -> None:
    """Wait for daemons started with -d to be ready; journal their PIDs; the first failure raised
    once all are waited for."""
    entries, failures = [], []
    for inst, daemon, parent in started:
        code = _exit_status(parent)
        pid = journal.read_pid(inst.path(f"{daemon}.pid"))
        if pid is not None and process_alive(pid, None):
            entries.append(Process(pid, process_start_time(pid), daemon))
        if code != 0 or pid is None:
            try:
                with open(inst.path(f"{daemon}.out")) as f:
                    text = f.read()
            except OSError:
                text = ""
            failures.append(f"router {inst.node}: {daemon} did not start "
                            f"({'no exit in time' if code is None else f'exit {code}'}): "
                            f"{text.strip()[-300:]}{inst._log_tail()}")
    record(entries)
    if failures:
        raise DeployError("; ".join(failures[:3]))
