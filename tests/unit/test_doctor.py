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
    assert set(caps.KERNEL) | set(caps.TOOLS) | {"user-namespaces", "stock-kernel", "kvm"} == names
    for c in data["capabilities"]:
        assert c["ok"] in (True, False, None) and c["enables"] and c["remedy"]
    assert main(["doctor"]) == 0
    assert "testbed doctor: kernel" in capsys.readouterr().out
    caps.features()
    assert caps._kernel_results.cache_info().misses == 1         # probed once per process
