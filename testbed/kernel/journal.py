"""The ownership record of a run: every kernel object is written here before it is made.

A run lives in /run/testbed/<run_id>/ with meta.json (who, what, when) and journal.jsonl:
one JSON object per owned thing, each a typed :class:`Entry` (a namespace, a link, an
/etc/netns folder, a file of the run, a process; plug-ins add theirs, e.g. an Open vSwitch
instance). Each entry type knows how its object is removed; testbed.deploy.teardown calls
the removal steps in order (release, signal, stop, remove) over every entry, newest
first, so teardown and ``testbed clean`` delete exactly what the journal lists.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable

from testbed.kernel import nsfs
from testbed.kernel.procs import process_alive, process_start_time, stop_process

RUNS_DIR = os.environ.get("TESTBED_RUNS_DIR", "/run/testbed")
RUN_ID_PREFIX = "tb"
ETC_NETNS = "/etc/netns"


def new_run_id() -> str:
    return RUN_ID_PREFIX + os.urandom(3).hex()


def run_dir(run_id: str) -> str:
    return os.path.join(RUNS_DIR, run_id)


def read_pid(path: str) -> int | None:
    """The PID in a daemon's pid file; None when there is none (or it is not a number)."""
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def daemon_of(pid: int, names: tuple[str, ...], directory: str) -> bool:
    """Is ``pid`` one of the daemons ``names`` (a process title may extend its name: "ovs-vswitchd:
    monitoring ...") with ``directory`` in its command line, i.e. a daemon of this run's folder?"""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
    except OSError:
        return False
    return bool(argv) and os.path.basename(argv[0]).startswith(names) and any(directory in a for a in argv[1:])


def remove_daemon_folder(folder: str, names: tuple[str, ...], removal: "Removal", parent: str) -> None:
    """Stop what is left of the daemons ``names`` of a folder of the runs folder (by their pid
    files ``NAME.pid``, checked to be ours), delete the folder, and its parent (named
    ``parent``: the concern's folder of the run, e.g. "ovs") once it is empty."""
    directory = os.path.realpath(folder)
    if not directory.startswith(os.path.realpath(RUNS_DIR) + os.sep):
        return                               # never touch anything outside the runs folder
    for daemon in names:
        pid = read_pid(os.path.join(directory, f"{daemon}.pid"))
        if pid is not None and process_alive(pid, None) and daemon_of(pid, names, directory):
            removal.count("process", int(stop_process(pid, process_start_time(pid))))
    shutil.rmtree(directory, ignore_errors=True)
    if os.path.basename(os.path.dirname(directory)) == parent:
        try:
            os.rmdir(os.path.dirname(directory))
        except OSError:
            pass                             # another daemon folder is still in it


# ---------------------------------------------------------------- entries

ENTRY_TYPES: dict[str, type["Entry"]] = {}


def entry_type(cls: type["Entry"]) -> type["Entry"]:
    """Register an Entry subclass under its TYPE (a class decorator)."""
    ENTRY_TYPES[cls.TYPE] = cls
    return cls


class Removal:
    """What one teardown knows while it runs: the journal, the run's namespaces, the counts."""

    def __init__(self, journal: "Journal", entries: list["Entry"]):
        self.journal = journal
        self.entries = entries
        self.counts: dict[str, int] = {"process": 0, "netns": 0, "dir": 0, "link": 0}
        self.netns = {e.name for e in entries if isinstance(e, Netns)}
        self._lock = threading.Lock()

    def count(self, what: str, n: int = 1) -> None:
        with self._lock:                 # namespaces are removed from several threads at once
            self.counts[what] = self.counts.get(what, 0) + n


@dataclass(frozen=True)
class Entry:
    """One owned object. Steps (each optional), in teardown order: ``release`` (before any
    process stops), ``signal`` (ask processes to end, all at once), ``stop`` (wait for them,
    or kill), ``remove`` (delete the object)."""

    TYPE: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        return {"type": self.TYPE, **dataclasses.asdict(self)}

    def release(self, removal: Removal) -> None: ...
    def signal(self, removal: Removal) -> None: ...
    def stop(self, removal: Removal) -> None: ...
    def remove(self, removal: Removal) -> None: ...


@entry_type
@dataclass(frozen=True)
class Netns(Entry):
    """A named network namespace; its links, qdiscs and nft tables go with it."""

    TYPE: ClassVar[str] = "netns"
    name: str

    def remove(self, removal: Removal) -> None:
        if nsfs.remove(self.name):
            removal.count("netns")


@entry_type
@dataclass(frozen=True)
class Link(Entry):
    """An interface made in a namespace of the run (it goes away with the namespace)."""

    TYPE: ClassVar[str] = "link"
    netns: str
    name: str

    def remove(self, removal: Removal) -> None:
        if self.netns in removal.netns:
            removal.count("link")


@entry_type
@dataclass(frozen=True)
class Dir(Entry):
    """An /etc/netns/<namespace> entry (name resolution inside the node): a link to a folder
    of the run, or a folder."""

    TYPE: ClassVar[str] = "dir"
    path: str

    def remove(self, removal: Removal) -> None:
        if os.path.dirname(self.path) != ETC_NETNS:
            return
        if os.path.islink(self.path):
            os.unlink(self.path)
            removal.count("dir")
        elif os.path.isdir(self.path):
            try:                                 # its hosts link, then the folder (or all of it)
                os.unlink(os.path.join(self.path, "hosts"))
                os.rmdir(self.path)
            except OSError:
                shutil.rmtree(self.path, ignore_errors=True)
            removal.count("dir")


@entry_type
@dataclass(frozen=True)
class File(Entry):
    """A file of a service in the run's folder (only ever deleted there)."""

    TYPE: ClassVar[str] = "file"
    path: str

    def remove(self, removal: Removal) -> None:
        if os.path.dirname(self.path) == os.path.dirname(removal.journal.path):
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass


@entry_type
@dataclass(frozen=True)
class Process(Entry):
    """A process the run started: its PID and start time (so a reused PID is never hit)."""

    TYPE: ClassVar[str] = "process"
    pid: int
    start: int | None = None
    name: str | None = None

    def signal(self, removal: Removal) -> None:
        if process_alive(self.pid, self.start):
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def stop(self, removal: Removal) -> None:
        if stop_process(self.pid, self.start):
            removal.count("process")


def entry_from_json(data: dict[str, Any]) -> Entry | None:
    """The typed entry of a journal line (None for a type no code registered)."""
    cls = ENTRY_TYPES.get(data.get("type", ""))
    if cls is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    try:
        return cls(**{k: v for k, v in data.items() if k in names})
    except TypeError:
        return None


# ---------------------------------------------------------------- the journal file

@dataclass
class Journal:
    run_id: str
    path: str

    @classmethod
    def create(cls, run_id: str, meta: dict[str, Any]) -> "Journal":
        directory = run_dir(run_id)
        os.makedirs(directory, mode=0o755, exist_ok=False)
        meta = dict(meta, run_id=run_id, pid=os.getpid(), pid_start=process_start_time(os.getpid()),
                    created=time.time())
        with open(os.path.join(directory, "meta.json"), "w") as f:
            json.dump(meta, f, indent=2, default=str)
        path = os.path.join(directory, "journal.jsonl")
        open(path, "a").close()
        return cls(run_id, path)

    @classmethod
    def open(cls, run_id: str) -> "Journal":
        return cls(run_id, os.path.join(run_dir(run_id), "journal.jsonl"))

    @property
    def dir(self) -> str:
        return os.path.dirname(self.path)

    def record(self, entries: Iterable[Entry]) -> None:
        """Append entries and flush them to the file before the objects are made."""
        text = "".join(json.dumps(e.to_json(), separators=(",", ":")) + "\n" for e in entries)
        if not text:
            return
        with open(self.path, "a") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    def entries(self) -> list[Entry]:
        try:
            with open(self.path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        result = []
        for line in lines:
            try:
                entry = entry_from_json(json.loads(line))
            except json.JSONDecodeError:
                continue          # a line cut short by a crash: nothing was made after it
            if entry is not None:
                result.append(entry)
        return result

    def meta(self) -> dict[str, Any]:
        try:
            with open(os.path.join(run_dir(self.run_id), "meta.json")) as f:
                return json.load(f)
        except (OSError, json.JSONDecodeError):
            return {"run_id": self.run_id}

    def owner_alive(self) -> bool:
        meta = self.meta()
        pid = meta.get("pid")
        return isinstance(pid, int) and process_alive(pid, meta.get("pid_start"))

    def remove(self) -> None:
        """Delete the run's folder (journal, meta and the run's own files)."""
        directory = run_dir(self.run_id)
        if os.path.dirname(directory) == RUNS_DIR and os.path.basename(directory).startswith(RUN_ID_PREFIX):
            shutil.rmtree(directory, ignore_errors=True)


def all_runs() -> list[Journal]:
    try:
        names = sorted(os.listdir(RUNS_DIR))
    except FileNotFoundError:
        return []
    return [Journal.open(n) for n in names if os.path.isdir(run_dir(n))]
