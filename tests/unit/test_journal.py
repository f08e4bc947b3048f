"""The journal and teardown's safety rules, without touching the kernel."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from testbed.deploy import teardown as deploy
from testbed.kernel import journal
from testbed.kernel.journal import Dir, Journal, Link, Netns, Process
from testbed.kernel.procs import process_start_time


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    path = tmp_path / "runs"
    monkeypatch.setattr(journal, "RUNS_DIR", str(path))
    return path


def test_journal_records_in_order_and_survives_a_torn_last_line(runs_dir):
    j = Journal.create("tbtest01", {"source": "x"})
    j.record([Netns("a"), Netns("b")])
    j.record([])
    with open(j.path, "a") as f:
        f.write('{"type": "netns", "na')                 # cut short by a crash
    assert [e.name for e in j.entries()] == ["a", "b"]
    meta = j.meta()
    assert meta["run_id"] == "tbtest01" and meta["pid"] == os.getpid() and meta["source"] == "x"
    assert j.owner_alive()
    assert [r.run_id for r in journal.all_runs()] == ["tbtest01"]
    j.remove()
    assert not (runs_dir / "tbtest01").exists()
    assert journal.all_runs() == []


def test_a_run_id_is_never_reused(runs_dir):
    Journal.create("tbtest02", {})
    with pytest.raises(FileExistsError):
        Journal.create("tbtest02", {})


def test_owner_is_dead_after_its_process_exits(runs_dir):
    j = Journal.create("tbtest03", {})
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = process_start_time(child.pid)
    child.wait()
    with open(os.path.join(runs_dir, "tbtest03", "meta.json"), "w") as f:
        f.write(f'{{"pid": {child.pid}, "pid_start": {start}}}')
    assert not j.owner_alive()


def test_teardown_deletes_only_what_the_journal_owns(runs_dir, tmp_path, monkeypatch):
    outside = tmp_path / "not-ours"
    outside.mkdir()
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        j = Journal.create("tbtest04", {})
        j.record([
            Dir(str(outside)),                            # not under /etc/netns: kept
            Netns("tbtest04-never-made"),                 # not there: nothing to do
            Process(sleeper.pid, 1),                      # a reused PID: left alone
            Link("tbtest04-never-made", "x"),
        ])
        counts = deploy.teardown(j)
        assert counts == {"process": 0, "netns": 0, "dir": 0, "link": 1}
        assert outside.is_dir()
        assert sleeper.poll() is None
        assert not (runs_dir / "tbtest04").exists()
        assert deploy.teardown(j) == {"process": 0, "netns": 0, "dir": 0, "link": 0}   # idempotent
    finally:
        sleeper.kill()
        sleeper.wait()


def test_teardown_stops_a_journaled_process(runs_dir):
    sleeper = subprocess.Popen(["sleep", "30"], start_new_session=True)
    j = Journal.create("tbtest05", {})
    j.record([Process(sleeper.pid, process_start_time(sleeper.pid))])
    assert deploy.teardown(j)["process"] == 1
    assert sleeper.wait(timeout=5) is not None
