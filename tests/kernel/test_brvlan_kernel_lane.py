"""VLANs on Linux bridges (802.1Q vlan_filtering), in a stock-kernel guest: the host kernel
lacks bridge VLAN filtering. Slow (a few minutes under QEMU without KVM).

    sudo .venv/bin/python -m pytest -q tests/kernel/test_brvlan_kernel_lane.py
"""
import json
import os
import sys
import tempfile

import pytest

from testbed import vm

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VLAN = {"h1": 10, "h2": 20, "h3": 10, "h4": 20}


@pytest.mark.skipif(os.geteuid() != 0, reason="the stock-kernel lane runs as root")
@pytest.mark.timeout(900)
def test_vlans_on_linux_bridges():
    with tempfile.TemporaryDirectory(prefix="testbed-brvlan-vm-") as out:
        try:
            rc = vm.run_in_vm([sys.executable, os.path.join(HERE, "brvlan_guest.py"), out],
                              rwdirs=[out], cwd=ROOT, timeout=800)
        except vm.VMUnavailable as exc:
            pytest.skip(str(exc))
        assert rc == 0
        with open(os.path.join(out, "report.json")) as f:
            report = json.load(f)
    print("guest report:", json.dumps(report, sort_keys=True))   # shown with -s
    assert report["bridge_vlan_filtering"], report
    assert report["plan_filtering"] and report["sysfs_filtering"] == "1"
    access = {v["vlan"]: v.get("flags", []) for v in report["s1_vlans"]["s1-eth2"]}
    assert set(access) == {10} and "PVID" in access[10] and "Egress Untagged" in access[10]
    assert len(report["pairs"]) == 12
    assert report["pingall_ok"], report["pairs"]
    for pair, (expected, received) in report["pairs"].items():
        a, b = pair.split(">")
        assert expected == (VLAN[a] == VLAN[b]) and (received == 2 if expected else received == 0), pair
    assert report["left"] == []
