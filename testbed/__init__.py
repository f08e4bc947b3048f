"""testbed: build a networkx graph as a real network of namespaces, veths and bridges.

The public API: what topology files, experiments and scripts use. Everything here is
imported on first use (``testbed.Network`` loads the run layer only when asked for), so
``import testbed`` and every command stay quick to start.

    from testbed import load, Network, traffic, Plot
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> (module, attribute); attribute None: the module itself
_EXPORTS: dict[str, tuple[str, str | None]] = {
    # errors
    "TestbedError": ("testbed.errors", "TestbedError"),
    "UsageError": ("testbed.errors", "UsageError"),
    "TopologyError": ("testbed.errors", "TopologyError"),
    "EnvironmentProblem": ("testbed.errors", "EnvironmentProblem"),
    "DeployError": ("testbed.errors", "DeployError"),
    "RunNotFound": ("testbed.errors", "RunNotFound"),
    "CommandFailed": ("testbed.errors", "CommandFailed"),
    "Problem": ("testbed.errors", "Problem"),
    # topologies and plans
    "load": ("testbed.topology.load", "load"),
    "validate": ("testbed.planning.pipeline", "validate"),
    "plan": ("testbed.planning.pipeline", "plan"),
    "Plan": ("testbed.model.plan", "Plan"),
    "target_address": ("testbed.planning.reach", "target_address"),
    "Reachability": ("testbed.planning.reach", "Reachability"),
    "parse_rate": ("testbed.concerns.shaping", "parse_rate"),
    "parse_time": ("testbed.concerns.shaping", "parse_time"),
    # running networks
    "Network": ("testbed.run.network", "Network"),
    "PingallResult": ("testbed.run.network", "PingallResult"),
    "traffic": ("testbed.run.traffic", None),
    "ping": ("testbed.run.traffic", "ping"),
    "iperf3": ("testbed.run.traffic", "iperf3"),
    "Flow": ("testbed.run.traffic", "Flow"),
    "concurrent": ("testbed.run.traffic", "concurrent"),
    "counting": ("testbed.run.traffic", "counting"),
    "Capture": ("testbed.run.traffic", "Capture"),
    "wait_listening": ("testbed.run.traffic", "wait_listening"),
    "kernel_features": ("testbed.kernel.caps", "features"),
    "Shell": ("testbed.cli.shell", "Shell"),
    "clean_stale": ("testbed.run.cleaning", "clean_stale"),
    "switch_environments": ("testbed.run.runs", "switch_environments"),
    "QueueMonitor": ("testbed.run.monitor", "QueueMonitor"),
    "TcpMonitor": ("testbed.run.monitor", "TcpMonitor"),
    "PingTrain": ("testbed.run.monitor", "PingTrain"),
    "read_qdiscs": ("testbed.run.monitor", "read_qdiscs"),
    # experiments
    "Plot": ("testbed.lab.results", "Plot"),
    "Results": ("testbed.lab.results", "Results"),
    "skip": ("testbed.lab.results", "skip"),
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'testbed' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
