"""Kernel and process limits known before anything is built."""
from __future__ import annotations

import resource

import pytest

from helpers import hosts_on, messages
from testbed import EnvironmentProblem, plan
from testbed.kernel import nsfs


def test_a_linux_bridge_holds_at_most_1023_ports():
    assert messages(hosts_on(n=1023)) == []
    found = messages(hosts_on(n=1024))
    assert found == ["node 's1': has 1024 links; a Linux bridge holds at most 1023 ports (spread the hosts over a "
                     "tree of switches (e.g. topologies/tree.py), or use backend='ovs' on 's1' (or --switch ovs))"]
    assert plan(hosts_on(n=1500, backend="ovs")).node("s1").interfaces[0].kind == "ovs"


def test_too_few_open_files_says_how_many_and_the_way_out(monkeypatch):
    monkeypatch.setattr(resource, "getrlimit", lambda what: (300, 300))

    def refuse(what, limits):
        raise ValueError("not allowed to raise maximum limit")
    monkeypatch.setattr(resource, "setrlimit", refuse)
    with pytest.raises(EnvironmentProblem) as info:
        nsfs.raise_fd_limit(5000)
    text = str(info.value)
    assert "at most 300 (RLIMIT_NOFILE)" in text and "ulimit -n" in text and info.value.exit_code == 3


def test_enough_open_files_needs_no_change(monkeypatch):
    calls = []
    monkeypatch.setattr(resource, "getrlimit", lambda what: (1 << 20, 1 << 20))
    monkeypatch.setattr(resource, "setrlimit", lambda *a: calls.append(a))
    nsfs.raise_fd_limit(100)
    assert calls == []
