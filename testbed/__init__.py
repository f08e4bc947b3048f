"""testbed: build a networkx graph as a real network of namespaces, veths and bridges."""
from testbed.errors import (CommandFailed, DeployError, EnvironmentProblem, Problem, RunNotFound,
                            TestbedError, TopologyError, UsageError)
from testbed.loader import load
from testbed.network import Network, PingallResult
from testbed.plan import Plan
from testbed.planner import plan
from testbed.topology import validate

__version__ = "0.1.0"

__all__ = [
    "CommandFailed", "DeployError", "EnvironmentProblem", "Network", "PingallResult", "Plan",
    "Problem", "RunNotFound", "TestbedError", "TopologyError", "UsageError", "load", "plan",
    "validate", "__version__",
]
