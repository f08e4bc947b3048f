"""``mininet.util`` on testbed: address arithmetic, argument parsing, running commands,
watching processes, dumping connections.

Pure helpers behave as Mininet 2.3's; the process helpers run commands on this machine
(outside any node), as Mininet's do; ``waitListening`` asks the server's node with ``ss``
instead of telnet; ``moveIntf`` moves an interface between two nodes' namespaces.
"""
from __future__ import annotations

import codecs
import functools
import os
import re
import select
import shlex
import subprocess
import time
from fcntl import F_GETFL, F_SETFL, fcntl
from typing import Any, Callable, Iterable, Iterator

from mininet.log import debug, error, output

from testbed.errors import CommandFailed, EnvironmentProblem, UsageError

BaseString = str
Python3 = True
Encoding = "utf-8"


def decode(value: Any) -> str:
    return value.decode(Encoding, errors="replace") if isinstance(value, (bytes, bytearray)) else value


def encode(value: Any) -> bytes:
    return value.encode(Encoding) if isinstance(value, str) else value


def getincrementaldecoder():
    return codecs.getincrementaldecoder(Encoding)(errors="replace")


# ---------------------------------------------------------------- running commands (on this machine)

def _argv(cmd: tuple, shell: bool | None = None) -> tuple[list[str] | str, bool]:
    if len(cmd) == 1:
        cmd = cmd[0]
        if isinstance(cmd, str) and shell is None:
            return cmd, True
        if isinstance(cmd, str):
            return (cmd if shell else shlex.split(cmd)), bool(shell)
        return [str(c) for c in cmd], bool(shell)
    return [str(c) for c in cmd], bool(shell)


def errRun(*cmd: Any, **kwargs: Any) -> tuple[str, str, int]:
    """Run a command here and return (stdout, stderr, exit code); ``stderr=STDOUT`` merges them."""
    argv, shell = _argv(cmd, kwargs.pop("shell", None))
    stderr = kwargs.pop("stderr", subprocess.PIPE)
    kwargs.pop("echo", None)
    debug("*** errRun:", argv, "\n")
    try:
        proc = subprocess.run(argv, shell=shell, stdout=subprocess.PIPE, stderr=stderr, **kwargs)
    except FileNotFoundError as exc:
        return "", f"{exc.strerror}: {exc.filename}", 127
    return decode(proc.stdout or b""), decode(proc.stderr or b""), proc.returncode


def errFail(*cmd: Any, **kwargs: Any) -> tuple[str, str, int]:
    """errRun, raising when the command fails."""
    out, err, code = errRun(*cmd, **kwargs)
    if code:
        raise CommandFailed(f"errFail: {cmd} failed with exit code {code}: {err.strip()[:300]}")
    return out, err, code


def quietRun(cmd: Any, **kwargs: Any) -> str:
    """Run a command here and return its output (stdout and stderr together)."""
    return errRun(cmd, stderr=subprocess.STDOUT, **kwargs)[0]


def run(cmd: str) -> str:
    return errRun(cmd)[0]


def checkRun(cmd: str) -> str:
    out, err, code = errRun(cmd)
    if code:
        raise subprocess.CalledProcessError(code, cmd, out, err)
    return out


def which(cmd: str, **kwargs: Any) -> str | None:
    import shutil
    return shutil.which(cmd)


SHELL_BUILTINS = frozenset((
    "alias bg bind break builtin caller cd command compgen complete compopt continue declare dirs disown "
    "echo enable eval exec exit export false fc fg getopts hash help history jobs kill let local logout "
    "mapfile popd printf pushd pwd read readarray readonly return set shift shopt source suspend test "
    "times trap true type typeset ulimit umask unalias unset wait").split())


def isShellBuiltin(cmd: str) -> bool:
    words = cmd.split()
    return bool(words) and words[0] in SHELL_BUILTINS


# ---------------------------------------------------------------- addresses

def _colonHex(value: int, count: int) -> str:
    return ":".join(f"{(value >> (8 * i)) & 0xFF:02x}" for i in reversed(range(count)))


def macColonHex(mac: int) -> str:
    """0x0a0000000001 -> '0a:00:00:00:00:01'."""
    return _colonHex(mac, 6)


def ipStr(ip: int) -> str:
    """0x0a000001 -> '10.0.0.1'."""
    return ".".join(str((ip >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def ipNum(w: int, x: int, y: int, z: int) -> int:
    return (w << 24) | (x << 16) | (y << 8) | z


def ipAdd(i: int, prefixLen: int = 8, ipBaseNum: int = 0x0A000000) -> str:
    """Host number ``i`` in the network ipBaseNum/prefixLen, as a dotted string."""
    mask = 0xFFFFFFFF ^ ((1 << (32 - prefixLen)) - 1) if prefixLen else 0
    if i > ((1 << (32 - prefixLen)) - 1):
        raise UsageError(f"host number {i} does not fit in a /{prefixLen} network")
    return ipStr((ipBaseNum & mask) + i)


def ipParse(ip: str) -> int:
    parts = [int(p) for p in ip.split(".")]
    while len(parts) < 4:
        parts.append(0)
    return ipNum(*parts[:4])


def netParse(ipstr: str) -> tuple[int, int]:
    """'10.0.0.0/8' -> (ipParse('10.0.0.0'), 8); without a prefix, /24."""
    prefix = 24
    if "/" in ipstr:
        ipstr, text = ipstr.split("/", 1)
        prefix = int(text)
    return ipParse(ipstr), prefix


def checkInt(s: str) -> bool:
    try:
        int(s)
    except ValueError:
        return False
    return True


def checkFloat(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def makeNumeric(s: Any) -> Any:
    """'3' -> 3, '2.5' -> 2.5, anything else unchanged."""
    if isinstance(s, str):
        if checkInt(s):
            return int(s)
        if checkFloat(s):
            return float(s)
    return s


# ---------------------------------------------------------------- sequences and names

def irange(start: int, end: int) -> range:
    """Inclusive range: irange(1, 3) is 1, 2, 3."""
    return range(start, end + 1)


def natural(text: Any) -> list:
    """A sort key that orders 'h2' before 'h10'."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(text))]


def naturalSeq(t: Iterable) -> list:
    return [natural(x) for x in t]


def numCores() -> int:
    return os.cpu_count() or 1


# ---------------------------------------------------------------- classes from strings (mn options)

def custom(cls: Callable, **params: Any) -> Callable:
    """A constructor of ``cls`` with ``params`` as defaults (keywords given later win)."""
    def customized(*args: Any, **kwargs: Any) -> Any:
        merged = dict(params)
        merged.update(kwargs)
        return cls(*args, **merged)
    customized.__name__ = f"custom({getattr(cls, '__name__', cls)})"
    return customized


def splitArgs(argstr: str) -> tuple[str, list, dict]:
    """'tree,2,fanout=3' -> ('tree', [2], {'fanout': 3})."""
    name, *rest = [p.strip() for p in argstr.split(",")]
    args = [makeNumeric(p) for p in rest if "=" not in p]
    kwargs = {k.strip(): makeNumeric(v.strip()) for k, _, v in (p.partition("=") for p in rest if "=" in p)}
    return name, args, kwargs


def customClass(classes: dict, argStr: str) -> Callable:
    """The class named in 'name,arg,key=value' with its arguments bound (mn --switch etc.)."""
    name, args, kwargs = splitArgs(argStr)
    cls = classes.get(name)
    if cls is None:
        raise UsageError(f"{name!r} is not one of {', '.join(sorted(classes))}")
    if not args and not kwargs:
        return cls
    return specialClass(cls, append=args, defaults=kwargs)


def specialClass(cls: type, prepend: list | None = None, append: list | None = None,
                 defaults: dict | None = None, override: dict | None = None) -> type:
    """A subclass of ``cls`` whose constructor adds arguments."""
    prepend, append = list(prepend or ()), list(append or ())
    defaults, override = dict(defaults or {}), dict(override or {})

    class Special(cls):               # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **params: Any) -> None:
            merged = dict(defaults)
            merged.update(params)
            merged.update(override)
            cls.__init__(self, *(prepend + list(args) + append), **merged)

    Special.__name__ = cls.__name__
    return Special


def buildTopo(topos: dict, topoStr: str) -> Any:
    name, args, kwargs = splitArgs(topoStr)
    if name not in topos:
        raise UsageError(f"unknown topology {name!r}; known: {', '.join(sorted(topos))}")
    return topos[name](*args, **kwargs)


# ---------------------------------------------------------------- the machine

def ensureRoot() -> None:
    if os.geteuid() != 0:
        error("*** Mininet must run as root.\n")
        raise EnvironmentProblem("Mininet scripts build network namespaces: run them as root (sudo)")


def fixLimits() -> None:
    """Mininet raises many system limits; testbed needs only enough open files per process."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def mountCgroups() -> None:
    """Nothing to mount: testbed finds the machine's cgroup hierarchy (v1 or v2) itself."""


def retry(retries: int, delaySecs: float, fn: Callable, *args: Any, **keywords: Any) -> Any:
    tries = 0
    while not fn(*args, **keywords) and tries < retries:
        time.sleep(delaySecs)
        tries += 1
    if tries >= retries:
        raise CommandFailed(f"{getattr(fn, '__name__', fn)} did not succeed after {retries} tries")


# ---------------------------------------------------------------- interfaces

def moveIntf(intf: Any, dstNode: Any, printError: bool = True, retries: int = 3, delaySecs: float = 0.001) -> bool:
    """Move an interface (an Intf, or the name of one of the network's interfaces) into
    ``dstNode``'s namespace, from the namespace of the node that holds it now."""
    name = str(intf)
    owner = getattr(intf, "node", None)
    if owner is None:
        for node in dstNode.engine.nodes.values():
            held = node.nameToIntf.get(name)
            if held is not None and getattr(held, "_home", None) is not None:
                owner = held._home
                break
    if owner is None:
        if printError:
            error(f"*** Error: moveIntf: no node of this network holds an interface {name}\n")
        return False
    if owner is dstNode:
        return True
    out = owner._run("ip", "link", "set", "dev", name, "netns", dstNode.namespace)
    if out.strip():
        if printError:
            error(f"*** Error: moveIntf: {name} not moved to {dstNode}: {out.strip()}\n")
        return False
    return True


def moveIntfNoRetry(intf: Any, dstNode: Any, printError: bool = False) -> bool:
    return moveIntf(intf, dstNode, printError=printError)


def makeIntfPair(*args: Any, **kwargs: Any) -> None:
    raise UsageError("makeIntfPair: testbed makes links through Link() or Mininet.addLink(), "
                     "which journal them; create links that way")


# ---------------------------------------------------------------- dumps

def dumpNodeConnections(nodes: Iterable) -> None:
    """Print each node's interfaces and what they connect to, as Mininet does:
    ``s1 lo:  s1-eth1:h1-eth0`` (an interface without a link shows nothing after its colon)."""
    for node in nodes:
        output(node.name)
        for intf in node.intfList():
            output(f" {intf}:")
            link = intf.link
            if link is not None:
                output(str(link.intf2 if link.intf1 is intf else link.intf1))
            else:
                output(" ")
        output("\n")


def dumpNetConnections(net: Any) -> None:
    dumpNodeConnections(net.controllers + net.switches + net.hosts)


def dumpPorts(switches: Iterable) -> None:
    for switch in switches:
        output(f"{switch.name} ")
        for intf in switch.intfList():
            port = switch.ports[intf]
            output(f"{intf}:{port} ")
        output("\n")


# ---------------------------------------------------------------- watching processes

def pmonitor(popens: dict, timeoutms: int = 500, readline: bool = True, readmax: int = 1024) -> Iterator[tuple]:
    """Yield (host, output) from a dict host -> Popen, a line at a time, until every one ends;
    (None, '') when nothing arrived within ``timeoutms``."""
    poller = select.poll()
    by_fd: dict[int, Any] = {}
    decoders = {}
    for host, popen in popens.items():
        fd = popen.stdout.fileno()
        by_fd[fd] = host
        decoders[fd] = getincrementaldecoder()
        poller.register(fd, select.POLLIN)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | os.O_NONBLOCK)
    while popens:
        ready = poller.poll(timeoutms)
        if not ready:
            yield None, ""
            continue
        for fd, event in ready:
            host = by_fd[fd]
            popen = popens[host]
            if event & (select.POLLIN | select.POLLHUP):
                while True:
                    try:
                        data = popen.stdout.readline() if readline else popen.stdout.read(readmax)
                    except OSError:
                        data = b""
                    line = decoders[fd].decode(data or b"")
                    if not line:
                        break
                    yield host, line
            if event & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                poller.unregister(fd)
                del popens[host]


def waitListening(client: Any = None, server: Any = "127.0.0.1", port: int = 80, timeout: float | None = None) -> bool:
    """Wait until a TCP connection to ``port`` at ``server`` (a node or an address) succeeds
    from ``client`` (a node; by default the server's own node); True when it does within
    ``timeout`` seconds (None: no limit). As Mininet's (which used telnet), it connects and
    closes, so the server sees one short connection."""
    source = client if client is not None else (server if hasattr(server, "cmd") else None)
    if source is None:
        raise UsageError("waitListening: give the client node (or the server's node): testbed connects from "
                         "a node, never from this machine's own network")
    address = server if isinstance(server, str) else server.IP()
    deadline = None if timeout is None else time.monotonic() + timeout
    probe = ["timeout", "2", "bash", "-c", f"exec 3<>/dev/tcp/{address}/{port}"]
    while True:
        if source._run_status(*probe) == 0:
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


class _Pexpect:
    """``from mininet.util import pexpect``: the pexpect module, its ``spawn`` giving text (str)
    output as Mininet's wrapper does."""

    def __getattr__(self, name: str) -> Any:
        try:
            import pexpect as module
        except ImportError:
            raise EnvironmentProblem("pexpect is not installed: pip install pexpect") from None
        if name == "spawn":
            return functools.partial(module.spawn, encoding=Encoding)
        return getattr(module, name)


pexpect = _Pexpect()


def set_param(obj: Any, results: dict, method: str, **param: Any) -> Any:
    """Mininet's setParam: call ``obj.method`` with the one parameter's value (a list as
    arguments, a dict as keywords), record what it returned under the parameter's name."""
    name, value = list(param.items())[0]
    f = getattr(obj, method, None)
    if not f or value is None:
        return None
    if isinstance(value, list):
        result = f(*value)
    elif isinstance(value, dict):
        result = f(**value)
    else:
        result = f(value)
    results[name] = result
    return result
