"""Forked parts (testbed/kernel/forks.py): results in order, a child's failure raised here,
no child left, and a child never runs the parent's code after its part."""
from __future__ import annotations

import os

import pytest

from testbed.kernel import forks, procs

pytestmark = pytest.mark.timeout(60)


def test_parts_run_in_children_and_come_back_in_order():
    parent = os.getpid()
    results = forks.in_processes(lambda k: (k * k, os.getpid() != parent), [1, 2, 3, 4])
    assert results == [(1, False), (4, True), (9, True), (16, True)]


def test_a_failing_child_raises_here_naming_its_error():
    def part(k):
        if k == 2:
            raise ValueError("part two is broken")
        return k
    with pytest.raises(forks.ChildFailed, match="ValueError: part two is broken"):
        forks.in_processes(part, [1, 2, 3])


def test_no_child_is_left_and_none_returns_into_the_caller(tmp_path):
    marker = tmp_path / "after"
    before = procs.children_of(os.getpid())
    forks.in_processes(lambda k: k, [0, 1, 2])
    with open(marker, "a") as f:          # a child that came back here would write too
        f.write(f"{os.getpid()}\n")
    assert marker.read_text().split() == [str(os.getpid())]
    assert procs.children_of(os.getpid()) <= before          # none left, not even a zombie
