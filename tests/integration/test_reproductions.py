"""The reproductions' quick variants end to end on real namespaces (root), and --rerun of a stored result.

The full runs (and DCTCP, which needs a stock kernel) are in docs/reproductions.md and the
kernel lane (tests/kernel); here each experiment's ``--param quick=true`` must hold its claims.
"""
import json
import os
import shutil
import subprocess

import pytest

from testbed.cli.main import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPERIMENTS = os.path.join(ROOT, "experiments")

pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in ("iperf3", "ping", "ss", "ethtool", "curl", "tc")),
                                reason="needs iperf3, ping, ss, ethtool, curl and tc")


def namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def only_run(out: str, name: str) -> str:
    (entry,) = os.scandir(os.path.join(out, name))
    return entry.path


def run_quick(name: str, out: str, capsys, *extra: str) -> tuple[int, str, str]:
    extra = extra or ("--repeat", "1")
    code = main(["experiment", os.path.join(EXPERIMENTS, f"{name}.py"), "--param", "quick=true", "--out", out,
                 "--format", "png", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_claims(folder: str, names: list[str]) -> list[dict]:
    data = json.load(open(os.path.join(folder, "results.json")))
    assert [c["name"] for c in data["checks"]] == names
    failed = [c for c in data["checks"] if c["status"] == "fail"]       # a SKIP (natively unmeasurable) is no failure
    assert not failed, failed
    meta = json.load(open(os.path.join(folder, "meta.json")))
    run_ids = [n["run_id"] for n in meta["topology"]["networks"]]
    assert run_ids and not [ns for ns in namespaces() if any(ns.startswith(r + "-") for r in run_ids)]
    return data["rows"]


def assert_plots(folder: str, names: list[str]) -> None:
    for name in names:
        path = os.path.join(folder, "plots", name)
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", name
        assert os.path.getsize(path) > 5000, name


@pytest.mark.timeout(300)
def test_bufferbloat_quick(tmp_path, capsys):
    out = str(tmp_path / "results")
    code, stdout, err = run_quick("bufferbloat", out, capsys)
    assert code == 0, stdout + err
    folder = only_run(out, "bufferbloat")
    rows = assert_claims(folder, ["delay_approaches_the_bloat", "queue_fills", "bloat_slows_fetches", "sawtooth"])
    assert sorted((r["queue"], r["fetch"]) for r in rows) == [(20, "object"), (100, "object")]
    by_queue = {r["queue"]: r for r in rows}
    assert by_queue[100]["rtt_p99_ms"] > 3 * by_queue[20]["rtt_p99_ms"]
    for r in rows:                      # every series was sampled about every 0.1 s for the whole run
        assert len(r["queue_series"]) >= 0.8 * r["duration"] / 0.1 and len(r["rtt_series"]) >= 0.8 * r["duration"] / 0.1
        assert r["congestion_control"] == "reno" and r["fetches"] >= 3 and r["fetch_failures"] == 0
    assert "propagation RTT ~0" in stdout
    assert_plots(folder, ["fetch.png", "fetch_cdf.png"])     # the series plots (cwnd, queue, rtt) show page runs
    assert not os.path.exists(os.path.join(folder, "plots", "queue.png"))


@pytest.mark.timeout(300)
def test_buffer_sizing_quick(tmp_path, capsys):
    out = str(tmp_path / "results")
    code, stdout, err = run_quick("buffer_sizing", out, capsys)
    assert code == 0, stdout + err
    folder = only_run(out, "buffer_sizing")
    rows = assert_claims(folder, ["follows_one_over_sqrt_n", "below_rule_of_thumb", "native_small_buffer_suffices",
                                  "link_carries_the_load"])
    statuses = {c["name"]: c["status"] for c in json.load(open(os.path.join(folder, "results.json")))["checks"]}
    if not rows[0]["max_delay_ms"]:                                   # no delay (no netem): no pipe to keep full
        assert statuses["follows_one_over_sqrt_n"] == statuses["below_rule_of_thumb"] == "skip"
    summaries = [r for r in rows if r["row"] == "summary"]
    assert sorted(r["flows"] for r in summaries) == [4, 16]
    for s in summaries:
        steps = [r for r in rows if r["row"] == "step" and r["flows"] == s["flows"]]
        assert len(steps) == s["steps"]
        reached = [r["buffer"] for r in steps if r["reached"]]
        assert s["min_buffer"] == min(reached)                     # the smallest buffer that kept the link busy
        assert all(r["utilization"] < 1.02 for r in steps)          # byte counters never exceed the shaped rate
    assert_plots(folder, ["min_buffer.png", "utilization.png"])


@pytest.mark.timeout(120)
def test_dctcp_refuses_here_naming_the_way_out(tmp_path, capsys):
    from testbed import kernel_features
    if {"dctcp", "red"} <= set(kernel_features() or ()):
        pytest.skip("this kernel has dctcp and RED: the kernel lane runs the experiment")
    out = str(tmp_path / "results")
    code, stdout, err = run_quick("dctcp", out, capsys)
    assert code == 3, stdout + err
    assert "testbed experiment --vm experiments/dctcp.py" in err
    assert not os.path.exists(os.path.join(out, "dctcp")) or not os.listdir(os.path.join(out, "dctcp"))


@pytest.mark.timeout(300)
def test_rerun_compares_a_stored_result(tmp_path, capsys):
    out = str(tmp_path / "results")
    code, stdout, err = run_quick("tcp_vs_loss", out, capsys, "--repeat", "2")
    assert code in (0, 1), stdout + err                  # its claims are another test's business
    stored = only_run(out, "tcp_vs_loss")
    again = str(tmp_path / "again")
    code = main(["experiment", "--rerun", stored, "--out", again])
    captured = capsys.readouterr()
    folder = only_run(again, "tcp_vs_loss")
    data = json.load(open(os.path.join(folder, "rerun.json")))
    columns = {c["column"]: c for c in data["comparison"]["columns"]}
    assert {"measured_mbps", "mathis_mbps", "rtt_ms", "link_goodput_mbps"} <= set(columns)
    assert columns["link_goodput_mbps"]["ok"] is True                  # the same configuration: the same value
    assert columns["measured_mbps"]["tolerance"] == "declared 25 % of the stored value"
    assert all(len(c["cells"]) == 3 for c in columns.values())          # every grid point compared
    verdict = next(line for line in captured.out.splitlines() if line.startswith(("PASS  rerun", "FAIL  rerun")))
    claims = json.load(open(os.path.join(folder, "results.json")))["checks"]
    assert (code == 0) == (verdict.startswith("PASS") and not any(c["status"] == "fail" for c in claims))
    meta = json.load(open(os.path.join(folder, "meta.json")))
    old = json.load(open(os.path.join(stored, "meta.json")))
    assert meta["params"]["points"] == old["params"]["points"] and meta["seeds"]["runs"][0]["seed"] == old["seeds"]["runs"][0]["seed"]
    assert "environment: the same kernel" in captured.err
