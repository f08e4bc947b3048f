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
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

from testbed.errors import EnvironmentProblem

NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
MS_BIND, MS_REC, MS_SHARED = 4096, 16384, 1 << 20
MNT_DETACH = 2
AT_FDCWD, AT_EMPTY_PATH = -100, 0x1000

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
    """Set a net.* sysctl of the calling thread's namespace (through /proc/sys: see Sysctls)."""
    path = "/proc/sys/" + key.replace(".", "/")
    with open(path, "w") as f:
        f.write(str(value))


SYS_FSOPEN, SYS_FSCONFIG, SYS_FSMOUNT = 430, 431, 432     # x86_64 and every other 64-bit arch but alpha
FSOPEN_CLOEXEC, FSCONFIG_CMD_CREATE, FSMOUNT_CLOEXEC = 1, 6, 1
_libc.syscall.restype = ctypes.c_long


def private_proc() -> int | None:
    """A new procfs instance, mounted nowhere (fsopen/fsmount): a directory fd, or None where the
    kernel (before 5.2) or the process cannot make one. Closing the fd unmounts it."""
    fs = _libc.syscall(SYS_FSOPEN, b"proc", FSOPEN_CLOEXEC)
    if fs < 0:
        return None
    try:
        if _libc.syscall(SYS_FSCONFIG, fs, FSCONFIG_CMD_CREATE, None, None, 0) < 0:
            return None
        mnt = _libc.syscall(SYS_FSMOUNT, fs, FSMOUNT_CLOEXEC, 0)
        return mnt if mnt >= 0 else None
    finally:
        os.close(fs)


class Sysctls:
    """Writes net.* sysctls of the calling thread's namespace, in a time that does not grow with
    the number of namespaces.

    Every namespace that looks up /proc/sys/net leaves a dentry named "net" under the one
    /proc/sys dentry, and the kernel tells them apart only by comparing each of them in turn
    (proc_sys_compare along one hash chain): with 8,000 namespaces alive, one sysctl write took
    3-25 ms instead of 30 us (benchmarks/netns_costs.py). So the writes go through a private
    procfs instance that is never mounted and is replaced every ``RENEW`` writes: its chains
    stay short, and its dentries go with it. Where none can be made, /proc/sys is used.
    """

    RENEW = 64

    def __init__(self) -> None:
        self._fd: int | None = None
        self._uses = 0
        self._private = True

    def write(self, key: str, value: str) -> None:
        if self._private and (self._fd is None or self._uses >= self.RENEW):
            self.close()
            self._fd = private_proc()
            self._private = self._fd is not None
        self._uses += 1
        relative = key.replace(".", "/")
        if self._fd is None:
            fd = os.open("/proc/sys/" + relative, os.O_WRONLY | os.O_CLOEXEC)
        else:
            fd = os.open("sys/" + relative, os.O_WRONLY | os.O_CLOEXEC, dir_fd=self._fd)
        try:
            os.write(fd, str(value).encode())
        finally:
            os.close(fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._uses = 0


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


def enter(path: str) -> None:
    """Move the calling thread into the network namespace at ``path`` (the worker thread, or
    a forked child's only thread: never another thread of the main process)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.setns(fd, CLONE_NEWNET), f"setns into {path}")
    finally:
        os.close(fd)


def signals_to_main() -> None:
    """(in a helper thread) Leave SIGINT and SIGTERM to the main thread.

    The kernel hands a process-directed signal to any thread that does not block it. Python
    runs its handlers in the main thread only, and only once that thread runs bytecode
    again: a signal taken by a helper thread leaves a main thread blocked in a read (a shell
    waiting on stdin) blocked, and Ctrl-C or SIGTERM seems lost. Every helper thread calls this first.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def in_threads(fn: Callable[[T], None], parts: Sequence[T]) -> None:
    """``fn(part)`` for every part at once: the first in the calling thread, each other in a
    helper thread (signals left to the main thread); the first exception is raised here once
    all are done."""
    if len(parts) <= 1:
        for part in parts:
            fn(part)
        return
    with ThreadPoolExecutor(max_workers=len(parts) - 1, thread_name_prefix="testbed-part",
                            initializer=signals_to_main) as pool:
        others = [pool.submit(fn, part) for part in parts[1:]]
        try:
            fn(parts[0])
        finally:
            futures.wait(others)
        for other in others:
            other.result()


class MountPoints:
    """The files namespaces are bind-mounted on (/run/netns/NAME), made as hard links of one file.

    Making a file takes a new inode, and on a file system that must not reuse an inode freed
    moments ago (ext4 without a journal checks every recently deleted one: recently_deleted())
    that grows with the namespaces removed in the last seconds, by this run or any other. A
    link takes no inode. A namespace is mounted on the name (the dentry), so linked names
    stay independent namespaces; the first file is held open and linked by its descriptor
    (linkat AT_EMPTY_PATH), since its own name is covered by its namespace's mount.
    """

    MAX_LINKS = 60_000           # ext4 allows 65,000 links to a file

    def __init__(self) -> None:
        self._fd: int | None = None
        self._links = 0

    def make(self, path: str) -> None:
        if self._fd is not None and self._links < self.MAX_LINKS:
            if _libc.linkat(self._fd, b"", AT_FDCWD, path.encode(), AT_EMPTY_PATH) == 0:
                self._links += 1
                return
            code = ctypes.get_errno()
            if code == errno.EEXIST:
                raise FileExistsError(code, os.strerror(code), path)
            self.close()          # the file is gone, or links are refused here: make new files
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
        self.close()
        self._fd, self._links = fd, 1

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class NetnsWorker:
    """One thread that creates and enters namespaces; every task returns it to the root."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="testbed-netns", initializer=signals_to_main)
        self._root_fd: int | None = None
        self._sysctls = Sysctls()
        self._mountpoints = MountPoints()
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

    def write_sysctl(self, key: str, value: str) -> None:
        """Set a net.* sysctl of the namespace the worker is in (see Sysctls)."""
        self._sysctls.write(key, value)

    def create_here(self, name: str, setup: Callable[[], None] | None = None) -> None:
        """Make namespace ``name``, run ``setup()`` inside it, come back to the root."""
        path = netns_path(name)
        self._mountpoints.make(path)
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
        enter(netns_path(name))
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
        if self._root_fd is not None:
            self._pool.submit(self._sysctls.close).result()
            self._pool.submit(self._mountpoints.close).result()
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
