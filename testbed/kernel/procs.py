"""Processes a run started: identified by PID and start time, stopped by PID only.

A PID alone can be reused by another process after ours ends, so every check compares
the start time recorded in the run's journal. Nothing here ever looks processes up by
name.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time


def end_child(proc: subprocess.Popen, timeout: float = 2.0) -> None:
    """End a child this process started (its Popen: the PID cannot have been reused while
    we have not waited for it): SIGTERM, SIGKILL after ``timeout`` s, and reap it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _stat(pid: int) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name (state first), None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(b")") + 2:].split()


def children_of(pid: int) -> set[int]:
    """The PIDs whose parent is ``pid`` now."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None and int(fields[1]) == pid:
                found.add(int(entry))
    return found


def process_start_time(pid: int) -> int | None:
    """The start time of a process in clock ticks (to tell a PID from a reused one)."""
    fields = _stat(pid)
    return None if fields is None else int(fields[19])


def process_alive(pid: int, start: int | None) -> bool:
    now = process_start_time(pid)
    return now is not None and (start is None or now == start)


def stop_process(pid: int, start: int | None, grace: float = 1.0) -> bool:
    """SIGTERM, then SIGKILL after ``grace`` seconds, a process we started (PID + start time).

    A process that leads its own process group (node.popen() starts a new session) is
    stopped with its whole group, so a shell's children do not outlive the run.
    """
    if not process_alive(pid, start):
        return False
    group = _leads_group(pid)
    _send(pid, signal.SIGTERM, group)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _running(pid, start, group):
            return True
        time.sleep(0.02)
    _send(pid, signal.SIGKILL, group)
    return True


def stop_signal(pid: int) -> None:
    """Send SIGTERM to a process, or to its whole group when it leads one."""
    _send(pid, signal.SIGTERM, _leads_group(pid))


def _leads_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


def _send(pid: int, sig: int, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _running(pid: int, start: int | None, group: bool) -> bool:
    """Is the process (or, for a group leader, any process of its group) still running?"""
    if not group:
        return process_alive(pid, start) and not _zombie(pid)
    for name in os.listdir("/proc"):
        if name.isdigit() and _group_of(int(name)) == pid:
            return True
    return False


def _group_of(pid: int) -> int | None:
    """The process group of a live (not zombie) process, else None."""
    fields = _stat(pid)
    return None if fields is None or fields[0] == b"Z" else int(fields[2])


def _zombie(pid: int) -> bool:
    fields = _stat(pid)
    return fields is None or fields[0] == b"Z"


def namespace_inode(path: str) -> int | None:
    """The inode of the network namespace bound at ``path`` (None: not there)."""
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def in_namespaces(inodes: set[int]) -> list[tuple[int, int | None]]:
    """(pid, start time) of every process whose network namespace is one of ``inodes``
    (this process excluded): what runs inside a set of namespaces, found by identity."""
    found = []
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            link = os.readlink(f"/proc/{name}/ns/net")
        except OSError:
            continue
        if link.startswith("net:[") and int(link[5:-1]) in inodes:
            found.append((int(name), process_start_time(int(name))))
    return found


def stop_all(processes: list[tuple[int, int | None]], grace: float = 1.0) -> int:
    """SIGTERM every (pid, start), wait up to ``grace`` s for all of them, SIGKILL the rest.
    Returns how many were running."""
    alive = [(p, s) for p, s in processes if process_alive(p, s)]
    for pid, _ in alive:
        _send(pid, signal.SIGTERM, False)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(process_alive(p, s) and not _zombie(p) for p, s in alive):
        time.sleep(0.02)
    for pid, start in alive:
        if process_alive(pid, start) and not _zombie(pid):
            _send(pid, signal.SIGKILL, False)
    return len(alive)


def spawn(argv: list[str], output: str) -> int:
    """Start ``argv`` in the calling thread's network namespace (posix_spawn: safe from any
    thread), stdin from /dev/null, stdout and stderr appended to ``output``, with an empty signal
    mask and SIGINT/SIGTERM at their default actions whatever the calling thread blocks; its PID
    (the caller waits for it with os.waitpid)."""
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    try:
        return os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, fd, 1), (os.POSIX_SPAWN_DUP2, fd, 2)],
            setsigmask=(), setsigdef=(signal.SIGINT, signal.SIGTERM))
    finally:
        os.close(fd)
