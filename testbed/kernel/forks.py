"""Work shared with forked children, for the few jobs big enough to need both cores.

Threads of one process take turns at the GIL between their system calls; a job that is
half Python and half kernel work (a pingall of a million pairs, a million neighbour
entries) runs twice as fast in two processes. A child gets a copy of everything (open
sockets included), runs its part, sends back a result that ``marshal`` can carry, and
exits without running anything of this process (no atexit, no flushed buffers, no signal
handlers: SIGINT and SIGTERM are blocked across fork() and set to their defaults in the
child). If this process is interrupted, its children are ended by their PIDs; if it is
killed, the kernel ends them (PR_SET_PDEATHSIG).

A child has one thread and no NetnsWorker: it may enter namespaces itself (nsfs.enter).
"""
from __future__ import annotations

import ctypes
import marshal
import os
import signal
from typing import Any, Callable, Sequence, TypeVar

T = TypeVar("T")
PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class ChildFailed(OSError):
    """A child's part raised; ``what`` is its exception as text."""


def in_processes(fn: Callable[[T], Any], parts: Sequence[T]) -> list[Any]:
    """``fn(part)`` for every part at once: the first here, each other in a forked child;
    their results in order. A part that raises in a child raises ChildFailed here, once
    every part is done."""
    children: list[list] = []                      # [pid, read end of its pipe]: None once done with
    parent = os.getpid()
    try:
        for part in parts[1:]:
            read_end, write_end = os.pipe()
            held = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
            try:
                pid = os.fork()
                if pid == 0:
                    _child(fn, part, read_end, write_end, parent)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
            os.close(write_end)
            children.append([pid, read_end])
        results = [fn(parts[0])] if parts else []
        failure = None
        for child in children:
            with os.fdopen(child[1], "rb") as pipe:
                child[1] = None
                data = pipe.read()
            _, status = os.waitpid(child[0], 0)
            pid, child[0] = child[0], None
            ok, value = marshal.loads(data) if data else (False, f"exited {os.waitstatus_to_exitcode(status)}")
            if not ok and failure is None:
                failure = ChildFailed(f"child {pid}: {value}")
            results.append(value if ok else None)
        if failure is not None:
            raise failure
        return results
    finally:
        for pid, read_end in children:
            if pid is not None:                    # interrupted: end our child
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
            if read_end is not None:
                os.close(read_end)


def _child(fn, part, read_end: int, write_end: int, parent: int) -> None:
    """(in the forked child) Run the part, write (ok, result or error text), exit: never returns."""
    code = 1
    try:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)   # dies with the thread that forked it (which waits for it)
        if os.getppid() != parent:
            return                                 # that thread died before the line above
        for sig in _SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
        os.close(read_end)
        try:
            reply = (True, fn(part))
        except Exception as exc:                   # told to the parent, which raises it
            reply = (False, f"{type(exc).__name__}: {exc}")
        with os.fdopen(write_end, "wb") as out:
            out.write(marshal.dumps(reply))
        code = 0
    finally:
        os._exit(code)
