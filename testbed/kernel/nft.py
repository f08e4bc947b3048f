"""nftables in a namespace: load a ruleset, read named counters, add set elements.

Each call runs the ``nft`` tool inside the namespace through ``ip netns exec`` (rules
die with their namespace, so nothing needs deleting at teardown).
"""
from __future__ import annotations

import json
import subprocess

from testbed.errors import DeployError

NFT_TIMEOUT = 15.0


def _nft(netns: str, args: list[str], script: str | None = None) -> str:
    argv = ["ip", "netns", "exec", netns, "nft", *args]
    try:
        proc = subprocess.run(argv, input=script, capture_output=True, text=True, timeout=NFT_TIMEOUT)
    except FileNotFoundError:
        raise DeployError("nft is not installed: apt-get install nftables") from None
    if proc.returncode != 0:
        raise DeployError(f"nft {' '.join(args)} in {netns} failed: {proc.stderr.strip()[:500]}")
    return proc.stdout


def load(netns: str, script: str) -> None:
    """Load an nft script (tables, chains, sets, counters) into ``netns``."""
    _nft(netns, ["-f", "-"], script)


def counters(netns: str, family: str, table: str) -> dict[str, dict[str, int]]:
    """name -> {"packets", "bytes"} for every named counter of a table."""
    data = json.loads(_nft(netns, ["-j", "list", "counters", "table", family, table]) or "{}")
    result = {}
    for item in data.get("nftables", []):
        counter = item.get("counter")
        if counter is not None:
            result[counter["name"]] = {"packets": counter["packets"], "bytes": counter["bytes"]}
    return result


def tables(netns: str) -> list[tuple[str, str]]:
    """(family, name) of every table in ``netns``."""
    data = json.loads(_nft(netns, ["-j", "list", "tables"]) or "{}")
    return [(t["table"]["family"], t["table"]["name"]) for t in data.get("nftables", []) if "table" in t]


def set_elements(netns: str, family: str, table: str, name: str) -> list:
    """The elements of a named set (as nft's JSON gives them)."""
    data = json.loads(_nft(netns, ["-j", "list", "set", family, table, name]) or "{}")
    for item in data.get("nftables", []):
        if "set" in item:
            return list(item["set"].get("elem", []))
    return []


def jumps(netns: str, family: str, table: str, chain: str) -> dict[str, str]:
    """iifname -> target chain of the ``iifname "X" jump Y`` rules of a chain."""
    data = json.loads(_nft(netns, ["-j", "list", "chain", family, table, chain]) or "{}")
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
