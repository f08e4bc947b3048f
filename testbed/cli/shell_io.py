"""Terminal and process plumbing of the ``testbed>`` shell: its error type, readline
history, stopping an interrupted command by its process group, splitting ``-c`` text."""
from __future__ import annotations

import os
import re
import signal
import subprocess

from testbed.errors import TestbedError, UsageError

HISTORY_FILE = os.path.expanduser("~/.testbed_history")
HISTORY_LENGTH = 1000
INTERRUPT_GRACE = 2.0          # seconds between SIGINT and SIGKILL of an interrupted command
COMPLETER_DELIMS = " \t\n;'\"="


class CommandError(TestbedError):
    """A shell command failed; its message is printed as one line."""


def interrupt(proc: subprocess.Popen) -> None:
    """SIGINT the command's own process group, then SIGKILL it if it lingers."""
    for sig, wait in ((signal.SIGINT, INTERRUPT_GRACE), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        except KeyboardInterrupt:
            continue


def split_keep_space(text: str) -> list[str]:
    """'ping  -c1 h2' -> ['ping', '  ', '-c1', ' ', 'h2'] (joining gives the text back)."""
    return re.findall(r"\s+|\S+", text)


def one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    return " ".join(text.split())


def load_history() -> bool:
    """Turn on readline history and completion; False when readline is unavailable."""
    try:
        import readline
    except ImportError:
        return False
    readline.set_completer_delims(COMPLETER_DELIMS)
    readline.set_history_length(HISTORY_LENGTH)
    try:
        readline.read_history_file(HISTORY_FILE)
    except (FileNotFoundError, PermissionError, OSError):
        pass
    return True


def save_history() -> None:
    try:
        import readline
        readline.write_history_file(HISTORY_FILE)
    except (ImportError, OSError):
        pass




def split_commands(text: str) -> list[str]:
    """'pingall; h1 ping -c1 h3' -> ['pingall', 'h1 ping -c1 h3'] (';' inside quotes is kept)."""
    parts, current = [], []
    # Split on ';' outside quotes while keeping each command's own spacing.
    quote = None
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == ";":
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if quote:
        raise UsageError(f"-c {text!r}: unbalanced {quote}")
    parts.append("".join(current).strip())
    return [p for p in parts if p]
