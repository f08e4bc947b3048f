"""Two runs of the same topology at the same time never clash."""
from __future__ import annotations

import threading

from itest import load_network


def test_two_networks_of_one_topology_built_concurrently():
    nets = [load_network("single", n=4), load_network("single", n=4)]
    errors: list[BaseException] = []

    def start(net) -> None:
        try:
            net.start()
        except BaseException as exc:       # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(n,)) for n in nets]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors
        assert nets[0].run_id != nets[1].run_id
        assert nets[0]["h1"].netns != nets[1]["h1"].netns
        results = []
        pingers = [threading.Thread(target=lambda n=n: results.append(n.pingall(count=2))) for n in nets]
        for t in pingers:
            t.start()
        for t in pingers:
            t.join(timeout=60)
        assert len(results) == 2
        for result in results:
            assert result.ok and all(p.received == 2 for p in result.pairs), result.matrix()
        # the same addresses and MACs live in both, isolated from each other
        assert nets[0].plan.node("h1").addresses == nets[1].plan.node("h1").addresses
    finally:
        for net in nets:
            net.stop()


def test_two_cli_runs_at_the_same_time(owned):
    import subprocess
    import sys
    from itest import ROOT, RUN_ID_RE
    procs = [subprocess.Popen([sys.executable, "-m", "testbed.cli.main", "run", "topologies/tree.py",
                               "--test", "pingall", "--count", "2"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=90) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        for run_id in RUN_ID_RE.findall(err):
            owned.add(run_id)
        assert proc.returncode == 0, (out, err)
        assert "12 pairs, 12 expected to connect, 0 wrong" in out
    assert len(owned.run_ids) == 2
