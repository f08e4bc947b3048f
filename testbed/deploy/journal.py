"""The ownership record of a run: every kernel object is written here before it is made.

A run lives in /run/testbed/<run_id>/ with meta.json (who, what, when) and journal.jsonl
(one JSON object per owned thing: a namespace, a file or folder, a process, a link).
Teardown and ``testbed clean`` delete exactly what the journal lists, in reverse order.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from typing import Any, Iterable

from testbed.kernel.procs import process_alive, process_start_time

RUNS_DIR = os.environ.get("TESTBED_RUNS_DIR", "/run/testbed")
RUN_ID_PREFIX = "tb"


def new_run_id() -> str:
    return RUN_ID_PREFIX + secrets.token_hex(3)


def run_dir(run_id: str) -> str:
    return os.path.join(RUNS_DIR, run_id)


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

    def record(self, entries: Iterable[dict[str, Any]]) -> None:
        """Append entries and flush them to the file before the objects are made."""
        text = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in entries)
        if not text:
            return
        with open(self.path, "a") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    def entries(self) -> list[dict[str, Any]]:
        try:
            with open(self.path) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        result = []
        for line in lines:
            try:
                result.append(json.loads(line))
            except json.JSONDecodeError:
                continue          # a line cut short by a crash: nothing was made after it
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
