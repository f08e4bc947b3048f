"""Every Python file of the repository compiles, including those only a guest or a
subprocess imports (tests/kernel/run_lane.py runs inside the stock-kernel guest)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tracked_python_files() -> list[str]:
    done = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"not a git checkout: {done.stderr.strip()}")
    return done.stdout.split()


def test_every_python_file_compiles() -> None:
    files = _tracked_python_files()
    assert len(files) > 50, f"only {len(files)} Python files listed under {ROOT}"
    broken = []
    for name in files:
        try:
            compile((ROOT / name).read_text(), name, "exec")
        except SyntaxError as err:
            broken.append(f"{name}:{err.lineno}: {err.msg}")
    assert not broken, "\n".join(broken)
