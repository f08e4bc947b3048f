"""nftables through libnftables (ctypes), in the calling thread's network namespace.

libnftables opens its netlink socket in the namespace of the thread that uses it, so a
worker thread that has entered a node's namespace (nsfs.NetnsWorker.inside) configures
that node without a fork. Tables vanish with their namespace.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache

from testbed.errors import EnvironmentProblem
from testbed.shaping import LOSS_SCALE

TABLE = "testbed"


class NftError(OSError):
    """nft refused a ruleset; the message holds nft's own error text."""


@lru_cache(maxsize=1)
def _lib() -> ctypes.CDLL:
    name = ctypes.util.find_library("nftables") or "libnftables.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        raise EnvironmentProblem("libnftables is missing: apt-get install nftables (or libnftables1)") from None
    lib.nft_ctx_new.restype = ctypes.c_void_p
    lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
    lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
    lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
    lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    return lib


def run(text: str) -> str:
    """Run an nft script (like ``nft -f``) in this thread's namespace; return its output."""
    lib = _lib()
    ctx = lib.nft_ctx_new(0)
    if not ctx:
        raise NftError("nft_ctx_new failed")
    try:
        lib.nft_ctx_buffer_output(ctx)
        lib.nft_ctx_buffer_error(ctx)
        rc = lib.nft_run_cmd_from_buffer(ctx, text.encode())
        if rc != 0:
            error = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode(errors="replace").strip()
            raise NftError(f"nft refused the ruleset: {error}")
        return (lib.nft_ctx_get_output_buffer(ctx) or b"").decode(errors="replace")
    finally:
        lib.nft_ctx_free(ctx)


def threshold(percent: float) -> int:
    """The numgen bound that drops ``percent`` % of packets: random mod LOSS_SCALE < bound."""
    return round(percent * LOSS_SCALE / 100)


def ingress_drop_rules(ifname: str, percent: float) -> str:
    """An nft script dropping ``percent`` % of what arrives on ``ifname`` (netdev ingress hook)."""
    return (f"table netdev {TABLE} {{\n"
            f"  chain loss-{ifname} {{\n"
            f"    type filter hook ingress device \"{ifname}\" priority filter; policy accept;\n"
            f"    numgen random mod {LOSS_SCALE} < {threshold(percent)} counter drop\n"
            f"  }}\n"
            f"}}\n")


def apply_ingress_loss(drops: list[tuple[str, float]]) -> None:
    """Install every (ifname, percent) drop of this namespace in one transaction."""
    if drops:
        run("".join(ingress_drop_rules(ifname, percent) for ifname, percent in drops))
