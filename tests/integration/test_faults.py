"""Faults: a step failing half-way rolls back; SIGKILL then clean; SIGTERM tears down."""
from __future__ import annotations

import dataclasses
import errno
import os
import signal
import threading
import time

import pytest

from itest import ETC_NETNS, NETNS_DIR, RUNS_DIR, load_network, run_cli
from testbed import DeployError, Network
from testbed.deploy import build
from testbed.kernel import netlink


def namespaces_of(run_id: str) -> list[str]:
    return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(run_id + "-"))


def etc_of(run_id: str) -> list[str]:
    return sorted(n for n in os.listdir(ETC_NETNS) if n.startswith(run_id + "-")) \
        if os.path.isdir(ETC_NETNS) else []


def assert_gone(run_id: str, runs_dir: str = RUNS_DIR) -> None:
    assert namespaces_of(run_id) == []
    assert etc_of(run_id) == []
    assert not os.path.exists(os.path.join(runs_dir, run_id))


def fail_commit_on(monkeypatch, n: int, exc: BaseException) -> list[int]:
    calls = [0]
    original = netlink.Batch.commit

    def commit(self):
        calls[0] += 1
        if calls[0] == n:
            self.pending = []
            raise exc
        return original(self)

    monkeypatch.setattr(netlink.Batch, "commit", commit)
    return calls


# ---------------------------------------------------------------- rollback

# single,3: commit 1 = bridges, 2 = dummies, 3 = veths, 4.. = each node's addresses/routes
@pytest.mark.parametrize("n", [1, 3, 4, 6])
def test_netlink_failure_midway_rolls_back_everything(monkeypatch, n):
    calls = fail_commit_on(monkeypatch, n, netlink.NetlinkError(errno.EBUSY, "injected step"))
    threads = threading.active_count()
    net = load_network("single", n=3)
    with pytest.raises(DeployError) as info:
        net.start()
    assert calls[0] == n
    assert str(info.value).endswith("injected step failed: Device or resource busy; "
                                    "everything built so far was removed")
    assert_gone(net.run_id)
    assert threading.active_count() == threads          # the namespace worker is gone too
    net.stop()                                           # harmless after a failed start


def test_failure_in_the_last_phase_rolls_back_hosts_files(monkeypatch):
    seen = []

    def hosts_files_then_fail(ctx):
        build.hosts_files(ctx)
        seen.extend(etc_of(ctx.journal.run_id))
        raise OSError(errno.ENOSPC, "injected: disk full")

    monkeypatch.setattr(build, "PHASES", tuple(hosts_files_then_fail if p is build.hosts_files else p
                                                for p in build.PHASES))
    net = load_network("three_hosts")
    with pytest.raises(DeployError, match="injected: disk full; everything built so far was removed"):
        net.start()
    assert len(seen) == 3                                # the folders had been made
    assert_gone(net.run_id)


def test_ctrl_c_during_build_rolls_back_and_propagates(monkeypatch):
    fail_commit_on(monkeypatch, 3, KeyboardInterrupt())
    net = load_network("tree", depth=2, fanout=2)
    with pytest.raises(KeyboardInterrupt):
        net.start()
    assert_gone(net.run_id)


def test_plan_with_duplicate_interface_name_fails_in_the_kernel_and_rolls_back():
    """A plan crafted past validation: two ports of s1 named s1-eth1."""
    net = load_network("single", n=3)
    plan = net.plan
    s1, h2 = plan.node("s1"), plan.node("h2")
    s1_ifs = tuple(dataclasses.replace(i, name="s1-eth1") if i.name == "s1-eth2" else i for i in s1.interfaces)
    h2_ifs = tuple(dataclasses.replace(i, peer=("s1", "s1-eth1")) for i in h2.interfaces)
    rename = {("s1", "s1-eth2"): ("s1", "s1-eth1")}
    links = tuple(dataclasses.replace(l, a=rename.get(l.a, l.a), b=rename.get(l.b, l.b)) for l in plan.links)
    nodes = tuple(dataclasses.replace(n, interfaces=s1_ifs) if n.name == "s1" else
                  dataclasses.replace(n, interfaces=h2_ifs) if n.name == "h2" else n for n in plan.nodes)
    crafted = dataclasses.replace(plan, nodes=nodes, links=links)
    net = Network(crafted)
    with pytest.raises(DeployError, match=r"create veth .* failed: File exists \(a name or address is already used"):
        net.start()
    assert_gone(net.run_id)


# ---------------------------------------------------------------- crashes and signals

def test_sigkill_then_clean_by_id(background, owned):
    run = background("topologies/single.py")
    run_id = run.wait_until_up()
    assert len(namespaces_of(run_id)) == 4 and len(etc_of(run_id)) == 3
    run.signal(signal.SIGKILL)
    assert run.finish() == -signal.SIGKILL
    listed = run_cli(owned, "list")
    line = next(l for l in listed.stdout.splitlines() if l.startswith(run_id))
    assert "crashed" in line.split(), listed.stdout
    assert len(namespaces_of(run_id)) == 4                # SIGKILL leaves everything
    done = run_cli(owned, "clean", run_id)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{run_id}: removed 4 namespaces, 3 /etc/netns folders, stopped 0 processes"
    assert_gone(run_id)
    assert run_id not in run_cli(owned, "list").stdout


def test_sigkill_then_clean_all(background, owned, tmp_path):
    """`clean --all` in a private runs folder, so other people's crashed runs are not touched."""
    env = dict(os.environ, TESTBED_RUNS_DIR=str(tmp_path / "runs"))
    live = background("topologies/pair.py", env=env)
    live_id = live.wait_until_up()
    run = background("topologies/three_hosts.py", env=env)
    run_id = run.wait_until_up()
    run.signal(signal.SIGKILL)
    run.finish()
    listed = run_cli(owned, "list", env=env).stdout
    assert "crashed" in listed and "running" in listed
    done = run_cli(owned, "clean", "--all", env=env)
    assert done.returncode == 0, done.stderr          # a live run is skipped, not an error
    assert done.stdout.strip() == f"{run_id}: removed 3 namespaces, 3 /etc/netns folders, stopped 0 processes"
    assert f"{live_id}: skipped, still running" in done.stderr
    assert_gone(run_id, runs_dir=str(tmp_path / "runs"))
    assert len(namespaces_of(live_id)) == 2
    live.signal(signal.SIGTERM)
    assert live.finish() == 130
    assert run_cli(owned, "list", env=env).stdout.strip() == "no testbed runs"


def test_clean_refuses_a_live_run_without_force(background, owned):
    run = background("topologies/pair.py")
    run_id = run.wait_until_up()
    done = run_cli(owned, "clean", run_id)
    assert done.returncode == 1 and "still owned by running process" in done.stderr
    assert len(namespaces_of(run_id)) == 2
    assert "running" in run_cli(owned, "list").stdout
    run.signal(signal.SIGTERM)
    run.finish()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_during_run_tears_down(background, sig):
    run = background("topologies/single.py", "--param", "n=5")
    run_id = run.wait_until_up()
    run.signal(sig)
    assert run.finish() == 130
    assert_gone(run_id)


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15])
def test_sigterm_during_build_tears_down(background, delay):
    """Signalled in whatever phase the build of 200 hosts has reached after ``delay`` seconds."""
    run = background("topologies/single.py", "--param", "n=200")
    run_id = run.wait_for_run_dir()
    time.sleep(delay)
    run.signal(signal.SIGTERM)
    assert run.finish() == 130
    assert_gone(run_id)


def test_clean_after_a_crash_stops_the_runs_processes(owned):
    """The owner is still alive here (this process), so clean needs --force."""
    net = load_network("pair").start()
    try:
        proc = net["h1"].popen(["sleep", "300"])
        done = run_cli(owned, "clean", "--force", net.run_id)
        assert done.returncode == 0, done.stderr
        assert "stopped 1 processes" in done.stdout
        assert proc.wait(timeout=5) is not None
        assert_gone(net.run_id)
    finally:
        net.stop()
