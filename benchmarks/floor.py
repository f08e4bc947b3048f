"""The kernel's floor for a topology: its namespaces, bridges and veths made by the simplest
in-process loop, and removed again; what any tool has to pay here for the same objects.

    from floor import floor
    floor(graph)   # {"build": s, "stop": s, "namespaces": s, "links": s, and "<that>_cpu": s of CPU}
    floor(graph, linked=True)   # mount points as hard links of one file (as testbed makes them)

One namespace per node (a new file on /run/netns, unshare(CLONE_NEWNET), a bind mount: what
``ip netns add`` does, without the fork), a Linux bridge in each node that is not a host, then
for each edge one netlink request that makes the veth pair with both ends in their namespaces,
the switch's end up in its bridge, and one request (from inside the host) that brings the
host's end up. Each request waits for its answer. No addresses, routes, journal or planning:
what is left is the kernel's own work and one thread's system calls. The stop removes the
namespaces (their links go with them). Run in a helper thread, as testbed does, so the calling
thread never leaves its namespace. Nothing is left behind, also when it fails.
"""
from __future__ import annotations

import ctypes
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from testbed.kernel import nlencode, nsfs  # noqa: E402  (message encoders; nsfs.MountPoints with linked=True)

CLONE_NEWNET, MS_BIND, MNT_DETACH = 0x40000000, 4096, 2
CREATE = 1 | 4 | 0x400 | 0x200        # REQUEST | ACK | CREATE | EXCL
CHANGE = 1 | 4
libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _request(sock: socket.socket, message: bytes, what: str) -> None:
    sock.send(message)
    reply = sock.recv(65536)
    code = -struct.unpack_from("i", reply, 16)[0]
    if code:
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _netlink() -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
    sock.bind((0, 0))
    return sock


def _mac(i: int) -> str:
    return "02:fb:%02x:%02x:%02x:%02x" % (i >> 24 & 255, i >> 16 & 255, i >> 8 & 255, i & 255)


def _build_and_stop(graph, prefix: str, out: dict, linked: bool = False) -> None:
    nodes = list(graph.nodes)
    hosts = {n for n in nodes if graph.nodes[n].get("kind", "host") == "host"}
    paths = {n: f"/run/netns/{prefix}{n}" for n in nodes}
    root = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    made: list[str] = []
    mountpoints = nsfs.MountPoints() if linked else None
    try:
        start, cpu_start = time.perf_counter(), time.process_time()
        for n in nodes:
            if mountpoints is not None:
                mountpoints.make(paths[n])
            else:
                os.close(os.open(paths[n], os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444))
            made.append(n)
            _check(libc.unshare(CLONE_NEWNET), "unshare")
            try:
                _check(libc.mount(b"/proc/thread-self/ns/net", paths[n].encode(), b"none", MS_BIND, None), "mount")
            finally:
                _check(libc.setns(root, CLONE_NEWNET), "setns")
        namespaces, cpu_namespaces = time.perf_counter(), time.process_time()
        sock = _netlink()
        seq = 0
        port = {n: 2 if n in hosts else 3 for n in nodes}    # next ifindex (lo is 1; a switch's bridge 2)
        try:
            for n in nodes:
                if n not in hosts:
                    fd = os.open(paths[n], os.O_RDONLY | os.O_CLOEXEC)
                    try:
                        seq += 1
                        _request(sock, nlencode.device(seq, CREATE, kind="bridge", name="br", index=2, mac=_mac(seq),
                                                       netns_fd=fd, up=True, data={"stp_state": 0}), f"bridge in {n}")
                    finally:
                        os.close(fd)
            host_ends = []
            for i, (a, b) in enumerate(graph.edges()):
                if a in hosts and b not in hosts:
                    a, b = b, a                   # a: the bridged end (if any)
                fa, fb = (os.open(paths[x], os.O_RDONLY | os.O_CLOEXEC) for x in (a, b))
                ia, ib = port[a], port[b]
                port[a] += 1
                port[b] += 1
                try:
                    seq += 1
                    _request(sock, nlencode.veth(seq, CREATE, name=f"e{i}a", index=ia, mac=_mac(2 * i + 1 << 8),
                                                 netns_fd=fa, master=None if a in hosts else 2, up=True,
                                                 peer_name=f"e{i}b", peer_index=ib, peer_mac=_mac(2 * i + 2 << 8),
                                                 peer_netns_fd=fb), f"veth {a}-{b}")
                finally:
                    os.close(fa)
                    os.close(fb)
                host_ends.append((b, ib, None if b in hosts else 2))
            for n, index, master in host_ends:   # the other end up (in its bridge), from inside its namespace
                fd = os.open(paths[n], os.O_RDONLY | os.O_CLOEXEC)
                try:
                    _check(libc.setns(fd, CLONE_NEWNET), "setns")
                finally:
                    os.close(fd)
                try:
                    inner = _netlink()
                    try:
                        seq += 1
                        _request(inner, nlencode.setlink(seq, CHANGE, index=index, up=True, master=master), f"up in {n}")
                    finally:
                        inner.close()
                finally:
                    _check(libc.setns(root, CLONE_NEWNET), "setns")
        finally:
            sock.close()
        built, cpu_built = time.perf_counter(), time.process_time()
        out.update(build=built - start, namespaces=namespaces - start, links=built - namespaces,
                   build_cpu=cpu_built - cpu_start, namespaces_cpu=cpu_namespaces - cpu_start,
                   links_cpu=cpu_built - cpu_namespaces)
    finally:
        stop, cpu_stop = time.perf_counter(), time.process_time()
        for n in made:
            libc.umount2(paths[n].encode(), MNT_DETACH)
            os.unlink(paths[n])
        out.update(stop=time.perf_counter() - stop, stop_cpu=time.process_time() - cpu_stop)
        os.close(root)
        if mountpoints is not None:
            mountpoints.close()


def floor(graph, prefix: str | None = None, linked: bool = False) -> dict:
    """Build ``graph``'s namespaces, bridges and veths by the simplest loop and remove them: seconds.

    ``linked``: each mount point a hard link of one file instead of a new file (nsfs.MountPoints):
    a new inode costs more as more were freed in the last seconds here (by anyone)."""
    prefix = prefix or f"fl{os.getpid() % 100000}-"
    out: dict = {}
    errors: list[BaseException] = []

    def run() -> None:
        try:
            _build_and_stop(graph, prefix, out, linked)
        except BaseException as exc:
            errors.append(exc)
    worker = threading.Thread(target=run, name="floor")
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
    return out
