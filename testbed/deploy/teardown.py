"""Tear a run down from its journal: exactly what it lists, and what runs inside its namespaces.

Steps, over every journal entry (each typed entry knows its part, testbed/kernel/journal.py):
  release   what must go while its daemons still run (Open vSwitch datapath devices)
  signal    SIGTERM to every journaled process at once
  sweep     every other process inside one of the run's namespaces (a shell's background
            job, a daemon a command started), found by namespace identity, never by name
  stop      wait for the journaled processes (SIGKILL after a grace period), OVS folders
  remove    namespaces (their links, qdiscs, nft tables go with them), /etc/netns folders,
            the run's files; then the run's folder itself
Safe to call again (``testbed clean`` after a crash does the same).
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterable, Iterator

from testbed import backends
from testbed.kernel import nsfs
from testbed.kernel.journal import Entry, Journal, Netns, Removal
from testbed.kernel.procs import in_namespaces, namespace_inode, stop_all

CHUNK = 128


def teardown(journal: Journal, entries: Iterable[Entry] | None = None, progress=None) -> dict[str, int]:
    """Delete exactly what the journal lists, newest first; return what was removed, by type."""
    backends.journal_types()                       # every plug-in's entries are readable
    entries = list(journal.entries() if entries is None else entries)
    removal = Removal(journal, entries)
    for entry in entries:
        entry.release(removal)
    for entry in entries:
        entry.signal(removal)
    namespaces = [e for e in entries if isinstance(e, Netns)]
    if progress is not None:
        progress("teardown", 0, len(namespaces))
    for entry in reversed(entries):
        entry.stop(removal)
    removal.count("process", sweep(namespaces))
    seen = 0
    for entry in reversed(entries):
        entry.remove(removal)
        if isinstance(entry, Netns):
            seen += 1
            if progress is not None and (seen % CHUNK == 0 or seen == len(namespaces)):
                progress("teardown", seen, len(namespaces))
    journal.remove()
    return removal.counts


def sweep(namespaces: list[Netns]) -> int:
    """Stop every process still inside one of ``namespaces``; how many there were."""
    inodes = {i for i in (namespace_inode(nsfs.netns_path(n.name)) for n in namespaces) if i is not None}
    if not inodes:
        return 0
    return stop_all(in_namespaces(inodes))


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block is done, then act on the last one that came.

    Python runs signal handlers in the main thread whichever thread the kernel picked, so
    blocking the signals in the main thread alone does not keep a handler from raising
    in the middle of a teardown: the handlers themselves are replaced for the block.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: arrived.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if arrived:
            signal.raise_signal(arrived[-1])          # now to its own handler (or default action)
