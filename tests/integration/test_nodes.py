"""Node handles: names resolve, /etc/netns lives as long as the run, processes are stopped."""
from __future__ import annotations

import os
import subprocess
import time

from itest import ETC_NETNS, load_network


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_ping_by_name_inside_a_node():
    with load_network("single", n=3) as net:
        out = net["h1"].cmd("ping -c1 -W2 h3")
        assert "1 received" in out and "10.0.0.3" in out, out
        assert net["h2"].cmd(["getent", "hosts", "h1"]).split()[0] == "10.0.0.1"


def test_etc_netns_hosts_exist_during_the_run_only():
    net = load_network("three_hosts").start()
    try:
        folders = [os.path.join(ETC_NETNS, net[n].netns) for n in ("A", "B", "C")]
        for folder in folders:
            with open(os.path.join(folder, "hosts")) as f:
                text = f.read()
            assert "10.0.0.2\tB" in text and "10.0.0.3\tC" in text, text
        assert not os.path.exists(os.path.join(ETC_NETNS, net["A"].netns.replace("-A", "-nonode")))
    finally:
        net.stop()
    assert not any(os.path.exists(f) for f in folders)


def test_each_node_has_a_named_namespace_and_nothing_is_in_the_root():
    with load_network("pair") as net:
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert net["h1"].netns in listed and net["h2"].netns in listed
        out = subprocess.run(["ip", "netns", "exec", net["h1"].netns, "ip", "-o", "link"],
                             capture_output=True, text=True).stdout
        assert "h1-eth0@" in out and "02:00:00:00:00:01" in out, out
        root = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        assert "h1-eth0" not in root


def test_popen_process_is_stopped_at_teardown():
    with load_network("pair") as net:
        proc = net["h1"].popen(["sleep", "300"])
        assert alive(proc.pid)
    assert proc.poll() is not None
    assert not alive(proc.pid)


def test_popen_shell_and_its_children_are_stopped_at_teardown(tmp_path):
    """A shell that ignores SIGTERM and runs a child: the whole process group goes."""
    pidfile = tmp_path / "child.pid"
    with load_network("pair") as net:
        proc = net["h2"].popen(f"trap '' TERM; sleep 300 & echo $! > {pidfile}; wait")
        deadline = time.monotonic() + 5
        while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.02)
        child = int(pidfile.read_text())
        assert alive(child)
    assert proc.poll() is not None
    deadline = time.monotonic() + 3
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child), "the node's background child survived teardown"


def test_run_and_cmd_results():
    with load_network("pair") as net:
        done = net["h1"].run(["sh", "-c", "echo out; echo err >&2; exit 3"])
        assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
        assert net["h1"].cmd("echo hi; echo there >&2") == "hi\nthere\n"
        assert net["h2"].cmd("cat", input="piped") == "piped"


def test_link_down_between_switches_splits_the_lan():
    with load_network("linear", k=2) as net:
        net.link_down("s1", "s2")
        result = net.pingall(timeout=0.5)
        assert {(p.src, p.dst) for p in result.pairs if p.received} == set()
        assert net["s1"].counters()["s1-eth2"]["up"] == 0
        net.link_up("s1", "s2")
        result = net.pingall()
        assert result.ok, result.matrix()


def test_list_json_shows_a_live_run(owned):
    import json
    from itest import run_cli
    with load_network("pair") as net:
        runs = json.loads(run_cli(owned, "list", "--json").stdout)
        mine = [r for r in runs if r["run_id"] == net.run_id]
        assert len(mine) == 1 and mine[0]["alive"] is True and mine[0]["nodes"] == 2
        assert mine[0]["objects"] >= 2 + 2 + 2        # namespaces, veth ends, /etc/netns folders


def test_every_veth_has_carrier_when_start_returns():
    from testbed.deploy.context import if_indexes
    from testbed.kernel import netlink
    with load_network("single", n=3) as net:
        index = if_indexes(net.plan)
        for node in net:
            veths = {index[(node.name, i.name)] for i in node.plan.interfaces if i.kind == "veth"}
            assert net.worker.run_inside(node.netns, netlink.links_without_carrier, veths) == set()
        net.link_down("h1", "s1")
        h1 = {index[("h1", "h1-eth0")]}
        s1 = {index[("s1", "s1-eth1")]}
        assert net.worker.run_inside(net["h1"].netns, netlink.links_without_carrier, h1) == h1
        assert net.worker.run_inside(net["s1"].netns, netlink.links_without_carrier, s1) == s1


def test_pingall_with_a_host_that_has_no_address():
    """An unlinked host has no address: its pairs are expected unreachable and not probed
    (a probe to 0.0.0.0 would be answered by the sender itself)."""
    import networkx as nx
    from testbed import Network
    g = nx.Graph()
    for h in ("h1", "h2", "h3"):
        g.add_node(h, kind="host")
    g.add_edge("h1", "h2")
    with Network(g) as net:
        result = net.pingall()
        assert result.ok, result.matrix()
        lonely = [p for p in result.pairs if "h3" in (p.src, p.dst)]
        assert len(lonely) == 4 and all(not p.expected and p.received == 0 for p in lonely)
