"""Mininet 2.3.0's own example tests, unchanged, against ``testbed mn`` (a representative set).

Each runs Mininet's ``examples/test/test_<name>.py`` (from Debian's mininet package) with
its ``python -m mininet.examples.X`` pointed at ``testbed mn``; see mnexamples.py. The
long ones (treeping64, tree1024, limit...) run with ``TESTBED_MININET_EXAMPLES_ALL=1``, and
``python tests/integration/mnexamples.py`` runs all of them and prints the table of
docs/mininet.md. Every run must leave no run folder or namespace behind.
"""
from __future__ import annotations

import os

import pytest

import mnexamples

ALL = os.environ.get("TESTBED_MININET_EXAMPLES_ALL") == "1"
NAMES = sorted(n for n, (expected, _) in mnexamples.EXPECTED.items() if expected == "pass"
               and (ALL or n in mnexamples.FAST))
pytestmark = [pytest.mark.skipif(mnexamples.available() is not None, reason=str(mnexamples.available())),
              pytest.mark.timeout(1800 if ALL else 300)]


def our_runs() -> set[str]:
    import json
    found = set()
    for run in os.listdir("/run/testbed") if os.path.isdir("/run/testbed") else ():
        try:
            with open(os.path.join("/run/testbed", run, "meta.json")) as f:
                if str(json.load(f).get("source", "")).startswith("mininet"):
                    found.add(run)
        except (OSError, ValueError):
            continue
    return found


@pytest.mark.parametrize("name", NAMES)
def test_mininet_example(name):
    before = our_runs()
    outcome = mnexamples.run(name, timeout=1700 if ALL else 280)
    assert outcome.passed, f"test_{name}.py failed ({outcome.code}):\n{outcome.output[-4000:]}"
    left = our_runs() - before
    assert not left, f"runs of Mininet scripts left behind: {left}"


def test_an_example_that_needs_netem_says_so_and_passes_what_it_can():
    """intfoptions: bw and loss are measured here; its delay step is refused naming --vm."""
    import testbed
    if "netem" in testbed.kernel_features():
        pytest.skip("this kernel has netem: intfoptions passes whole")
    outcome = mnexamples.run_example("intfoptions", timeout=280)
    import re
    tcp = re.search(r"Results: \['([\d.]+) Mbits/sec", outcome.output)
    udp = re.search(r"Results: \['10M', '([\d.]+) Mbits/sec", outcome.output)
    assert tcp and 8.5 <= float(tcp.group(1)) <= 10.0, outcome.output[-3000:]
    assert udp and 3.5 <= float(udp.group(1)) <= 6.5, outcome.output[-3000:]       # 50 % lost
    assert "no netem" in outcome.output and "--vm" in outcome.output and outcome.code == 3
