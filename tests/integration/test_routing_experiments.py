"""The routing experiments end to end, each in its quickest form (root, FRR)."""
import json
import os
import subprocess

import pytest

from testbed.cli.main import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPERIMENTS = os.path.join(ROOT, "experiments")

pytestmark = pytest.mark.skipif(not os.access("/usr/lib/frr/zebra", os.X_OK), reason="FRR is not installed")

# experiment -> (arguments for its quickest run, plots, the status of each check)
CASES = {
    "ospf_convergence": (["--param", "dead=4", "--param", "bfd=false,true"], ["outage.png", "outage_up.png"],
                         {"bfd_is_fast": "pass", "dead_interval_bounds": "pass", "carrier_loss_is_fast": "pass",
                          "restoring_is_fast": "pass"}),
    # 64 flows: hashed at random, 16 leave a spine at or under half its share 8 % of the time,
    # 64 about once in 13,000 (binomial); at 0.5 Mbit/s each, 32 Mbit/s in all
    "ecmp": (["--param", "flows=2,64", "--param", "rate=500K", "--param", "duration=1"], ["share.png", "imbalance.png"],
             {"spread_over_spines": "pass", "one_path_without_ecmp": "pass", "flows_arrive": "pass"}),
    "bgp_path": ([], ["pings.png"], {"shortest_as_path_wins": "pass", "transit_takes_over": "pass",
                                     "withdrawal_removes_the_route": "pass",
                                     "restoring_brings_the_direct_path_back": "pass"}),
    "ospf_convergence ipv6": (["--param", "ipv6=true", "--param", "dead=4", "--param", "bfd=false,true"],
                              ["outage.png", "outage_up.png"],
                              {"bfd_is_fast": "pass", "dead_interval_bounds": "pass", "carrier_loss_is_fast": "pass",
                               "restoring_is_fast": "pass"}),          # the same ring with OSPFv3
}


def frr_daemons_of(run_ids: list[str]) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if any(f"/run/testbed/{r}/frr/" in line for r in run_ids)]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", list(CASES))
def test_routing_experiment_runs_and_its_claims_hold(name, tmp_path, capsys):
    args, plots, checks = CASES[name]
    out = str(tmp_path / "results")
    name = name.split()[0]
    code = main(["experiment", os.path.join(EXPERIMENTS, f"{name}.py"), "--repeat", "1", "--out", out, *args])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    (entry,) = os.scandir(os.path.join(out, name))
    with open(os.path.join(entry.path, "results.json")) as f:
        data = json.load(f)
    assert {c["name"]: c["status"] for c in data["checks"]} == checks, data["checks"]
    for plot in plots:
        with open(os.path.join(entry.path, "plots", plot), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(os.path.join(entry.path, "meta.json")) as f:
        meta = json.load(f)
    assert meta["error"] is None
    assert all(n["tools_used"] == ["frr"] for n in meta["topology"]["networks"])
    assert meta["tools"].get("frr", "").startswith("vtysh") or "FRRouting" in meta["tools"].get("frr", "")
    run_ids = [n["run_id"] for n in meta["topology"]["networks"]]
    assert frr_daemons_of(run_ids) == []
    assert not [r for r in run_ids if os.path.exists(f"/run/testbed/{r}")]
