"""pingall decides on static ARP before planning its pairs: probed_pairs must count exactly the
pairs that planning then pings (those where target_ip finds an address), per family."""
from __future__ import annotations

import glob
import os

import pytest

from testbed import load, plan
from testbed.planning.reach import families, target_ip
from testbed.run.pingall import probed_pairs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOPOLOGIES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "topologies", "*.py")))


def planned_pairs(p, names) -> dict[int, int]:
    found = families(p, names)
    counts = {f: 0 for f in found}
    for family in found:
        which = None if found == [4] else family
        counts[family] = sum(1 for s in names for d in names if s != d and target_ip(p, s, d, which) is not None)
    return counts


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_probed_pairs_counts_what_planning_pings(name):
    graph, params = load(os.path.join(ROOT, "topologies", f"{name}.py"), {})
    p = plan(graph, source=name, params=params)
    hosts = [n.name for n in p.nodes if n.kind in ("host", "server")]
    for names in (hosts, [n.name for n in p.nodes]):        # pingall's hosts, and every node
        assert probed_pairs(p, names, families(p, names)) == planned_pairs(p, names)
