"""The persistent shell of a Mininet node: one bash per node, started on its first command.

Mininet scripts rely on a node keeping shell state between commands: ``h1.cmd('cd /tmp')``
then ``h1.cmd('pwd')`` prints /tmp; ``h1.cmd('iperf -s &')`` returns at once and a later
``h1.cmd('kill %iperf')`` finds the job; a background loop's output can be read from
``h1.stdout`` while it runs. testbed keeps no shell per node, so this layer starts one the
first time a node needs it: ``bash --norc --noediting -is`` inside the node (through the
node's testbed handle, so it is journaled and stopped by PID at teardown), on a pseudo
terminal that is its controlling terminal (programs line-buffer their output, and ^C
written to it interrupts the command in the foreground).

Protocol: the prompt is one DEL character (0x7f), so a command is done when the next
prompt arrives; a command ending in ``&`` is followed by ``printf "\\001%d\\012" $!``, which
gives the job's PID (``lastPid``). Job control is off (``set +m``), as in Mininet, so
background jobs stay in the shell's process group and go with it.
"""
from __future__ import annotations

import errno
import fcntl
import os
import pty
import re
import select
import signal
import subprocess
import termios
import time
from typing import Any

from mininet.log import debug, info

from testbed.compat.util import getincrementaldecoder
from testbed.errors import CommandFailed

SENTINEL = chr(127)
PID_MARK = chr(1)
START_TIMEOUT = 30.0
_PID_RE = re.compile(PID_MARK + r"(\d+)\r?\n")
_JOB_RE = re.compile(r"\[\d+\] \d+\r?\n")


def _controlling_terminal() -> None:
    """(in the child, after setsid) make stdin, the pty, our controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Shell:
    """bash inside one node, talked to through a pseudo terminal."""

    def __init__(self, handle: Any, name: str, env: dict[str, str] | None = None, prefix: list[str] | None = None,
                 wait: bool = True):
        self.name = name
        master, slave = pty.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO                      # no echo of what we type, from the start
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        environment = dict(os.environ)
        environment.update(env or {})
        environment.update(PS1=SENTINEL, PS2="", PROMPT_COMMAND="", HISTFILE="/dev/null")
        argv = [*(prefix or []), "bash", "--norc", "--noprofile", "--noediting", "-is", f"mininet:{name}"]
        try:
            self.proc: subprocess.Popen = handle.popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                                       env=environment, preexec_fn=_controlling_terminal)
        finally:
            os.close(slave)
        self.handle = handle
        self.master = master
        self.pid = self.proc.pid
        self.stdout = os.fdopen(master, "rb", buffering=0, closefd=False)
        self.poller = select.poll()
        self.poller.register(master, select.POLLIN)
        self.decoder = getincrementaldecoder()
        self.buffer = ""
        self.waiting = False
        self.last_pid: int | None = None
        self.last_cmd: str | None = None
        self.background = False
        self.closed = False
        self.started = False
        if wait:
            self.ready()

    def ready(self) -> "Shell":
        """Wait for the first prompt, then switch job control off (as Mininet does); once."""
        if not self.started:
            self._read_until_prompt(START_TIMEOUT, "bash's first prompt")
            self.write("set +m\n")
            self._read_until_prompt(START_TIMEOUT, "bash to take its settings")
            self.started = True
        return self

    def _read_until_prompt(self, timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while SENTINEL not in text:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise CommandFailed(f"node {self.name}: the shell did not come up (waited for {what}; "
                                    f"it {'exited ' + str(self.proc.returncode) if self.proc.poll() is not None else 'hung'}); "
                                    f"output so far: {text[-200:]!r}")
            if self.poller.poll(left * 1000):
                text += self.read_raw()
        head, _, rest = text.partition(SENTINEL)
        self.buffer = rest + self.buffer
        return head

    # ------------------------------------------------------------ reading and writing

    def read_raw(self, size: int = 65536) -> str:
        try:
            data = os.read(self.master, size)
        except OSError as exc:
            if exc.errno == errno.EIO:               # the shell has gone
                self.closed = True
                return ""
            raise
        if not data:
            self.closed = True
        return self.decoder.decode(data)

    def read(self, size: int = 1024) -> str:
        """Up to ``size`` characters of output (what was buffered first)."""
        if not self.buffer:
            self.buffer = self.read_raw(max(size, 1024))
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def readline(self) -> str | None:
        """One line of output (None when there is none yet)."""
        while "\n" not in self.buffer and self.readable(0):
            chunk = self.read_raw()
            if not chunk:
                break
            self.buffer += chunk
        if "\n" not in self.buffer:
            return None
        line, _, self.buffer = self.buffer.partition("\n")
        return line + "\n"

    def readable(self, timeoutms: float | None) -> bool:
        if self.buffer:
            return True
        return bool(self.poller.poll(timeoutms))

    def write(self, data: str) -> None:
        os.write(self.master, data.encode())

    # ------------------------------------------------------------ commands

    def send(self, command: str) -> None:
        """Send a command without waiting for it (``waiting`` until its prompt arrives)."""
        if self.waiting:
            raise CommandFailed(f"node {self.name}: a command is still running ({self.last_cmd!r}); "
                                "wait for it (waitOutput) or interrupt it (sendInt) first")
        if not re.search(r"\w", command):
            command = "echo -n"                      # nothing to run: something harmless
        self.last_cmd = command
        self.background = command.rstrip().endswith("&")
        if self.background:
            command = command + ' printf "\\001%d\\012" $! '
        self.last_pid = None
        self.waiting = True
        debug(f"*** {self.name} : {command}\n")
        self.write(command + "\n")

    def monitor(self, timeoutms: float | None = None, find_pid: bool = True) -> str:
        """What the command printed so far (waiting up to ``timeoutms`` for something)."""
        if not self.readable(timeoutms):
            return ""
        data = self.read(1024)
        if self.background:
            data = _JOB_RE.sub("", data)               # bash's "[1] 1234" for the job just started
        if find_pid and PID_MARK in data:
            while not _PID_RE.search(data) and not self.closed:
                data += self.read(1024)
            match = _PID_RE.search(data)
            if match:
                self.last_pid = int(match.group(1))
                data = data[:match.start()] + data[match.end():]
        if SENTINEL in data:
            self.waiting = False
            head, _, rest = data.partition(SENTINEL)
            self.buffer = rest + self.buffer
            data = head
        if self.closed:
            self.waiting = False
        return data

    def wait_output(self, verbose: bool = False, find_pid: bool = True) -> str:
        out = []
        while self.waiting:
            data = self.monitor(find_pid=find_pid)
            if verbose and data:
                info(data)
            out.append(data)
        return "".join(out)

    def cmd(self, command: str, verbose: bool = False) -> str:
        self.send(command)
        return self.wait_output(verbose)

    def interrupt(self, char: str = chr(3)) -> None:
        """Write ^C: the terminal sends SIGINT to the command in the foreground."""
        self.write(char)

    # ------------------------------------------------------------ stopping

    def stop(self) -> None:
        """Hang up on the shell: SIGHUP to its process group (the shell and its jobs), by PID,
        and close the terminal. It is not waited for here: teardown stops what is still there
        (the shell is journaled), so a network's shells all go at once."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGHUP)
            except ProcessLookupError:
                pass
        self.closed = True
        try:
            self.poller.unregister(self.master)
        except (KeyError, ValueError):
            pass
        try:
            os.close(self.master)
        except OSError:
            pass
