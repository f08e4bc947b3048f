"""FRR configurations generated from the graph, pinned byte for byte (tests/unit/golden/frr/),
and checked with FRR's own dry run (``vtysh -C``) where FRR is installed.

Regenerate after an intended change with ``pytest tests/unit --update-golden``.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import networkx as nx
import pytest

from testbed import load, plan
from testbed.concerns.routing.frrconf import split

GOLDEN = Path(__file__).parent / "golden" / "frr"


def features() -> nx.Graph:
    """Every protocol and most settings: OSPF with two areas, costs and BFD, IS-IS, RIP, iBGP with a
    route reflector, eBGP with BFD, announce and redistribute, a router's own frr_config."""
    g = nx.Graph()
    g.add_node("a1", kind="router", routing={"ospf": {"area": 0}, "bgp": {"asn": 65010, "rr": True,
                                                                         "redistribute": ["connected"]}})
    g.add_node("a2", kind="router", routing={"ospf": {"area": 0, "redistribute": ["bgp"]},
                                             "bgp": {"asn": 65010}, "router_id": "192.0.2.2"})
    g.add_node("a3", kind="router", routing={"ospf": {"area": 1}}, frr_config="router ospf\n log-adjacency-changes detail\n")
    g.add_node("e1", kind="router", routing={"bgp": {"asn": 65020, "announce": ["198.51.100.0/24"]},
                                             "loopback": "10.254.0.1/32"})
    g.add_node("i1", kind="router", routing={"isis": {"metric": 20}, "ecmp": 4})
    g.add_node("i2", kind="router", routing={"isis": {}, "rip": {"update": 10, "timeout": 60, "garbage": 30}})
    g.add_node("p1", kind="router", routing="rip")
    g.add_node("h1", kind="host")
    g.add_node("h2", kind="host")
    g.add_edge("a1", "a2", ospf={"cost": {"a1": 5, "a2": 50}}, bfd=True)
    g.add_edge("a2", "a3", ospf={"area": 1, "hello": 2, "dead": 8})
    g.add_edge("a1", "e1", bfd={"interval": 300, "multiplier": 5})
    g.add_edge("a1", "i1", ospf=False)
    g.add_edge("i1", "i2", isis={"metric": 30}, bfd=True)
    g.add_edge("i2", "p1")
    g.add_edge("h1", "a3")
    g.add_edge("h2", "p1")
    return g


def _topology(name: str, params: dict) -> nx.Graph:
    graph, _ = load(f"topologies/{name}.py", params)
    return graph


CASES = {
    "ospf_ring": lambda: _topology("ospf_ring", {"n": "4", "bfd": "true"}),
    "leaf_spine": lambda: _topology("leaf_spine", {}),
    "bgp_as": lambda: _topology("bgp_as", {}),
    "ospf6_ring": lambda: _topology("ospf_ring", {"n": "3", "bfd": "true", "ipv6": "true"}),
    "features": features,
}


def configs(case: str) -> dict[str, str]:
    records = plan(CASES[case]()).concern("routing")
    return {r.node: "\n".join(r.config) + "\n" for r in records.routers}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_frr_configs(case, update_golden):
    folder = GOLDEN / case
    found = configs(case)
    if update_golden:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.conf"):
            old.unlink()
        for node, text in found.items():
            (folder / f"{node}.conf").write_text(text)
        return
    assert folder.is_dir(), f"{folder} missing: run pytest tests/unit --update-golden"
    assert sorted(p.stem for p in folder.glob("*.conf")) == sorted(found)
    for node, text in found.items():
        assert text == (folder / f"{node}.conf").read_text(), f"frr.conf of {node} ({case}) changed; review, " \
                                                              "then --update-golden"


def test_no_stale_golden_config_folders():
    assert {p.name for p in GOLDEN.iterdir()} <= set(CASES)


@pytest.mark.skipif(shutil.which("vtysh") is None, reason="FRR is not installed (apt-get install frr)")
@pytest.mark.parametrize("case", sorted(CASES))
def test_frr_accepts_every_golden_config(case, tmp_path):
    (tmp_path / "vtysh.conf").write_text("")
    for conf in sorted((GOLDEN / case).glob("*.conf")):
        done = subprocess.run(["vtysh", "-C", "--config_dir", str(tmp_path), "-f", str(conf)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{conf}: {done.stdout}{done.stderr}"


def test_frr_config_is_appended_and_its_first_line_known():
    router = plan(features()).concern("routing").router("a3")
    assert router.config[router.own_config_line - 1:router.own_config_line + 1] == \
        ("router ospf", " log-adjacency-changes detail")
    assert router.config[router.own_config_line - 2] == "! frr_config"


def test_daemons_are_the_ones_the_router_needs():
    records = plan(features()).concern("routing")
    daemons = {r.node: r.daemons for r in records.routers}
    assert daemons == {
        "a1": ("zebra", "ospfd", "bgpd", "bfdd"),
        "a2": ("zebra", "ospfd", "bgpd", "bfdd"),
        "a3": ("zebra", "ospfd"),
        "e1": ("zebra", "staticd", "bgpd", "bfdd"),
        "i1": ("zebra", "isisd", "bfdd"),
        "i2": ("zebra", "isisd", "ripd", "bfdd"),
        "p1": ("zebra", "ripd"),
    }


def test_configs_do_not_depend_on_the_run():
    """No path, run id or namespace in a config: the same topology gives the same text."""
    for case in CASES:
        for text in configs(case).values():
            assert "/run/" not in text and not re.search(r"\btb[0-9a-f]{6}\b", text), text


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_daemon_gets_its_part_of_the_config(case):
    """Every generated line reaches a daemon: the header every one, the rest exactly one."""
    for router in plan(CASES[case]()).concern("routing").routers:
        parts = split(router.config, router.own_config_line)
        assert set(parts) <= set(router.daemons)
        generated = router.config[:router.own_config_line - 2] if router.own_config_line else router.config
        header = [line for line in generated if line.startswith(("frr defaults ", "hostname "))]
        bodies = [line for daemon in parts.values() for line in daemon[len(header):]]
        wanted = [line for line in generated if line != "!" and line not in header]
        assert sorted(line for line in bodies if not line.startswith("interface ") and line != "exit") == \
            sorted(line for line in wanted if not line.startswith("interface ") and line != "exit")
        assert all(parts[d][:len(header)] == header for d in parts)
