"""Options shared by the whole suite."""
from __future__ import annotations

import signal

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """A suite started in the background (`make test &`) inherits SIGINT ignored, and so would
    every run it starts; the tests that press Ctrl-C on a run need it delivered. A handler
    here (not SIG_IGN) makes each child start with SIGINT at its default."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/unit/golden/*.json from the current planner instead of comparing")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(autouse=True)
def _at_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests name topologies as `topologies/X.py`, relative to the repository root."""
    from pathlib import Path
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
