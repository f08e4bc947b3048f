"""The stock-kernel lane: run a command inside a stock Debian kernel under QEMU.

The host kernel lacks netem, 802.1Q and the OVS kernel module; a stock Debian kernel has
them. virtme-ng (``vng``) boots it with the host's filesystem (read-only, except
``--rwdir`` folders; /etc, /tmp, /var and /run are the guest's own, writable). Without
KVM a boot takes about 30 s, and Python imports in the guest are 40-100x slower than on
the host (TCG plus a 9p root): keep guest work to small scripts, not a whole test suite.

Gotchas handled here:
- ``vng --exec`` puts the command, base64-encoded, on the kernel command line; a command
  of about 1.5 kB overflows it and the guest hangs forever. So the command is written
  to a script in a private rwdir and only ``sh <script>`` goes on the command line.
- vng returns 255 for both "the command exited 255" and "the guest crashed"; the script
  writes the command's own exit code to a file in that rwdir instead.
- QEMU reopens /proc/self/fd/1 and 2 with O_TRUNC: if they are regular files (a CI log)
  earlier content is clobbered. vng always gets pipes here, copied to our stdout/stderr.
- vng runs ``virtme-run`` through the shell, paths unquoted: its folder must be on PATH,
  and kernel, cwd and rwdir paths must have no spaces or shell characters.
- The guest does not inherit the environment: chosen variables are exported by the script.
- Every file read over the 9p root costs several round trips: importing networkx and
  pyroute2 from it took ~50 s. ``stage`` packs chosen Python packages (with their
  compiled bytecode) into one archive that the guest unpacks into memory and puts first
  on PYTHONPATH: the same imports then take ~15 s.
"""
from __future__ import annotations

import compileall
import importlib.util
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from testbed.errors import EnvironmentProblem
from testbed.kernel.nsfs import signals_to_main

VIRTME_NG_VERSION = "1.42"
INSTALL_HINT = (
    "install the stock-kernel lane as root: `bash scripts/install-vm-lane.sh .venv` (or `make vm-lane`) "
    "(apt: qemu-system-x86 linux-image-amd64 busybox-static; "
    f"pip: virtme-ng=={VIRTME_NG_VERSION})"
)
FORWARDED_ENV = ("PATH", "PYTHONPATH", "VIRTUAL_ENV", "CI", "LANG", "PYTHONDONTWRITEBYTECODE")
_SAFE_PATH = re.compile(r"/[\w.+@/-]*", re.ASCII)
_STOCK = re.compile(r"^vmlinuz-(\d+)\.(\d+)\.(\d+)-(\d+)-amd64$")


class VMUnavailable(EnvironmentProblem):
    """vng, QEMU, a static busybox or a stock kernel is missing: the lane cannot run."""


class VMFailed(EnvironmentProblem):
    """The guest did not report the command's exit code (timeout, panic, QEMU error)."""


def find_stock_kernel(boot_dir: str = "/boot", modules_dir: str = "/lib/modules",
                      running: str | None = None) -> str | None:
    """Return the newest stock Debian amd64 kernel image in ``boot_dir`` that is not the
    running kernel and whose modules are installed, or None."""
    running = os.uname().release if running is None else running
    found: list[tuple[tuple[int, ...], str]] = []
    try:
        names = os.listdir(boot_dir)
    except OSError:
        return None
    for name in names:
        m = _STOCK.match(name)
        release = name[len("vmlinuz-"):]
        if m and release != running and os.path.isdir(os.path.join(modules_dir, release)):
            found.append((tuple(int(g) for g in m.groups()), os.path.join(boot_dir, name)))
    return max(found)[1] if found else None


def kvm_usable() -> bool:
    """True if /dev/kvm is usable: openable and the CPU advertises vmx/svm. (Here
    /dev/kvm opens but QEMU aborts on MSR writes, and cpuinfo has no vmx: False.)"""
    if os.environ.get("TESTBED_VM_KVM") in ("0", "1"):
        return os.environ["TESTBED_VM_KVM"] == "1"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    flags = _cpu_flags()
    return "vmx" in flags or "svm" in flags


def kvm_probe() -> tuple[bool, str]:
    """Whether `--vm` will use KVM, and what was probed to say so (no guest is booted)."""
    import fcntl
    forced = os.environ.get("TESTBED_VM_KVM")
    if forced in ("0", "1"):
        return forced == "1", f"TESTBED_VM_KVM={forced} decides; nothing probed"
    steps = []
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return False, f"/dev/kvm: {exc.strerror}; --vm boots with software emulation"
    try:
        vm = fcntl.ioctl(fd, 0xAE01, 0)                 # KVM_CREATE_VM
        try:
            os.close(fcntl.ioctl(vm, 0xAE41, 0))        # KVM_CREATE_VCPU
        finally:
            os.close(vm)
        steps.append("/dev/kvm made a VM and a vCPU")
    except OSError as exc:
        steps.append(f"/dev/kvm opens, but KVM_CREATE_VM/VCPU failed: {exc.strerror}")
    finally:
        os.close(fd)
    flags = "vmx" in _cpu_flags() or "svm" in _cpu_flags()
    steps.append("the CPU advertises " + ("vmx/svm" if flags else "no vmx/svm"))
    used = kvm_usable()
    steps.append("so --vm boots with KVM" if used else "so --vm boots with software emulation (--disable-kvm)")
    steps.append("no guest was booted to check (a boot takes 30-90 s; `testbed run --vm ... --test none` does)")
    return used, "; ".join(steps)


def _cpu_flags() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return []


def find_vng() -> str | None:
    """The vng that `--vm` runs: next to this Python (a venv's bin), else on PATH."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which("vng", path=search)


def find_static_busybox() -> str | None:
    """A static busybox (virtme-ng's guest init needs one), or None."""
    return next((p for n in ("busybox-static", "busybox.static", "busybox")
                 if (p := shutil.which(n)) and _is_static_elf(p)), None)


def lane_capabilities() -> list:
    """What `--vm` needs, probed with the lookups the lane itself makes (for `testbed doctor`)."""
    from testbed.kernel.caps import Capability
    caps = []
    qemu = shutil.which("qemu-system-x86_64")
    caps.append(Capability("qemu", bool(qemu), "`--vm`: a stock kernel in a VM", "apt-get install qemu-system-x86",
                           qemu or "no qemu-system-x86_64 on PATH"))
    vng = find_vng()
    caps.append(Capability("virtme-ng", bool(vng), "`--vm`: boots the VM with the host's files",
                           f"pip install virtme-ng=={VIRTME_NG_VERSION} (or `make vm-lane`)",
                           vng or f"no vng next to {sys.executable} or on PATH"))
    busybox = find_static_busybox()
    caps.append(Capability("busybox-static", bool(busybox), "`--vm`: the guest's init tools",
                           "apt-get install busybox-static", busybox or "no static busybox on PATH"))
    kernel = os.environ.get("TESTBED_VM_KERNEL") or find_stock_kernel()
    caps.append(Capability("stock-kernel", bool(kernel and os.path.isfile(kernel)), "`--vm`: the kernel the VM boots",
                           "apt-get install linux-image-amd64",
                           kernel or f"no stock kernel in /boot other than the running {os.uname().release}"))
    kvm, detail = kvm_probe()
    caps.append(Capability("kvm", kvm, "`--vm` at native speed (without it QEMU emulates, ~20-30x slower)",
                           "enable virtualization (vmx/svm, nested KVM) for this machine", detail))
    return caps


def vng_command(argv: Sequence[str], *, kernel: str, rwdirs: Sequence[str], cwd: str,
                memory: str = "2G", cpus: int = 2, kvm: bool | None = None,
                vng: str = "vng") -> list[str]:
    """Build the vng argv that runs ``argv`` (quoted with shlex) in the guest."""
    if not argv:
        raise ValueError("empty command")
    for d in (*rwdirs, cwd, kernel):
        if not _SAFE_PATH.fullmatch(d):  # vng passes these through a shell, unquoted
            raise ValueError(f"path must be absolute, of letters, digits and ._+@/- only: {d!r}")
    if kvm is None:
        kvm = kvm_usable()
    cmd = [vng, "--run", kernel, *([] if kvm else ["--disable-kvm"]),
           "--memory", memory, "--cpus", str(cpus)]
    cmd += [f"--rwdir={d}" for d in rwdirs]
    return cmd + ["--cwd", cwd, "--exec", shlex.join(argv)]


def _is_static_elf(path: str) -> bool:
    """True if ``path`` is a 64-bit little-endian ELF without a PT_INTERP header."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:
                return False
            phoff = int.from_bytes(head[32:40], "little")
            phentsize = int.from_bytes(head[54:56], "little")
            phnum = int.from_bytes(head[56:58], "little")
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    return all(int.from_bytes(table[i:i + 4], "little") != 3
               for i in range(0, len(table), phentsize))


def lane_tools(kernel: str | None = None) -> tuple[str, str]:
    """Return (vng, kernel: ``kernel``, $TESTBED_VM_KERNEL or the newest stock one);
    raise VMUnavailable saying what is missing."""
    if platform.machine() != "x86_64":
        raise VMUnavailable(f"the stock-kernel lane needs x86_64, not {platform.machine()}")
    vng = find_vng()
    missing = [] if vng else [f"vng (pip: virtme-ng=={VIRTME_NG_VERSION})"]
    if not shutil.which("qemu-system-x86_64"):
        missing.append("qemu-system-x86_64 (apt: qemu-system-x86)")
    if find_static_busybox() is None:
        missing.append("a static busybox (apt: busybox-static)")
    kernel = kernel or os.environ.get("TESTBED_VM_KERNEL") or find_stock_kernel()
    if not kernel or not os.path.isfile(kernel):
        what = kernel or "a stock kernel /boot/vmlinuz-*-amd64"
        missing.append(f"{what} (apt: linux-image-amd64)")
    if missing:
        raise VMUnavailable("missing " + ", ".join(missing) + "; " + INSTALL_HINT)
    assert vng and kernel
    return vng, kernel


def _pump(src: IO[bytes], dst: IO[str]) -> None:
    """Copy a pipe to a text stream as it arrives (in a helper thread: signals go to the main one)."""
    signals_to_main()
    buf = getattr(dst, "buffer", None)
    for chunk in iter(lambda: src.read1(65536), b""):  # type: ignore[attr-defined]
        if buf is not None:
            buf.write(chunk)
            buf.flush()
        else:
            dst.write(chunk.decode(errors="replace"))
            dst.flush()


STAGE_DIR = "/run/testbed-vm-python"     # guest tmpfs


def _package_root(name: str) -> tuple[str, str]:
    """(path, name in the archive) of an importable top-level package or module."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ValueError(f"cannot stage {name!r}: not importable here")
    if spec.submodule_search_locations:
        return list(spec.submodule_search_locations)[0], name
    if not spec.origin or not os.path.isfile(spec.origin):
        raise ValueError(f"cannot stage {name!r}: no file ({spec.origin})")
    return spec.origin, os.path.basename(spec.origin)


def stage_archive(names: Sequence[str], dest: str) -> None:
    """Write the packages ``names`` (compiled first, where writable) to the tar ``dest``.

    Test folders are left out; bytecode is kept, with the sources' modification times, so
    the guest's Python uses it instead of compiling (slow under emulation).
    """
    def skip(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        return None if os.path.basename(info.name) == "tests" else info
    with tarfile.open(dest, "w") as tar:
        for name in names:
            path, arcname = _package_root(name)
            if os.path.isdir(path):
                compileall.compile_dir(path, quiet=2, workers=1)   # no-op when up to date
            tar.add(path, arcname=arcname, filter=skip)


def run_in_vm(argv: Sequence[str], *, rwdirs: Sequence[str] = (), cwd: str,
              timeout: float, env: Mapping[str, str] | None = None,
              kernel: str | None = None, memory: str = "2G", cpus: int = 2,
              stage: Sequence[str] = ()) -> int:
    """Run ``argv`` as root in a stock-kernel guest, in ``cwd``, with ``rwdirs`` writable.

    Guest stdout/stderr stream to ours. Returns the command's own exit code. Raises
    VMUnavailable if the lane is not installed, VMFailed on timeout or a guest crash.
    ``env`` (default: FORWARDED_ENV from ours) is exported in the guest. ``stage``:
    top-level Python packages to import from guest memory instead of the 9p root (see
    stage_archive); a command that should import them must not have them in its first
    sys.path entry (run Python with -P, not from a folder holding them).
    """
    vng, kernel = lane_tools(kernel)
    cwd = os.path.abspath(cwd)
    if env is None:
        env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
    with tempfile.TemporaryDirectory(prefix="testbed-vm-") as box:
        rc_file = os.path.join(box, "rc")
        lines = [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
        if stage:
            archive = os.path.join(box, "python.tar")
            stage_archive(stage, archive)
            lines += [f"mkdir -p {STAGE_DIR} && tar -xf {shlex.quote(archive)} -C {STAGE_DIR} || exit 1",
                      f'export PYTHONPATH={STAGE_DIR}${{PYTHONPATH:+:$PYTHONPATH}}']
        lines += [f"cd {shlex.quote(cwd)} || exit 1", shlex.join(argv) + " </dev/null",
                  f"echo $? > {shlex.quote(rc_file)}"]
        Path(box, "run.sh").write_text("\n".join(lines) + "\n")
        cmd = vng_command(["sh", os.path.join(box, "run.sh")], kernel=kernel,
                          rwdirs=[box, *(os.path.abspath(d) for d in rwdirs)],
                          cwd=cwd, memory=memory, cpus=cpus, vng=vng)
        host_env = dict(os.environ, PATH=os.pathsep.join(
            [os.path.dirname(vng), os.environ.get("PATH", "/usr/bin:/bin")]))
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=host_env, start_new_session=True)
        pumps = [threading.Thread(target=_pump, args=(p, s), daemon=True)
                 for p, s in ((proc.stdout, sys.stdout), (proc.stderr, sys.stderr))]
        for t in pumps:
            t.start()
        try:
            status = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise VMFailed(f"guest command timed out after {timeout} s: {shlex.join(argv)}")
        except BaseException:  # e.g. KeyboardInterrupt: do not leave QEMU running
            _kill_group(proc)
            raise
        finally:
            for t in pumps:
                t.join(timeout=10)
        try:
            return int(Path(rc_file).read_text().strip())
        except (OSError, ValueError):
            raise VMFailed(f"guest reported no exit code (vng exited {status}): kernel panic, "
                           f"out of memory or QEMU error; command: {shlex.join(argv)}") from None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """End vng and its QEMU child: the process group we created for them (by its PID)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=10)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue
