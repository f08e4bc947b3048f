"""The reproducibility scripts end to end on real namespaces (root), and `testbed report` on their results."""
import csv
import json
import os
import shutil

import pytest

from l2util import namespaces, root_links

from testbed.cli.main import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPERIMENTS = os.path.join(ROOT, "experiments")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(any(shutil.which(t) is None for t in ("iperf3", "ping", "tcpdump", "ss")),
                       reason="needs iperf3, ping, tcpdump and ss"),
]


def run_folder(out: str, name: str) -> str:
    (entry,) = os.scandir(os.path.join(out, name))
    return entry.path


def assert_nothing_left(meta: dict, links_before: set[str]) -> None:
    run_ids = [n["run_id"] for n in meta["topology"]["networks"]]
    assert run_ids and all(run_ids)
    assert not [ns for ns in namespaces() if any(ns.startswith(r) for r in run_ids)]
    assert not [ln for ln in root_links() - links_before if any(r in ln for r in run_ids)]


@pytest.mark.timeout(240)
def test_hub_vs_bridge_end_to_end_and_report(tmp_path, capsys):
    links_before = root_links()
    out = str(tmp_path / "results")
    code = main(["experiment", os.path.join(EXPERIMENTS, "hub_vs_bridge.py"), "--repeat", "2",
                 "--param", "duration=1", "--out", out])     # hub/switch x linux/ovs
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    folder = run_folder(out, "hub_vs_bridge")
    assert {"results.csv", "results.json", "meta.json", "experiment.py", "plots", "artifacts"} <= set(os.listdir(folder))

    with open(os.path.join(folder, "results.csv")) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and {(r["kind"], r["backend"]) for r in rows} == {
        (k, b) for k in ("hub", "switch") for b in ("linux", "ovs")}
    for row in rows:
        share = float(row["bystander_share"])
        if row["kind"] == "hub":
            assert share > 0.9 and int(row["bystander_unicast_frames"]) > 0.5 * int(row["flow_packets"])
        else:
            assert share < 0.01
        assert float(row["aggregate_mbps"]) > 1.0
    data = json.load(open(os.path.join(folder, "results.json")))
    assert all(c["ok"] for c in data["checks"]) and len(data["checks"]) == 3
    assert all(isinstance(r["tcp1_intervals"], list) and r["tcp1_intervals"] for r in data["rows"])
    meta = json.load(open(os.path.join(folder, "meta.json")))
    assert meta["end"] and meta["error"] is None and meta["tools"]["iperf3"].startswith("iperf 3")
    assert len(meta["topology"]["networks"]) == 4          # one network per device, reused over repetitions
    for network in meta["topology"]["networks"]:          # what each network used, and its offloads
        ovs = network["params"]["backend"] == "ovs"
        assert network["tools_used"] == (["openvswitch"] if ovs else [])
        offloads = [v for v in network["offloads"].values() if isinstance(v, dict)]
        assert len(offloads) == 8                            # both ends of four links
        # OVS's userspace datapath needs tx checksum offload off on its veths (testbed.ovs.deploy)
        assert all(v["tx-checksumming"].startswith("off" if ovs else "on") for v in offloads), network
    assert meta["tools"].get("openvswitch") and os.path.isfile(os.path.join(folder, "report.html"))
    for name in ("bystander.png", "throughput.png"):
        path = os.path.join(folder, "plots", name)
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        assert os.path.getsize(path) > 5000
    pcaps = [p for p in os.listdir(os.path.join(folder, "artifacts")) if p.endswith(".pcap")]
    assert len(pcaps) == 8
    assert "PASS  hub_floods_bystander" in captured.out and "PASS  bridge_spares_bystander" in captured.out
    assert_nothing_left(meta, links_before)

    # report: re-plot and re-check from the stored files alone
    shutil.rmtree(os.path.join(folder, "plots"))
    assert main(["report", folder]) == 0
    assert "PASS  bridge_spares_bystander" in capsys.readouterr().out
    assert os.path.getsize(os.path.join(folder, "plots", "bystander.png")) > 5000

    # the same results against a stricter claim fail it
    strict = tmp_path / "strict.py"
    strict.write_text(open(os.path.join(folder, "experiment.py")).read().replace(
        "s >= 0.9 for s in shares", "s >= 1000 for s in shares"))
    assert main(["report", folder, "--experiment", str(strict)]) == 1
    assert "FAIL  hub_floods_bystander" in capsys.readouterr().out


@pytest.mark.timeout(60)
def test_three_hosts_bridge(tmp_path, capsys):
    links_before = root_links()
    out = str(tmp_path / "results")
    code = main(["experiment", os.path.join(EXPERIMENTS, "three_hosts_bridge.py"), "--out", out])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    folder = run_folder(out, "three_hosts_bridge")
    data = json.load(open(os.path.join(folder, "results.json")))
    reached = {(r["bridge"], r["pair"]): r["received"] > 0 for r in data["rows"]}
    assert reached[(True, "B->C")] and reached[(True, "C->B")]
    assert not reached[(False, "B->C")] and not reached[(False, "C->B")]
    assert reached[(False, "B->A")] and reached[(False, "C->A")]
    assert os.path.getsize(os.path.join(folder, "plots", "reachability.png")) > 5000
    assert_nothing_left(json.load(open(os.path.join(folder, "meta.json"))), links_before)
