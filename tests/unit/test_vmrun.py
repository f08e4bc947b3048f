"""Unit tests of `--vm` (testbed.cli.vmrun): the guest's command line, refusals, errors (no VM)."""
from __future__ import annotations

import os
import sys
import tarfile
from pathlib import Path

import pytest

from testbed import vm
from testbed.cli import main as cli
from testbed.cli import vmrun


@pytest.mark.parametrize("argv, expected", [
    (["run", "--vm", "t.py", "--test", "ping"], ["run", "t.py", "--test", "ping"]),
    (["run", "t.py", "--vm"], ["run", "t.py"]),
    (["experiment", "--vm", "e.py", "-o", "out"], ["experiment", "e.py", "-o", "out"]),
    (["run", "--v", "t.py", "--test", "none"], ["run", "t.py", "--test", "none"]),   # argparse abbreviation
    (["run", "t.py", "-c", "h1 echo --vm", "--vm"], ["run", "t.py", "-c", "h1 echo --vm"]),
    (["run", "t.py", "--", "--vm"], ["run", "t.py", "--", "--vm"]),
])
def test_strip_vm_flag(argv: list[str], expected: list[str]) -> None:
    assert vmrun.strip_vm_flag(argv) == expected


def test_guest_command_runs_this_python_without_cwd_on_path() -> None:
    cmd = vmrun.guest_command(["run", "--vm", "t.py", "--test", "ping"])
    assert cmd == [sys.executable, "-P", "-m", "testbed.cli.main", "run", "t.py", "--test", "ping"]


def test_experiment_out_is_the_writable_folder(tmp_path: Path) -> None:
    args = cli.build_parser().parse_args(["experiment", "--vm", "e.py", "--out", str(tmp_path / "res")])
    assert args.vm and vmrun.writable_dirs(args) == [str(tmp_path / "res")]
    args = cli.build_parser().parse_args(["run", "--vm", "t.py", "--test", "ping"])
    assert args.vm and vmrun.writable_dirs(args) == []


def test_interactive_shell_is_refused_before_booting(monkeypatch, capsys) -> None:
    monkeypatch.setattr(vm, "run_in_vm", lambda *a, **k: pytest.fail("booted a guest"))
    assert cli.main(["run", "--vm", "topologies/pair.py"]) == cli.EXIT_INPUT
    assert "--test" in capsys.readouterr().err


def test_missing_lane_is_exit_3_with_install_hint(monkeypatch, capsys) -> None:
    def missing(kernel=None):
        raise vm.VMUnavailable("missing qemu-system-x86_64 (apt: qemu-system-x86); " + vm.INSTALL_HINT)
    monkeypatch.setattr(vm, "lane_tools", missing)
    assert cli.main(["run", "--vm", "topologies/pair.py", "--test", "ping"]) == cli.EXIT_ENV
    err = capsys.readouterr().err
    assert "not installed" in err and "scripts/install-vm-lane.sh .venv" in err and "make vm-lane" in err


def test_guest_failure_is_exit_3(monkeypatch, capsys) -> None:
    monkeypatch.setattr(vm, "lane_tools", lambda kernel=None: ("vng", "/boot/vmlinuz-6.1.0-56-amd64"))

    def crash(*a, **k):
        raise vm.VMFailed("guest command timed out after 5 s: x")
    monkeypatch.setattr(vm, "run_in_vm", crash)
    assert cli.main(["run", "--vm", "topologies/pair.py", "--test", "none"]) == cli.EXIT_ENV
    assert "timed out" in capsys.readouterr().err


def test_rerun_passes_command_cwd_outdir_and_exit_code(monkeypatch, tmp_path: Path) -> None:
    seen: dict = {}
    monkeypatch.setattr(vm, "lane_tools", lambda kernel=None: ("vng", "/boot/vmlinuz-6.1.0-56-amd64"))

    def fake(argv, **kw):
        seen.update(kw, argv=argv)
        return 7
    monkeypatch.setattr(vm, "run_in_vm", fake)
    monkeypatch.chdir(tmp_path)
    rc = cli.main(["experiment", "--vm", "e.py", "--out", "res", "-p", "n=2"])
    assert rc == 7
    assert seen["argv"][4:] == ["experiment", "e.py", "--out", "res", "-p", "n=2"]
    assert seen["cwd"] == str(tmp_path) and seen["rwdirs"] == [str(tmp_path / "res")]
    assert (tmp_path / "res").is_dir()                      # made before the guest mounts it
    assert set(seen["stage"]) == {"testbed", "networkx", "pyroute2"}


def test_stage_archive_holds_packages_with_bytecode_and_no_tests(tmp_path: Path) -> None:
    dest = tmp_path / "p.tar"
    vm.stage_archive(["testbed", "networkx"], str(dest))
    with tarfile.open(dest) as tar:
        names = tar.getnames()
    assert "testbed/vm.py" in names and "networkx/__init__.py" in names
    assert any(n.startswith("testbed/__pycache__/vm.") and n.endswith(".pyc") for n in names)
    assert not any("/tests/" in n or n.endswith("/tests") for n in names)


def test_stage_archive_refuses_unknown_package(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not importable"):
        vm.stage_archive(["no_such_package_here"], str(tmp_path / "p.tar"))


def test_run_in_vm_script_unpacks_stage_first_on_pythonpath(monkeypatch, tmp_path: Path) -> None:
    """The guest script: env, then the staged packages first on PYTHONPATH, then the command."""
    scripts: list[str] = []
    monkeypatch.setattr(vm, "lane_tools", lambda kernel=None: ("/bin/true", "/boot/vmlinuz-6.1.0-56-amd64"))

    class Done(Exception):
        pass

    def popen(cmd, **kw):
        box = next(a.split("=", 1)[1] for a in cmd if a.startswith("--rwdir="))
        scripts.append(Path(box, "run.sh").read_text())
        assert os.path.getsize(Path(box, "python.tar")) > 0
        raise Done()
    monkeypatch.setattr(vm.subprocess, "Popen", popen)
    with pytest.raises(Done):
        vm.run_in_vm(["python", "-P", "x.py"], cwd=str(tmp_path), timeout=5, env={"A": "1", "PYTHONPATH": "/p"},
                     stage=["testbed"])
    lines = scripts[0].splitlines()
    assert lines[0] == "export A=1" and lines[1] == "export PYTHONPATH=/p"
    assert lines[2].startswith(f"mkdir -p {vm.STAGE_DIR} && tar -xf ")
    assert lines[3] == f"export PYTHONPATH={vm.STAGE_DIR}${{PYTHONPATH:+:$PYTHONPATH}}"
    assert lines[5] == "python -P x.py </dev/null"


def test_the_guest_records_the_host_checkouts_commit(monkeypatch, tmp_path: Path) -> None:
    from testbed.lab import provenance
    seen: dict = {}
    monkeypatch.setattr(vm, "lane_tools", lambda kernel=None: ("vng", "/boot/vmlinuz-6.1.0-56-amd64"))
    monkeypatch.setattr(vm, "run_in_vm", lambda argv, **kw: seen.update(kw) or 0)
    monkeypatch.setattr(provenance, "git_commit", lambda path=None: {"commit": "c" * 40, "dirty": True})
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["experiment", "--vm", "e.py", "--out", "res"]) == 0
    env = seen["env"]
    assert env[provenance.SOURCE_COMMIT_ENV] == "c" * 40 and env[provenance.SOURCE_DIRTY_ENV] == "1"
    assert env["LANG"] == "C.UTF-8"


def test_a_staged_package_falls_back_on_the_recorded_commit(monkeypatch, tmp_path: Path) -> None:
    from testbed.lab import provenance
    monkeypatch.setattr(provenance.testbed, "__file__", str(tmp_path / "testbed" / "__init__.py"))
    monkeypatch.delenv(provenance.SOURCE_COMMIT_ENV, raising=False)
    assert provenance.git_commit() == {"commit": None, "dirty": None}       # no checkout at tmp_path
    monkeypatch.setenv(provenance.SOURCE_COMMIT_ENV, "d" * 40)
    monkeypatch.setenv(provenance.SOURCE_DIRTY_ENV, "0")
    assert provenance.git_commit() == {"commit": "d" * 40, "dirty": False}
