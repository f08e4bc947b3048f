"""What other processes need to know about a run that is up: the switches' own daemons.

    from testbed import switch_environments
    env = switch_environments("tb1a2b3c")["s1"]      # OVS_RUNDIR... of switch s1's own OVS
    subprocess.run(["ovs-vsctl", "show"], env={**os.environ, **env})
"""
from __future__ import annotations

from testbed import backends
from testbed.kernel.journal import Journal


def switch_environments(run_id: str) -> dict[str, dict[str, str]]:
    """switch -> the environment that points a switch's tools (ovs-vsctl, ovs-ofctl...) at its
    own daemons, for every switch of run ``run_id`` that has daemons of its own."""
    journal = Journal.open(run_id)
    found: dict[str, dict[str, str]] = {}
    for backend in backends.REGISTRY.values():
        found.update(backend.environments_in_run(journal))
    return found
