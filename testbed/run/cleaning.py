"""Cleaning up after crashed runs, from the journals alone (never by name pattern).

    from testbed import clean_stale
    clean_stale("mininet")        # every run of a Mininet script whose process is gone

A run is *stale* when the process that made it is no longer running (it was killed, or
the machine lost power); its journal still lists everything it made. ``clean_stale``
tears such runs down exactly as ``testbed clean`` does; runs of live processes are never
touched.
"""
from __future__ import annotations

from testbed.deploy.teardown import teardown
from testbed.kernel.journal import all_runs


def clean_stale(source_prefix: str | None = None) -> list[str]:
    """Tear down every stale run (of a source starting with ``source_prefix``, if given);
    the ids of the runs removed."""
    removed = []
    for run in all_runs():
        if run.owner_alive():
            continue
        source = str(run.meta().get("source", ""))
        if source_prefix is not None and not source.startswith(source_prefix):
            continue
        teardown(run)
        removed.append(run.run_id)
    return removed
