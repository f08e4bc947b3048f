"""Random loss on arrival with XDP, for ports whose frames a packet socket reads first.

The shaping concern drops a lossy direction's frames on arrival with nftables' netdev
ingress hook. A switch that reads its ports with packet sockets (Open vSwitch's userspace
datapath) gets every frame before that hook runs, so there the drop is a tiny XDP
program instead, attached in generic (skb) mode: it runs before any packet socket sees the
frame, silently, like loss on a wire. The program is seven eBPF instructions, assembled
here (no compiler, no ELF file):

    r0 = bpf_get_prandom_u32()
    w0 %= 1000000
    if r0 < threshold goto drop
    r0 = XDP_PASS; exit
    drop: r0 = XDP_DROP; exit

Runs in the calling thread's namespace (a worker thread inside the node's namespace). The
program goes with its interface (and the namespace).
"""
from __future__ import annotations

import ctypes
import errno
import os
import struct

from testbed.errors import EnvironmentProblem
from testbed.kernel.netlink import NetlinkError

SCALE = 1_000_000                 # drop when random mod SCALE < threshold
BPF_PROG_LOAD = 5
BPF_PROG_TYPE_XDP = 6
SYS_BPF = 321                     # x86_64
XDP_PASS, XDP_DROP = 2, 1
XDP_FLAGS_SKB_MODE = 1 << 1
IFLA_XDP, IFLA_XDP_FD, IFLA_XDP_FLAGS, IFLA_XDP_PROG_ID = 43, 1, 3, 4
FUNC_GET_PRANDOM_U32 = 7
LOG_SIZE = 4096

_libc = ctypes.CDLL(None, use_errno=True)


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def program(threshold: int) -> bytes:
    """The eBPF instructions of a drop of ``threshold``/SCALE of the frames."""
    return b"".join((
        _insn(0x85, imm=FUNC_GET_PRANDOM_U32),      # call bpf_get_prandom_u32
        _insn(0x94, dst=0, imm=SCALE),              # w0 %= SCALE (32-bit, zero-extends r0)
        _insn(0xA5, dst=0, off=2, imm=threshold),   # if r0 < threshold goto +2
        _insn(0xB7, dst=0, imm=XDP_PASS),           # r0 = XDP_PASS
        _insn(0x95),                                # exit
        _insn(0xB7, dst=0, imm=XDP_DROP),           # r0 = XDP_DROP
        _insn(0x95),                                # exit
    ))


def threshold(percent: float) -> int:
    return min(SCALE, max(0, round(percent * SCALE / 100)))


def load(percent: float) -> int:
    """Load the drop program for ``percent`` % loss; its file descriptor."""
    code = program(threshold(percent))
    insns = ctypes.create_string_buffer(code, len(code))
    license = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(LOG_SIZE)
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<IIQQIIQ", attr, 0, BPF_PROG_TYPE_XDP, len(code) // 8, ctypes.addressof(insns),
                     ctypes.addressof(license), 1, LOG_SIZE, ctypes.addressof(log))
    name = b"testbed_loss"
    struct.pack_into("16s", attr, 48, name)
    fd = _libc.syscall(SYS_BPF, BPF_PROG_LOAD, attr, len(attr))
    if fd < 0:
        code_ = ctypes.get_errno()
        if code_ in (errno.ENOSYS, errno.EPERM, errno.EINVAL):
            raise EnvironmentProblem(f"loading an XDP loss program failed ({os.strerror(code_)}): this kernel "
                                     f"does not allow BPF here; verifier: {log.value.decode(errors='replace')[:200]}")
        raise OSError(code_, f"bpf(BPF_PROG_LOAD): {os.strerror(code_)}")
    return fd


def attach(ipr, index: int, ifname: str, fd: int) -> None:
    """Attach program ``fd`` (generic mode) to interface ``index``; fd -1 detaches."""
    from pyroute2.netlink.exceptions import NetlinkError as PyrNetlinkError
    try:
        ipr.link("set", index=index, IFLA_XDP={"attrs": [("IFLA_XDP_FD", fd), ("IFLA_XDP_FLAGS", XDP_FLAGS_SKB_MODE)]})
    except PyrNetlinkError as exc:
        raise NetlinkError(exc.code, f"{'detach' if fd < 0 else 'attach'} XDP loss program on {ifname}") from None


def apply_loss(drops: list[tuple[str, float]]) -> None:
    """Drop ``percent`` % of what arrives on each named interface of this namespace."""
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        for ifname, percent in drops:
            found = ipr.link_lookup(ifname=ifname)
            if not found:
                raise NetlinkError(errno.ENODEV, f"attach XDP loss program on {ifname}")
            fd = load(percent)
            try:
                attach(ipr, found[0], ifname, fd)
            finally:
                os.close(fd)


def remove_loss(names: list[str]) -> None:
    """Detach any XDP program from the named interfaces of this namespace."""
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        for ifname in names:
            found = ipr.link_lookup(ifname=ifname)
            if found:
                attach(ipr, found[0], ifname, -1)
