"""``testbed mn``: Mininet scripts as processes, the CLI through a terminal, ``mn`` options.

Each test runs ``testbed mn`` in a subprocess and checks that whatever way it ended (the
script's end, an exception, exit(N), Ctrl-C, SIGTERM, a closed terminal) the runs it made
are gone: no run folder owned by that process, no namespace of those runs.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNS = "/run/testbed"
pytestmark = pytest.mark.timeout(180)


def runs_of(pid: int) -> set[str]:
    """Run folders whose owner is process ``pid``."""
    found = set()
    for run in os.listdir(RUNS) if os.path.isdir(RUNS) else ():
        try:
            with open(os.path.join(RUNS, run, "meta.json")) as f:
                if json.load(f).get("pid") == pid:
                    found.add(run)
        except (OSError, ValueError):
            continue
    return found


class Watch:
    """Remember the runs a testbed mn process makes while it runs; check they are all gone."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.seen: set[str] = set()

    def look(self) -> None:
        self.seen |= runs_of(self.proc.pid)

    def leftovers(self) -> list[str]:
        names = os.listdir("/run/netns") if os.path.isdir("/run/netns") else []
        left = [n for n in names if any(n.startswith(r + "-") for r in self.seen)]
        left += [r for r in self.seen if os.path.isdir(os.path.join(RUNS, r))]
        return left


def mn(*args: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.Popen([sys.executable, "-m", "testbed.cli.main", "mn", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def script(tmp_path: Path, body: str, name: str = "script.py") -> str:
    path = tmp_path / name
    path.write_text(body)
    return str(path)


NETWORK = textwrap.dedent("""
    import sys, time
    from mininet.net import Mininet
    from mininet.topo import SingleSwitchTopo
    from mininet.nodelib import LinuxBridge
    from mininet.log import setLogLevel
    setLogLevel('info')
    net = Mininet(topo=SingleSwitchTopo(2), switch=LinuxBridge, controller=None)
    net.start()
    print('run', net.network.run_id, flush=True)
    print('argv', sys.argv[1:], flush=True)
    import os; print('tools', os.environ.get('TESTBED_MN_TOOLS'), flush=True)
    print('loss', net.pingAll(), flush=True)
""")


def finish(proc: subprocess.Popen, watch: Watch, timeout: float = 90) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    watch.look()
    watch.seen |= set(re.findall(r"^run (tb[0-9a-f]+)$", out, flags=re.M))   # ones built and gone too fast
    return proc.returncode, out


def test_a_script_runs_with_its_arguments_and_leaves_nothing(tmp_path):
    proc = mn(script(tmp_path, NETWORK + "net.stop()\n"), "--my-arg", "3")
    watch = Watch(proc)
    code, out = finish(proc, watch)
    assert watch.seen
    assert code == 0, out
    assert "argv ['--my-arg', '3']" in out and "loss 0.0" in out and "*** Results: 0% dropped (2/2 received)" in out
    assert watch.leftovers() == []
    tools = re.search(r"^tools (\S+)$", out, flags=re.M).group(1)      # the ovs-* wrappers' folder
    assert tools.startswith("/") and not os.path.exists(tools)


def test_a_script_that_raises_is_torn_down(tmp_path):
    proc = mn(script(tmp_path, NETWORK + "raise RuntimeError('the experiment broke')\n"))
    watch = Watch(proc)
    code, out = finish(proc, watch)
    assert watch.seen
    assert code == 1 and "RuntimeError: the experiment broke" in out and "Traceback" in out
    assert watch.leftovers() == []


def test_exit_codes_pass_through(tmp_path):
    proc = mn(script(tmp_path, NETWORK + "sys.exit(3)\n"))
    watch = Watch(proc)
    code, out = finish(proc, watch)
    assert code == 3 and watch.seen and watch.leftovers() == []


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 130), (signal.SIGHUP, 130)])
def test_a_signal_tears_the_network_down(tmp_path, sig, code):
    body = NETWORK + "net['h1'].cmd('sleep 300 &')\nprint('ready', flush=True)\ntime.sleep(300)\n"
    proc = mn(script(tmp_path, body))
    watch = Watch(proc)
    for line in proc.stdout:
        if line.startswith("run "):
            watch.seen.add(line.split()[1])
        if line.startswith("ready"):
            break
    assert watch.seen
    proc.send_signal(sig)
    code_, out = finish(proc, watch)
    assert code_ == code, out
    assert watch.leftovers() == []


def test_a_module_like_python_dash_m(tmp_path):
    (tmp_path / "mnmod.py").write_text(NETWORK + "net.stop()\n")
    proc = subprocess.Popen([sys.executable, "-m", "testbed.mn", "-m", "mnmod", "x"], cwd=tmp_path,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    watch = Watch(proc)
    code, out = finish(proc, watch)
    assert code == 0 and "argv ['x']" in out, out
    assert watch.leftovers() == []


# ---------------------------------------------------------------- mn options

def tool_folders() -> set[str]:
    """The ovs-* wrappers' folders testbed mn processes have made (each removes its own)."""
    import glob
    import tempfile
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "testbed-mn-ovs-*")))


def test_mn_topo_and_pingall():
    tools = tool_folders()
    proc = mn("--topo", "single,3", "--switch", "lxbr", "--controller", "none", "--test", "pingall")
    watch = Watch(proc)
    code, out = finish(proc, watch)
    assert code == 0, out
    assert "*** Results: 0% dropped (6/6 received)" in out and re.search(r"completed in [\d.]+ seconds", out)
    assert watch.leftovers() == []
    assert tool_folders() <= tools


def test_mn_link_options_shape_and_iperf_measures():
    proc = mn("--topo", "linear,2", "--switch", "ovsbr", "--link", "tc,bw=10", "--test", "iperf")
    watch = Watch(proc)
    code, out = finish(proc, watch, timeout=150)
    assert code == 0, out
    rates = re.search(r"\*\*\* Results: \['([\d.]+) Mbits/sec', '([\d.]+) Mbits/sec'\]", out)
    assert rates and 8.0 <= float(rates.group(1)) <= 10.0, out
    assert watch.leftovers() == []


def test_mn_default_switch_and_controller_and_build_test():
    proc = mn("--topo", "tree,2,2", "--test", "build")
    watch = Watch(proc)
    code, out = finish(proc, watch, timeout=150)
    assert code == 0, out
    assert "*** Adding controller" in out and "c0" in out and "s1 s2 s3" in out
    assert watch.leftovers() == []


def test_mn_bad_options_are_refused_before_anything_is_built():
    proc = mn("--topo", "nosuch,3", "--test", "pingall")
    watch = Watch(proc)
    code, out = finish(proc, watch)
    assert code == 2 and "unknown topology 'nosuch'" in out and watch.seen == set()


# ---------------------------------------------------------------- the CLI through a terminal

def test_the_cli_in_a_terminal(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    path = script(tmp_path, NETWORK + "from mininet.cli import CLI\nCLI(net)\nnet.stop()\n")
    child = pexpect.spawn(sys.executable, ["-m", "testbed.cli.main", "mn", path], cwd=str(ROOT),
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), encoding="utf-8", timeout=60)
    try:
        child.expect("mininet> ")
        runs = runs_of(child.pid)
        child.sendline("h1 cd /tmp")
        child.expect("mininet> ")
        child.sendline("h1 pwd")
        child.expect(r"/tmp\r*\n")
        child.expect("mininet> ")
        child.sendline("pingall")
        child.expect(r"\*\*\* Results: 0% dropped \(2/2 received\)")
        child.expect("mininet> ")
        child.sendline("h1 ping -c1 h2")
        child.expect("1 packets transmitted, 1 received")
        child.expect("mininet> ")
        child.sendline("h1 sleep 100")
        time.sleep(0.5)
        started = time.monotonic()
        child.sendintr()
        child.expect("mininet> ")
        assert time.monotonic() - started < 10
        child.sendline("h1 echo alive")
        child.expect("alive")
        child.expect("mininet> ")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    names = os.listdir("/run/netns")
    assert not [n for n in names if any(n.startswith(r + "-") for r in runs)]
    assert not [r for r in runs if os.path.isdir(os.path.join(RUNS, r))]
