"""Unit tests of testbed.vm: the vng command line and the stock-kernel finder (no VM, no root)."""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from testbed import vm


def _cmd(argv: list[str], **kw: object) -> list[str]:
    args: dict = dict(kernel="/boot/vmlinuz-6.1.0-56-amd64", rwdirs=["/tmp/out"],
                      cwd="/work/main", kvm=False)
    args.update(kw)
    return vm.vng_command(argv, **args)


def test_vng_command_shape() -> None:
    cmd = _cmd(["true"], rwdirs=["/tmp/a", "/work/b"], memory="3G", cpus=4)
    assert cmd == ["vng", "--run", "/boot/vmlinuz-6.1.0-56-amd64", "--disable-kvm",
                   "--memory", "3G", "--cpus", "4", "--rwdir=/tmp/a", "--rwdir=/work/b",
                   "--cwd", "/work/main", "--exec", "true"]


def test_vng_command_kvm_omits_disable_flag() -> None:
    assert "--disable-kvm" not in _cmd(["true"], kvm=True)


def test_vng_command_custom_binary() -> None:
    assert _cmd(["true"], vng="/venv/bin/vng")[0] == "/venv/bin/vng"


@pytest.mark.parametrize("argv", [
    ["echo", "hello world"],
    ["sh", "-c", "echo $HOME; exit 3"],
    ["python", "-c", "print('it''s')", "a\"b", "$(rm -rf /)", "`x`", "a;b|c&&d", ""],
    ["printf", "%s\n", "tab\there", "new\nline", "*", "~"],
])
def test_vng_command_quotes_exec_round_trip(argv: list[str]) -> None:
    cmd = _cmd(argv)
    assert cmd[-2] == "--exec"
    assert shlex.split(cmd[-1]) == argv  # the guest's sh sees exactly argv


@pytest.mark.parametrize("kw", [
    dict(rwdirs=["relative/dir"]),
    dict(rwdirs=["/guest=/host"]),
    dict(rwdirs=["/tmp/a b"]),
    dict(rwdirs=["/tmp/a;rm"]),
    dict(cwd="/tmp/$(x)"),
    dict(cwd="/tmp/x\n"),
    dict(cwd="work"),
    dict(kernel="vmlinuz"),
])
def test_vng_command_rejects_bad_paths(kw: dict) -> None:
    with pytest.raises(ValueError):
        _cmd(["true"], **kw)


def test_vng_command_rejects_empty_argv() -> None:
    with pytest.raises(ValueError):
        _cmd([])


def _fake_boot(tmp_path: Path, releases: list[str], with_modules: list[str]) -> tuple[str, str]:
    boot, mods = tmp_path / "boot", tmp_path / "modules"
    boot.mkdir()
    mods.mkdir()
    for r in releases:
        (boot / f"vmlinuz-{r}").write_bytes(b"")
        (boot / f"config-{r}").write_text("")
    for r in with_modules:
        (mods / r).mkdir()
    return str(boot), str(mods)


def test_find_stock_kernel_picks_newest_numerically(tmp_path: Path) -> None:
    rels = ["6.1.0-9-amd64", "6.1.0-56-amd64", "6.1.0-100-amd64", "5.10.0-30-amd64"]
    boot, mods = _fake_boot(tmp_path, rels, rels)
    found = vm.find_stock_kernel(boot, mods, running="6.18.44-fc")
    assert found == f"{boot}/vmlinuz-6.1.0-100-amd64"


def test_find_stock_kernel_skips_running_and_non_stock(tmp_path: Path) -> None:
    rels = ["6.1.0-56-amd64", "6.1.0-60-amd64", "6.18.44-fc-v595", "6.1.0-70-cloud-amd64",
            "6.1.0-71-rt-amd64", "6.1.0-72-amd64.old"]
    boot, mods = _fake_boot(tmp_path, rels, rels)
    found = vm.find_stock_kernel(boot, mods, running="6.1.0-60-amd64")
    assert found == f"{boot}/vmlinuz-6.1.0-56-amd64"


def test_find_stock_kernel_needs_modules(tmp_path: Path) -> None:
    boot, mods = _fake_boot(tmp_path, ["6.1.0-56-amd64", "6.1.0-60-amd64"], ["6.1.0-56-amd64"])
    assert vm.find_stock_kernel(boot, mods, running="x") == f"{boot}/vmlinuz-6.1.0-56-amd64"


def test_find_stock_kernel_none(tmp_path: Path) -> None:
    boot, mods = _fake_boot(tmp_path, ["6.18.44-fc-v595"], ["6.18.44-fc-v595"])
    assert vm.find_stock_kernel(boot, mods, running="6.18.44-fc-v595") is None
    assert vm.find_stock_kernel(str(tmp_path / "missing"), mods) is None


def test_run_in_vm_unavailable_names_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(vm.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(vm.platform, "machine", lambda: "x86_64")
    with pytest.raises(vm.VMUnavailable, match="qemu-system-x86.*install-vm-lane.sh"):
        vm.run_in_vm(["true"], cwd="/", timeout=1, kernel=str(tmp_path / "nokernel"))


def test_static_elf_check(tmp_path: Path) -> None:
    assert not vm._is_static_elf(str(tmp_path / "missing"))
    (tmp_path / "text").write_text("#!/bin/sh\n")
    assert not vm._is_static_elf(str(tmp_path / "text"))
    assert not vm._is_static_elf("/bin/sh")  # dynamically linked on Debian
