"""The testbed> shell end to end: stdin pipes, -c, a pty (completion, Ctrl-C, EOF, SIGTERM).

Needs root (namespaces); skipped otherwise. Every test checks that its run left no
namespace behind.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="building networks needs root"),
    pytest.mark.skipif(shutil.which("ip") is None or shutil.which("iperf3") is None,
                       reason="needs iproute2 and iperf3"),
    pytest.mark.timeout(60),
]
RUN_ID = re.compile(r"\(run (tb[0-9a-f]+)\)")


def run_testbed(*args: str, stdin: str | None = None, timeout: float = 40) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "testbed.cli.main", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, HOME=os.environ.get("HOME", "/root")))


def leftovers(run_id: str) -> list[str]:
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    left = [n for n in names if n.startswith(run_id + "-")]
    if os.path.isdir("/etc/netns"):
        left += [d for d in os.listdir("/etc/netns") if d.startswith(run_id + "-")]
    return left


def run_id_of(text: str) -> str:
    match = RUN_ID.search(text)
    assert match, text
    return match.group(1)


def blocks(stdout: str) -> list[tuple[str, str]]:
    """(echoed command, the output that followed it), in order."""
    parts = re.split(r"^testbed> (.*)$", stdout, flags=re.M)
    return [(c, o.lstrip("\n")) for c, o in zip(parts[1::2], parts[2::2])]


def test_every_command_through_a_pipe(tmp_path):
    script = tmp_path / "more.cmds"
    script.write_text("# sourced\nh2 echo sourced-from h1\n")
    commands = [
        "help", "nodes", "net", "links", "intfs", "dump", "ports",
        "pingall", "pingallfull", "pingpair",
        "h1 ping -c1 -W2 h3",
        "h1 echo h2 h3 s1",
        "iperf h1 h2 1",
        "iperfudp 5M h1 h3 1",
        "link h1 s1 down", "links", "pingpair h1 h2", "link h1 s1 up", "links",
        "sh echo from-the-root-namespace",
        "py net['h1'].netns",
        f"source {script}",
        "time h1 sleep 0.2",
        "noecho h1 echo quiet",
        "stats h1",
        "h9 ping h1",
        "h1 false",
        "pingall",
    ]
    done = run_testbed("run", "topologies/single.py", stdin="\n".join(commands) + "\n")
    pairs = blocks(done.stdout)
    out = dict(reversed(pairs))                 # a command's first run
    run_id = run_id_of(done.stderr)
    assert done.returncode == 1, done.stdout + done.stderr   # h9, h1 false
    sourced = commands.index(f"source {script}") + 1
    assert [c for c, _ in pairs] == commands[:sourced] + ["h2 echo sourced-from h1"] + commands[sourced:]
    assert "pingallfull" in out["help"] and "<node> <command...>" in out["help"]
    assert out["nodes"].split() == ["available", "nodes", "are:", "h1", "h2", "h3", "s1"]     # sorted, as Mininet
    assert "h1 h1-eth0:s1-eth1" in out["net"]
    assert out["links"].count("(OK OK)") == 3
    assert "h3: h3-eth0" in out["intfs"]
    assert f"<host h2: h2-eth0:10.0.0.2/24 netns={run_id}-h2>" in out["dump"]
    assert "s1 s1-eth1:1 s1-eth2:2 s1-eth3:3" in out["ports"]
    assert "h1 -> h2 h3" in out["pingall"] and "*** Results: 0% dropped (6/6 received)" in out["pingall"]
    assert "rtt" in out["pingallfull"] and "Error" not in out["pingallfull"]
    assert "0% dropped (2/2 received)" in out["pingpair"]
    assert "1 received" in out["h1 ping -c1 -W2 h3"]
    assert out["h1 echo h2 h3 s1"].strip() == "10.0.0.2 10.0.0.3 s1"
    assert re.search(r"Results: \['[\d.]+ [GM]bits/sec', '[\d.]+ [GM]bits/sec'\]", out["iperf h1 h2 1"])
    assert re.search(r"Results: \['5M', '[\d.]+ [MK]bits/sec'", out["iperfudp 5M h1 h3 1"])
    links = [b for c, b in pairs if c == "links"]
    assert "s1-eth1<->h1-eth0 (DOWN DOWN)" in links[1] and links[1].count("(OK OK)") == 2
    # with h1's link down the expected reachability follows: the pair cannot connect, and does not
    assert "0/1 received" in out["pingpair h1 h2"] and "Error" not in out["pingpair h1 h2"]
    assert links[2].count("(OK OK)") == 3
    assert [b for c, b in pairs if c == "pingall"][1].count("Error") == 0
    assert out["sh echo from-the-root-namespace"].strip() == "from-the-root-namespace"
    assert out["py net['h1'].netns"].strip() == f"{run_id}-h1"
    assert out["h2 echo sourced-from h1"].strip() == "sourced-from 10.0.0.1"
    assert "*** Elapsed time: 0.2" in out["time h1 sleep 0.2"]
    assert out["noecho h1 echo quiet"].strip() == "quiet"
    assert re.search(r"h1\s+h1-eth0\s+1\s+\d+", out["stats h1"])
    assert out["h9 ping h1"].startswith("*** Error: unknown command or node 'h9'")
    assert out["h1 false"].strip() == "*** Error: h1: 'false' exited 1"
    assert "Traceback" not in done.stdout + done.stderr
    assert leftovers(run_id) == []


def test_c_option_and_exit_codes():
    ok = run_testbed("run", "topologies/single.py", "-c", "pingall; h1 ping -c1 -W2 h3")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert [c for c, _ in blocks(ok.stdout)] == ["pingall", "h1 ping -c1 -W2 h3"]
    bad = run_testbed("run", "topologies/single.py", "-c", "h1 ls /nonexistent; nodes")
    assert bad.returncode == 1
    assert "available nodes are" in bad.stdout          # the shell goes on after a failure
    assert leftovers(run_id_of(ok.stderr)) == [] and leftovers(run_id_of(bad.stderr)) == []


def test_mininet_topologies_run(tmp_path):
    tree = run_testbed("run", "--topo", "tree,2,2", "-c", "pingall; h1 ping -c1 -W2 h4")
    assert tree.returncode == 0, tree.stdout + tree.stderr
    assert "12/12 received" in tree.stdout
    custom = tmp_path / "mytopo.py"
    custom.write_text(
        "from mininet.topo import Topo\n"
        "class MyTopo(Topo):\n"
        "    def build(self):\n"
        "        left, right = self.addHost('h1'), self.addHost('h2')\n"
        "        s3, s4 = self.addSwitch('s3'), self.addSwitch('s4')\n"
        "        self.addLink(left, s3); self.addLink(s3, s4); self.addLink(s4, right)\n"
        "topos = {'mytopo': (lambda: MyTopo())}\n")
    done = run_testbed("run", "--custom", str(custom), "--topo", "mytopo", "-c", "net; h1 ping -c1 -W2 h2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "s3 s3-eth1:h1-eth0 s3-eth2:s4-eth1" in done.stdout
    assert leftovers(run_id_of(tree.stderr)) == [] and leftovers(run_id_of(done.stderr)) == []


# ---------------------------------------------------------------- through a terminal

pexpect = pytest.importorskip("pexpect")


def spawn(tmp_path, *args: str, wait_for_run: bool = True):
    env = dict(os.environ, HOME=str(tmp_path), INPUTRC="/dev/null", TERM="dumb")
    child = pexpect.spawn(sys.executable, ["-m", "testbed.cli.main", "run", *args], cwd=ROOT, env=env,
                          encoding="utf-8", timeout=20, dimensions=(40, 200))
    if not wait_for_run:
        return child, None
    child.expect(RUN_ID)
    return child, child.match.group(1)


def test_terminal_completion_ctrl_c_and_eof(tmp_path):
    child, run_id = spawn(tmp_path, "topologies/single.py")
    try:
        child.expect_exact("testbed> ")
        child.send("nod\t")                                   # command completion
        child.expect_exact("nodes")
        child.send("\r")
        child.expect_exact("available nodes are")
        child.expect_exact("testbed> ")
        child.send("h1 ip link show h1-e\t")                  # interface completion
        child.expect_exact("h1-eth0")
        child.send("\r")
        child.expect("state UP")
        child.expect_exact("testbed> ")
        child.send("h3 ping h\t")                             # node completion: h1 h2 h3
        child.send("2\r")
        child.expect(r"bytes from 10\.0\.0\.2")
        started = time.monotonic()
        child.sendintr()                                     # Ctrl-C stops the ping, not the shell
        child.expect("packets transmitted")
        child.expect_exact("testbed> ")
        assert time.monotonic() - started < 5
        child.sendline("iperf h1 h2 30")
        child.expect_exact("testing TCP bandwidth")
        time.sleep(1.0)
        child.sendintr()                                     # Ctrl-C stops client and server
        child.expect_exact("^C (interrupted)")
        child.expect_exact("testbed> ")
        for node in ("h1", "h2"):
            pids = subprocess.run(["ip", "netns", "pids", f"{run_id}-{node}"], capture_output=True, text=True)
            assert pids.stdout.split() == [], f"processes left in {node}"
        child.sendline("h1 echo still-here h2")
        child.expect_exact("still-here 10.0.0.2")
        child.expect_exact("testbed> ")
        child.sendintr()                                     # Ctrl-C at the prompt: ignored
        child.expect_exact("Interrupt")
        child.sendline("nosuchnode ls")
        child.expect_exact("*** Error: unknown command or node 'nosuchnode'")
        child.expect_exact("testbed> ")
        child.sendeof()                                      # Ctrl-D: tear down and leave
        child.expect_exact("torn down")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert "Traceback" not in child.before
    assert leftovers(run_id) == []
    history = (tmp_path / ".testbed_history").read_text().splitlines()
    assert "nodes" in history and "h1 echo still-here h2" in history


def test_sigterm_tears_down(tmp_path):
    child, run_id = spawn(tmp_path, "topologies/linear.py")
    try:
        child.expect_exact("testbed> ")
        child.sendline("h1 sleep 30")
        time.sleep(0.5)
        child.kill(signal.SIGTERM)
        child.expect(pexpect.EOF, timeout=15)
    finally:
        child.close(force=True)
    assert leftovers(run_id) == []
    assert child.exitstatus == 130


def test_progress_bar_on_a_terminal(tmp_path):
    child, _ = spawn(tmp_path, "topologies/single.py", "-p", "n=60", "-c", "nodes", wait_for_run=False)
    try:
        child.expect(r"namespaces\s+\[#+\]\s+61/61")
        child.expect(r"links\s+\[#+\]\s+60/60")
        child.expect(RUN_ID)
        run_id = child.match.group(1)
        child.expect_exact("available nodes are")
        child.expect(r"teardown\s+\[#+\]\s+61/61")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert leftovers(run_id) == []


def test_no_progress_bar_when_not_a_terminal():
    done = run_testbed("run", "topologies/single.py", "-p", "n=60", "-c", "nodes")
    assert done.returncode == 0
    assert "[#" not in done.stderr and "\r" not in done.stderr
    assert leftovers(run_id_of(done.stderr)) == []
