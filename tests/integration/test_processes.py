"""Every process started inside a node dies with it, however it was started; a background job
does not hold `cmd()`."""
from __future__ import annotations

import os
import signal
import subprocess
import time

from itest import cli_argv, run_cli, ROOT
from testbed import load, Network
from testbed.kernel.procs import in_namespaces, namespace_inode


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for its parent to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _pids_in(netns: str) -> list[int]:
    inode = namespace_inode(f"/run/netns/{netns}")
    return [pid for pid, _ in in_namespaces({inode})] if inode is not None else []


def test_a_background_job_returns_at_once_and_dies_with_the_node():
    graph, params = load("topologies/pair.py", {})
    with Network(graph, source="pair", params=params) as net:
        started = time.monotonic()
        out = net["h1"].cmd("sleep 30 & echo started", timeout=4)
        assert out.strip() == "started" and time.monotonic() - started < 3, out
        net["h2"].run(["iperf3", "-s", "-D"], timeout=10)          # a daemon that forks away
        deadline = time.monotonic() + 10
        while not any("iperf3" in open(f"/proc/{p}/cmdline").read() for p in _pids_in(net["h2"].netns)):
            assert time.monotonic() < deadline, "iperf3 -D never showed up in h2"
            time.sleep(0.05)
        left = _pids_in(net["h1"].netns) + _pids_in(net["h2"].netns)
        assert left
    assert not any(_running(pid) for pid in left)


def test_a_job_started_from_the_shell_dies_when_the_shell_exits(owned):
    proc = subprocess.run(cli_argv("run", "topologies/pair.py", "-c", "h2 iperf3 -s -D; h1 sleep 1"), cwd=ROOT,
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stderr.split("(run ")[1].split(")")[0]
    owned.add(run_id)
    mine = [p for p in os.listdir("/proc") if p.isdigit()
            and f"{run_id}-" in open(f"/proc/{p}/cmdline", "rb").read().decode(errors="replace")]
    assert mine == []


def test_clean_after_a_crash_stops_what_runs_inside_the_namespaces(owned):
    """SIGKILL the owner: its background job lives on in the namespace until `clean`."""
    child = subprocess.Popen(cli_argv("run", "topologies/pair.py"), cwd=ROOT, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        run_id = None
        for line in child.stderr:
            if "(run " in line:
                run_id = owned.add(line.split("(run ")[1].split(")")[0])
            if " built in " in line:
                break
        child.stdin.write("h1 sleep 300 &\n")
        child.stdin.flush()
        netns = f"{run_id}-h1"
        deadline = time.monotonic() + 20
        while not _pids_in(netns):
            assert time.monotonic() < deadline, "the background job never started in h1"
            time.sleep(0.05)
        jobs = _pids_in(netns)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        assert all(_running(p) for p in jobs)                       # the owner is gone, the job is not
        done = run_cli(owned, "clean", run_id)
        assert done.returncode == 0, done.stderr
        assert not any(_running(p) for p in jobs)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_pingall_after_a_link_goes_down_expects_what_the_network_now_is():
    graph, params = load("topologies/single.py", {"n": "3"})
    with Network(graph, source="single", params=params) as net:
        net.link_down("h1", "s1")
        result = net.pingall()
        assert result.ok, result.matrix()
        assert {(p.src, p.dst) for p in result.pairs if p.expected} == {("h2", "h3"), ("h3", "h2")}
        net.link_up("h1", "s1")
        result = net.pingall()
        assert result.ok and all(p.expected for p in result.pairs), result.matrix()


def test_ip_link_inside_a_node_names_each_veths_peer_namespace():
    graph, params = load("topologies/tree.py", {"depth": "2", "fanout": "2"})
    with Network(graph, source="tree", params=params) as net:
        lines = {line.split(": ")[1].split("@")[0]: line for line in net["s2"].cmd(["ip", "-o", "link"]).splitlines()}
        for intf in net.plan.node("s2").interfaces:
            if intf.peer is not None:
                assert f"link-netns {net[intf.peer[0]].netns}" in lines[intf.name], lines[intf.name]
                assert "@if" in lines[intf.name]             # the peer's index, not read as a local device
