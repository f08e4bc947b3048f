"""`testbed doctor`: the report's form, and the probe run once per process."""
from __future__ import annotations

import json

from testbed.cli.main import main
from testbed.kernel import caps
from testbed.kernel.caps import Capability


def test_report_says_what_is_missing_and_how_to_get_it():
    found = (Capability("htb", True, "link bw (rate limits)", "a kernel with CONFIG_NET_SCH_HTB"),
             Capability("netem", False, "link delay and jitter", "`testbed run --vm`", "NetlinkError: (2, 'No such file')"),
             Capability("qemu", None, "`--vm`", "apt-get install qemu-system-x86", "not probed"))
    lines = caps.report(found).splitlines()
    assert lines[1] == "  yes htb    link bw (rate limits)"
    assert lines[2] == "  NO  netem  link delay and jitter"
    assert lines[3].strip() == "get it: `testbed run --vm` (NetlinkError: (2, 'No such file'))"
    assert lines[4] == "  ?   qemu   `--vm`"
    data = json.loads(caps.to_json(found))
    assert [c["name"] for c in data["capabilities"]] == ["htb", "netem", "qemu"]
    assert data["capabilities"][1] == {"name": "netem", "ok": False, "enables": "link delay and jitter",
                                       "remedy": "`testbed run --vm`", "detail": "NetlinkError: (2, 'No such file')"}


def test_doctor_exits_0_and_lists_every_capability(capsys):
    assert main(["doctor", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = {c["name"] for c in data["capabilities"]}
    lane = {"qemu", "virtme-ng", "busybox-static", "stock-kernel", "kvm"}
    assert set(caps.KERNEL) | set(caps.TOOLS) | {"user-namespaces"} | lane == names
    for c in data["capabilities"]:
        assert c["ok"] in (True, False, None) and c["enables"] and c["remedy"]
    assert main(["doctor"]) == 0
    assert "testbed doctor: kernel" in capsys.readouterr().out
    caps.features()
    assert caps._kernel_results.cache_info().misses == 1         # probed once per process


def _lane(name):
    from testbed import vm
    return next(c for c in vm.lane_capabilities() if c.name == name)


def test_virtme_ng_is_found_where_vm_finds_it_in_the_venv(tmp_path, monkeypatch):
    """vng in the venv's bin (next to this Python) counts even when that folder is not on PATH."""
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    vng = bin_dir / "vng"
    vng.write_text("#!/bin/sh\n")
    vng.chmod(0o755)
    monkeypatch.setattr("sys.executable", str(bin_dir / "python"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    found = _lane("virtme-ng")
    assert found.ok is True and found.detail == str(vng)
    from testbed import vm
    assert vm.find_vng() == str(vng)
    monkeypatch.setattr("sys.executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert _lane("virtme-ng").ok is False


def test_kvm_says_what_vm_will_use_and_what_was_probed(monkeypatch):
    from testbed import vm
    monkeypatch.delenv("TESTBED_VM_KVM", raising=False)
    kvm = _lane("kvm")
    assert kvm.ok == vm.kvm_usable()                     # what --vm will do, not what /dev/kvm allows
    assert "no guest was booted" in kvm.detail
    monkeypatch.setattr(vm, "_cpu_flags", lambda: ["fpu", "sse"])     # a CPU without vmx/svm
    kvm = _lane("kvm")
    assert kvm.ok is False and "no vmx/svm" in kvm.detail and "software emulation" in kvm.detail
    monkeypatch.setenv("TESTBED_VM_KVM", "1")
    assert _lane("kvm").ok is True and "TESTBED_VM_KVM=1" in _lane("kvm").detail
