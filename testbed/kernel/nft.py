"""nftables in a node's namespace, two ways.

* In-process: libnftables (ctypes) opens its netlink socket in the namespace of the thread
  that uses it, so the worker thread of the process that built the network, inside a
  node's namespace (``worker.run_inside(netns, nft.run, script)``), loads rulesets and
  reads them without a fork. The deploy and a running Network use this.
* From any other process (`testbed counters RUN NODE` against another process's run,
  which has no worker in that run's namespaces): the ``nft`` tool through ``ip netns exec``.

The readers (``counters``, ``tables``, ``set_elements``, ``jumps``) take the namespace and,
when the caller has one, the worker: with it they run in-thread, without it through the tool.

Tables vanish with their namespace, so nothing needs deleting at teardown.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import json
import subprocess
from functools import lru_cache
from typing import TYPE_CHECKING

from testbed.errors import DeployError, EnvironmentProblem

if TYPE_CHECKING:
    from testbed.kernel.nsfs import NetnsWorker

TABLE = "testbed"
LOSS_SCALE = 1_000_000            # loss rules: numgen random mod LOSS_SCALE < threshold


class NftError(DeployError, OSError):
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
    lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
    return lib


NFT_CTX_OUTPUT_JSON = 1 << 4        # libnftables.h: output as `nft -j` prints it


def run(text: str, json_output: bool = False) -> str:
    """Run an nft script (like ``nft -f``, or ``nft -j`` with ``json_output``) in this
    thread's namespace; return its output."""
    lib = _lib()
    ctx = lib.nft_ctx_new(0)
    if not ctx:
        raise NftError("nft_ctx_new failed")
    try:
        if json_output:
            lib.nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON)
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
    bound = threshold(percent)
    match = "" if bound >= LOSS_SCALE else f"numgen random mod {LOSS_SCALE} < {bound} "    # 100 %: every frame
    return (f"table netdev {TABLE} {{\n"
            f"  chain loss-{ifname} {{\n"
            f"    type filter hook ingress device \"{ifname}\" priority filter; policy accept;\n"
            f"    {match}counter drop\n"
            f"  }}\n"
            f"}}\n")


def apply_ingress_loss(drops: list[tuple[str, float]]) -> None:
    """Install every (ifname, percent) drop of this namespace in one transaction."""
    if drops:
        run("".join(ingress_drop_rules(ifname, percent) for ifname, percent in drops))


# ---------------------------------------------------------------- reading a namespace's tables

NFT_TIMEOUT = 15.0


def _nft(netns: str, args: list[str]) -> str:
    """``nft ARGS`` in ``netns`` through ``ip netns exec`` (for a process without a worker there)."""
    argv = ["ip", "netns", "exec", netns, "nft", *args]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=NFT_TIMEOUT)
    except FileNotFoundError:
        raise DeployError("nft is not installed: apt-get install nftables") from None
    if proc.returncode != 0:
        raise DeployError(f"nft {' '.join(args)} in {netns} failed: {proc.stderr.strip()[:500]}")
    return proc.stdout


def query(netns: str, command: str, worker: "NetnsWorker | None" = None) -> dict:
    """``nft -j COMMAND`` in ``netns``, parsed: in the worker's thread when given, else via the tool."""
    if worker is None:
        text = _nft(netns, ["-j", *command.split()])
    else:
        try:
            text = worker.run_inside(netns, run, command, True)
        except NftError as exc:
            raise DeployError(f"nft {command} in {netns} failed: {exc}") from None
    return json.loads(text or "{}")


def counters(netns: str, family: str, table: str, worker: "NetnsWorker | None" = None) -> dict[str, dict[str, int]]:
    """name -> {"packets", "bytes"} for every named counter of a table."""
    data = query(netns, f"list counters table {family} {table}", worker)
    result = {}
    for item in data.get("nftables", []):
        counter = item.get("counter")
        if counter is not None:
            result[counter["name"]] = {"packets": counter["packets"], "bytes": counter["bytes"]}
    return result


def tables(netns: str, worker: "NetnsWorker | None" = None) -> list[tuple[str, str]]:
    """(family, name) of every table in ``netns``."""
    data = query(netns, "list tables", worker)
    return [(t["table"]["family"], t["table"]["name"]) for t in data.get("nftables", []) if "table" in t]


def set_elements(netns: str, family: str, table: str, name: str, worker: "NetnsWorker | None" = None) -> list:
    """The elements of a named set (as nft's JSON gives them)."""
    data = query(netns, f"list set {family} {table} {name}", worker)
    for item in data.get("nftables", []):
        if "set" in item:
            return list(item["set"].get("elem", []))
    return []


def jumps(netns: str, family: str, table: str, chain: str, worker: "NetnsWorker | None" = None) -> dict[str, str]:
    """iifname -> target chain of the ``iifname "X" jump Y`` rules of a chain."""
    data = query(netns, f"list chain {family} {table} {chain}", worker)
    found = {}
    for item in data.get("nftables", []):
        rule = item.get("rule")
        if rule is None:
            continue
        ifname = target = None
        for stmt in rule.get("expr", []):
            match = stmt.get("match")
            if match and match.get("left", {}).get("meta", {}).get("key") == "iifname":
                ifname = match.get("right")
            if "jump" in stmt:
                target = stmt["jump"]["target"]
        if ifname and target:
            found[ifname] = target
    return found
