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
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Iterable, Iterator

from testbed import backends, concerns  # noqa: F401 (importing the plug-ins registers their journal entries)
from testbed.kernel import cgroups, nsfs  # noqa: F401  (cgroups: its journal entry type)
from testbed.kernel.journal import Entry, Journal, Netns, Removal
from testbed.kernel.procs import in_namespaces, namespace_inode, stop_all

CHUNK = 128
REMOVERS = 8              # threads removing namespaces at once (see _remove_namespaces)
REMOVE_CHUNK = 32         # namespaces per task
PARALLEL_MIN = 64         # fewer namespaces than this are removed by the calling thread


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
    batch: list[Netns] = []

    def remove_batch() -> None:
        nonlocal seen
        for done in _remove_namespaces(batch, removal):
            seen += done
            if progress is not None:
                progress("teardown", seen, len(namespaces))
        batch.clear()
    for entry in reversed(entries):
        if isinstance(entry, Netns):
            batch.append(entry)
            continue
        remove_batch()
        entry.remove(removal)
    remove_batch()
    journal.remove()
    return removal.counts


def _remove_namespaces(entries: list[Netns], removal: Removal) -> Iterator[int]:
    """Remove namespaces, several at once; yield how many as they go.

    Each unmount waits for an RCU grace period (namespace_unlock) after letting go of the
    mount lock, so unmounts from several threads share their waits: 1,000 namespaces took
    0.13 ms each with 8 threads against 0.30-0.37 ms with one.
    """
    if len(entries) < PARALLEL_MIN:
        for entry in entries:
            entry.remove(removal)
        if entries:
            yield len(entries)
        return
    chunks = [entries[i:i + REMOVE_CHUNK] for i in range(0, len(entries), REMOVE_CHUNK)]
    with ThreadPoolExecutor(REMOVERS, thread_name_prefix="testbed-teardown",
                            initializer=nsfs.signals_to_main) as pool:
        for done in pool.map(lambda chunk: _remove_chunk(chunk, removal), chunks):
            yield done


def _remove_chunk(chunk: list[Netns], removal: Removal) -> int:
    for entry in chunk:
        entry.remove(removal)
    return len(chunk)


def sweep(namespaces: list[Netns]) -> int:
    """Stop every process still inside one of ``namespaces``; how many there were."""
    inodes = {i for i in (namespace_inode(nsfs.netns_path(n.name)) for n in namespaces) if i is not None}
    if not inodes:
        return 0
    return stop_all(in_namespaces(inodes))


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP until the block is done, then act on the last one that came.

    Python runs signal handlers in the main thread whichever thread the kernel picked, so
    blocking the signals in the main thread alone does not keep a handler from raising
    in the middle of a teardown: the handlers themselves are replaced for the block.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: arrived.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if arrived:
            signal.raise_signal(arrived[-1])          # now to its own handler (or default action)
