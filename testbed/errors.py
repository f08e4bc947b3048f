"""The exceptions of testbed, all under one base.

    TestbedError                 base: catch this to catch everything below
    ├── UsageError               bad arguments or parameters            (exit 2)
    ├── TopologyError            a topology with problems (all of them)  (exit 2)
    ├── EnvironmentProblem       not root, a missing tool/kernel feature (exit 3)
    │   ├── VMUnavailable        the stock-kernel lane is not installed   (testbed.vm)
    │   └── VMFailed             the guest did not report an exit code    (testbed.vm)
    ├── DeployError              the kernel refused a step; rolled back  (exit 3)
    │   └── ServiceError         a run-time service did not come up      (testbed.run.network)
    ├── RunNotFound              no run with that id                     (exit 2)
    └── CommandFailed            a command inside a node failed          (exit 1)

Every message says what is wrong, where, and how to fix it.
"""
from __future__ import annotations

from dataclasses import dataclass


class TestbedError(Exception):
    """Base of every error testbed raises on purpose."""

    exit_code = 1


class UsageError(TestbedError):
    """Invalid arguments or parameters given by the user."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a topology: where it is, what is wrong, how to fix it."""

    where: str
    what: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.where}: {self.what}"
        return f"{text} ({self.fix})" if self.fix else text


class TopologyError(TestbedError):
    """A topology that cannot be built; carries every problem found, not just the first."""

    exit_code = 2

    def __init__(self, problems: list[Problem], source: str = "topology"):
        self.problems = list(problems)
        self.source = source
        lines = [f"{source}: {len(self.problems)} problem(s):"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class EnvironmentProblem(TestbedError):
    """This machine cannot do what was asked (privileges, a tool, a kernel feature)."""

    exit_code = 3


class DeployError(TestbedError):
    """A kernel step failed while building; what was built has been rolled back."""

    exit_code = 3


class RunNotFound(TestbedError):
    """No testbed run with the given id exists."""

    exit_code = 2


class CommandFailed(TestbedError):
    """A command run inside a node exited non-zero."""

    exit_code = 1
