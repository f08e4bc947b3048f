"""Open vSwitch with the kernel datapath, in a stock-kernel guest (the openvswitch module
is missing on the host kernel). Slow (about 2 minutes under QEMU without KVM).

    sudo .venv/bin/python -m pytest -q tests/kernel/test_ovs_kernel_lane.py
"""
import json
import os
import sys
import tempfile

import pytest

from testbed import vm

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


@pytest.mark.skipif(os.geteuid() != 0, reason="the stock-kernel lane runs as root")
@pytest.mark.timeout(900)
def test_vlans_through_the_kernel_datapath():
    with tempfile.TemporaryDirectory(prefix="testbed-ovs-vm-") as out:
        try:
            rc = vm.run_in_vm([sys.executable, os.path.join(HERE, "ovs_guest.py"), out],
                              rwdirs=[out], cwd=ROOT, timeout=800)
        except vm.VMUnavailable as exc:
            pytest.skip(str(exc))
        assert rc == 0
        with open(os.path.join(out, "report.json")) as f:
            report = json.load(f)
    assert report["kernel_datapath"] and report["auto"] == "system"
    assert report["datapath_type"] == "system" and "(system)" in report["dpif"]
    assert report["pingall_ok"], report["pairs"]
    vlan = {"h1": 10, "h2": 20, "h3": 10, "h4": 20}
    for pair, (expected, received) in report["pairs"].items():
        a, b = pair.split(">")
        assert expected == (vlan[a] == vlan[b]) and (received == 2 if expected else received == 0), pair
    assert report["tcp_bps"] > 10e6
    assert not report["left"]
