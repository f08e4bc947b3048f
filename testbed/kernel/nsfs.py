"""Named network namespaces, made and entered in-process (no fork per namespace).

A namespace is made by ``unshare(CLONE_NEWNET)`` in a helper thread and bind-mounted on
/run/netns/NAME, exactly where ``ip netns`` looks, so ``ip netns exec NAME ...`` works.
All namespace switching happens in one worker thread that always returns to the root
namespace; the main thread never changes namespace.
"""
from __future__ import annotations

import ctypes
import errno
import os
import signal
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, TypeVar

from testbed.errors import EnvironmentProblem

NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
MS_BIND, MS_REC, MS_SHARED = 4096, 16384, 1 << 20
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)
T = TypeVar("T")


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def netns_path(name: str) -> str:
    return os.path.join(NETNS_DIR, name)


def exists(name: str) -> bool:
    return os.path.exists(netns_path(name))


def ensure_netns_dir() -> None:
    """Make /run/netns a shared mount point, as ``ip netns add`` does, so that namespace
    mounts propagate into (and disappear from) mount namespaces made by ``ip netns exec``."""
    os.makedirs(NETNS_DIR, mode=0o755, exist_ok=True)
    if _libc.mount(None, NETNS_DIR.encode(), None, MS_SHARED | MS_REC, None) == 0:
        return
    if ctypes.get_errno() != errno.EINVAL:
        _check(-1, f"mount --make-shared {NETNS_DIR}")
    _check(_libc.mount(NETNS_DIR.encode(), NETNS_DIR.encode(), b"none", MS_BIND | MS_REC, None),
           f"mount --bind {NETNS_DIR}")
    _check(_libc.mount(None, NETNS_DIR.encode(), None, MS_SHARED | MS_REC, None),
           f"mount --make-shared {NETNS_DIR}")


def write_sysctl(key: str, value: str) -> None:
    """Set a net.* sysctl of the calling thread's namespace."""
    path = "/proc/sys/" + key.replace(".", "/")
    with open(path, "w") as f:
        f.write(str(value))


def remove(name: str) -> bool:
    """Unmount and delete a named namespace; False when it was not there."""
    path = netns_path(name)
    if not os.path.exists(path):
        return False
    if _libc.umount2(path.encode(), MNT_DETACH) != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
        _check(-1, f"umount {path}")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    return True


def signals_to_main() -> None:
    """(in a helper thread) Leave SIGINT and SIGTERM to the main thread.

    The kernel hands a process-directed signal to any thread that does not block it. Python
    runs its handlers in the main thread only, and only once that thread runs bytecode
    again: a signal taken by a helper thread leaves a main thread blocked in a read (a shell
    waiting on stdin) blocked, and Ctrl-C or SIGTERM seems lost. Every helper thread calls this first.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


class NetnsWorker:
    """One thread that creates and enters namespaces; every task returns it to the root."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="testbed-netns", initializer=signals_to_main)
        self._root_fd: int | None = None
        self._pool.submit(self._remember_root).result()

    def _remember_root(self) -> None:
        self._root_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    def _back_to_root(self) -> None:
        _check(_libc.setns(self._root_fd, CLONE_NEWNET), "setns back to the root namespace")

    def call(self, fn: Callable[..., T], *args) -> T:
        """Run ``fn(*args)`` in the worker thread (in the root namespace) and return its result.

        If the caller is interrupted (Ctrl-C, SIGTERM), the task still runs to its end before
        the interruption propagates, so a rollback never races a half-done step.
        """
        future = self._pool.submit(fn, *args)
        try:
            return future.result()
        except BaseException:
            while not future.done():
                try:
                    futures.wait([future])
                except BaseException:
                    continue
            raise

    # The methods below run inside the worker thread (called through call()).

    def create_here(self, name: str, setup: Callable[[], None] | None = None) -> None:
        """Make namespace ``name``, run ``setup()`` inside it, come back to the root."""
        path = netns_path(name)
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444)
        os.close(fd)
        try:
            _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
            try:
                src = b"/proc/thread-self/ns/net"
                _check(_libc.mount(src, path.encode(), b"none", MS_BIND, None), f"mount --bind {path}")
                if setup is not None:
                    setup()
            finally:
                self._back_to_root()
        except BaseException:
            remove(name)
            raise

    @contextmanager
    def inside(self, name: str) -> Iterator[None]:
        """Enter namespace ``name`` for the duration of the block (worker thread only)."""
        fd = os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC)
        try:
            _check(_libc.setns(fd, CLONE_NEWNET), f"setns into {name}")
        finally:
            os.close(fd)
        try:
            yield
        finally:
            self._back_to_root()

    def run_inside(self, name: str, fn: Callable[..., T], *args) -> T:
        """Run ``fn(*args)`` inside namespace ``name`` (from any thread)."""
        def task() -> T:
            with self.inside(name):
                return fn(*args)
        return self.call(task)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._root_fd is not None:
            os.close(self._root_fd)
            self._root_fd = None


def open_all(names: Iterable[str]) -> dict[str, int]:
    """File descriptors of named namespaces (for IFLA_NET_NS_FD); close them with close_all."""
    fds: dict[str, int] = {}
    try:
        for name in names:
            fds[name] = os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC)
    except BaseException:
        close_all(fds)
        raise
    return fds


def close_all(fds: dict[str, int]) -> None:
    for fd in fds.values():
        os.close(fd)
    fds.clear()


def raise_fd_limit(needed: int) -> None:
    """Allow ``needed`` more open files (one per namespace during a build), raising the hard
    limit too where allowed (root: up to fs.nr_open); EnvironmentProblem, with the numbers and
    the way out, when the process cannot have that many."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir("/proc/self/fd"))
    want = in_use + needed
    if soft == resource.RLIM_INFINITY or want <= soft:
        return
    if hard != resource.RLIM_INFINITY and want > hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return
        except (ValueError, OSError):
            raise EnvironmentProblem(
                f"building needs {needed} more open files than the {in_use} open now, and this process may "
                f"have at most {hard} (RLIMIT_NOFILE); raise it (`ulimit -n {want}` as root, or fs.nr_open) "
                "or build a smaller network") from None
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
