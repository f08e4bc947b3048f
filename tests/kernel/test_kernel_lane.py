"""The stock-kernel lane: what this kernel lacks, tested in a QEMU guest booted from a stock one.

One guest boot for the whole lane (a module-scoped fixture): it runs run_lane.py, which
builds real networks and measures them (netem delay, jitter, loss, queue limit), probes
802.1Q, VLAN-filtering bridges and the OVS kernel module, and writes lane.json to a
folder shared with the guest. Each check is then its own test item here.

These tests never skip: when the lane is not installed they fail, saying how to install
it (`make test` installs it). The guest needs no root on this machine, only QEMU, a stock
kernel image and virtme-ng (see scripts/install-vm-lane.sh).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from testbed import vm
from testbed.cli import vmrun

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "tests" / "kernel" / "run_lane.py"
GUEST_TIMEOUT = 900.0                       # seconds; the lane takes 2-4 minutes under emulation
CHECKS = ("caps_netem", "caps_8021q", "caps_bridge-vlan-filtering", "caps_openvswitch-module", "caps_red",
          "caps_dctcp", "netem_delay", "netem_jitter", "netem_loss", "netem_queue", "ovs_kernel_datapath",
          "linux_bridge_vlans", "linux_bridge_untagged_uplink", "ipv6", "cli_run", "red_ecn_queue", "dctcp_quick",
          "mathis_model")

pytestmark = pytest.mark.timeout(GUEST_TIMEOUT + 120)


@pytest.fixture(scope="module")
def lane(tmp_path_factory, request) -> dict:
    """Boot the guest once, run every check in it, return lane.json (with host timings)."""
    out = tmp_path_factory.mktemp("kernel-lane")
    try:
        vm.lane_tools()
    except vm.VMUnavailable as exc:
        pytest.fail(f"the stock-kernel lane is not installed: {exc}", pytrace=False)
    started = time.monotonic()
    rc = vm.run_in_vm([sys.executable, "-P", str(RUNNER), str(out)], rwdirs=[str(out)], cwd=str(ROOT),
                      timeout=GUEST_TIMEOUT, stage=vmrun.STAGED)
    wall = time.monotonic() - started
    result_file = out / "lane.json"
    if not result_file.exists():
        pytest.fail(f"the guest wrote no {result_file} (runner exit code {rc}); its output is above",
                    pytrace=False)
    document = json.loads(result_file.read_text())
    document.update(host_wall_s=round(wall, 1), runner_exit_code=rc)
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():       # the timings show in every run's log
        print(f"\nkernel lane: {wall:.0f} s in all; guest kernel {document['kernel']} ready "
              f"{document['ready_after_boot_s']} s after boot, imports {document['imports_s']} s, "
              f"checks {document['checks_s']} s", flush=True)
    return document


def test_guest_runs_a_stock_kernel(lane: dict) -> None:
    import os
    assert lane["kernel"] != os.uname().release, "the guest booted the host's kernel"
    assert lane["kernel"].endswith("-amd64"), lane["kernel"]


def test_runner_verdict_matches_checks(lane: dict) -> None:
    """run_lane.py exits 0 exactly when every check in lane.json passed."""
    all_ok = all(c["ok"] for c in lane["checks"].values())
    assert (lane["runner_exit_code"] == 0) == all_ok, lane["runner_exit_code"]


@pytest.mark.parametrize("name", CHECKS)
def test_check(lane: dict, name: str) -> None:
    check = lane["checks"].get(name)
    assert check is not None, f"{name} did not run in the guest; ran: {', '.join(lane['checks'])}"
    shown = {k: v for k, v in check.items() if k not in ("ok", "detail", "traceback", "qdiscs", "table")}
    assert check["ok"], (f"{check['detail']}\n{shown}\n{check.get('traceback', '')}{check.get('qdiscs', '')}"
                         f"{check.get('table', '')}")
