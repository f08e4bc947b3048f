"""The ``testbed>`` shell: Mininet's CLI commands over a running Network.

    shell = Shell(net)
    shell.interact()                     # a terminal: readline, history, completion
    shell.run_script(sys.stdin)          # a pipe: one command a line, echoed with its output
    shell.run_lines(["pingall", "h1 ping -c1 h2"])

``<node> <command...>`` runs the command inside that node with every other node's name
replaced by the address of that node as seen from the first (``h1 ping -c1 h2``).
A failing command prints one line and the shell goes on; ``failures`` counts them.
Ctrl-C stops the running command only (its process group, by PID).

The commands about the network (nodes, links, stats, pingall, iperf...) live in
shell_commands.py; terminal and process plumbing (history, interrupts, ``-c`` splitting)
in shell_io.py. This module runs lines, commands inside nodes, completion and the shell's
own commands (sh, py, source, time, noecho, exit).
"""
from __future__ import annotations

import cmd
import os
import subprocess
import sys
import time
from typing import Any, Iterable, TextIO

from testbed.cli.shell_commands import NetworkCommands
from testbed.cli.shell_io import CommandError, interrupt, load_history, one_line, save_history, split_commands, split_keep_space
from testbed.errors import TestbedError
from testbed.planning.reach import target_address

__all__ = ["CommandError", "Shell", "run_session", "split_commands"]

MAX_SCRIPT = 1 << 20          # bytes of a `source` script
# commands whose arguments are often another node (its name becomes its address)
ADDRESSING_TOOLS = frozenset({"ping", "ping6", "traceroute", "tracepath", "arping", "iperf", "iperf3", "nc",
                              "curl", "wget", "telnet", "ssh", "mtr", "host", "dig", "nping"})


class Shell(NetworkCommands, cmd.Cmd):
    """Mininet's command set over a testbed Network."""

    prompt = "testbed> "
    doc_header = "Commands (also: <node> <command...> runs a command inside a node):"
    ruler = "-"

    def __init__(self, net: Any, *, stdout: TextIO | None = None, tty: bool | None = None):
        super().__init__(stdout=stdout or sys.stdout)
        self.net = net
        self.plan = net.plan
        self.tty = sys.stdin.isatty() if tty is None else tty
        self.echo = False
        self.failures = 0
        self.iperf_seconds = 5.0

    # ------------------------------------------------------------ running

    def interact(self) -> int:
        """Read commands from the terminal until exit/quit/EOF; Ctrl-C at the prompt is ignored."""
        self.echo = False
        self.intro = (f"*** {len(self.net.nodes)} nodes up. Type 'help' for the commands; "
                      "'exit', 'quit' or Ctrl-D tears the network down.")
        history = load_history()
        try:
            while True:
                try:
                    self.cmdloop()
                    break
                except KeyboardInterrupt:
                    self.intro = None
                    self.say("\nInterrupt")
        finally:
            if history:
                save_history()
        return self.failures

    def run_script(self, stream: TextIO) -> int:
        """Run one command per line of ``stream``, echoing each before its output."""
        self.echo = True
        for line in iter(stream.readline, ""):
            if self.run_line(line.rstrip("\n")):
                break
        return self.failures

    def run_lines(self, lines: Iterable[str]) -> int:
        self.echo = True
        for line in lines:
            if self.run_line(line):
                break
        return self.failures

    def run_line(self, line: str) -> bool:
        """Run one command line (echoed in scripts); True when it asks to leave."""
        line = line.strip()
        if not line or line.startswith("#"):
            return False
        if self.echo:
            self.say(f"{self.prompt}{line}")
        return bool(self.onecmd(line))

    def onecmd(self, line: str) -> Any:
        try:
            return super().onecmd(line)
        except (TestbedError, KeyError, ValueError, OSError, subprocess.SubprocessError) as exc:
            self.fail(one_line(exc))
        except Exception as exc:  # a bug or an odd input: one line, never a traceback
            self.fail(f"{type(exc).__name__}: {one_line(exc)}")
        except KeyboardInterrupt:
            if not self.tty:
                raise
            self.say("^C (interrupted)")
        return None

    def emptyline(self) -> bool:
        return False

    def say(self, text: str = "") -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def fail(self, message: str) -> None:
        self.failures += 1
        self.say(f"*** Error: {message}")

    def default(self, line: str) -> None:
        first, _, rest = line.partition(" ")
        if first in self.net.nodes:
            if not rest.strip():
                raise CommandError(f"{first}: give a command to run inside it, e.g. {first} ip addr")
            self.node_command(first, rest)
            return
        hint = " (a node name? nodes: " + ", ".join(list(self.net.nodes)[:8]) + \
            (", ..." if len(self.net.nodes) > 8 else "") + ")"
        raise CommandError(f"unknown command or node {first!r}; type 'help'{hint}")

    # ------------------------------------------------------------ node commands

    def substitute(self, node: str, command: str) -> str:
        """Replace words that are node names with their address as seen from ``node``."""
        words = []
        for word in split_keep_space(command):
            if word in self.net.nodes:
                address = target_address(self.plan, node, word)
                words.append(address if address else word)
            else:
                words.append(word)
        return "".join(words)

    def node_command(self, node: str, command: str) -> None:
        command = self.substitute(node, command)
        handle = self.net[node]
        self._run_child(lambda **kw: handle.popen(command, **kw), f"{node}: {command!r}")

    def _run_child(self, start, what: str) -> None:
        """Start a command with our stdout; wait; Ctrl-C stops only its process group."""
        self.stdout.flush()
        sys.stdout.flush()
        stdin = None if self.tty else subprocess.DEVNULL
        proc = start(stdin=stdin, stdout=None, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            interrupt(proc)
            self.say("^C (interrupted)")
            return
        except BaseException:
            interrupt(proc)
            raise
        finally:
            self.net._forget(proc.pid)
        if code != 0:
            raise CommandError(f"{what} exited {code}")

    # ------------------------------------------------------------ completion

    def completenames(self, text: str, *ignored: Any) -> list[str]:
        return super().completenames(text, *ignored) + [n for n in self.net.nodes if n.startswith(text)]

    def completedefault(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        """In ``NODE command ...``: that node's interfaces, and node names after a tool that takes a host."""
        words = line[:begidx].split()
        if not words or words[0] not in self.net.nodes:
            return self._complete_nodes(text)
        found = [i for i in self._interfaces(words[0]) if i.startswith(text)]
        if len(words) > 1 and words[1] in ADDRESSING_TOOLS:
            found = self._complete_nodes(text) + found
        return found

    def _complete_nodes(self, text: str, *_: Any) -> list[str]:
        return [n for n in self.net.nodes if n.startswith(text)]

    def _interfaces(self, node: str) -> list[str]:
        return sorted(i.name for i in self.plan.node(node).interfaces)

    complete_link = complete_stats = complete_iperf = complete_pingpair = _complete_nodes
    complete_pingall = complete_pingallfull = complete_intfs = complete_dump = _complete_nodes

    def complete_iperfudp(self, text: str, line: str, *_: Any) -> list[str]:
        return self._complete_nodes(text) if len(line.split()) > 1 else []

    def complete_time(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        return self._complete_sub(text, line, begidx, endidx, "time")

    def complete_noecho(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        return self._complete_sub(text, line, begidx, endidx, "noecho")

    def _complete_sub(self, text: str, line: str, begidx: int, endidx: int, word: str) -> list[str]:
        rest = line[len(word):].lstrip()
        offset = len(line) - len(rest)
        if " " not in rest:
            return self.completenames(text)
        return self.completedefault(text, rest, begidx - offset, endidx - offset)

    # ------------------------------------------------------------ the shell itself

    def do_sh(self, arg: str) -> None:
        """sh CMD: run a command in the machine's own shell (outside the network)."""
        if not arg.strip():
            raise CommandError("usage: sh CMD")
        self._run_child(lambda **kw: subprocess.Popen(["sh", "-c", arg], **kw), f"sh {arg!r}")

    def do_py(self, arg: str) -> None:
        """py EXPR: evaluate Python with net, plan and every node (h1, s1...) in scope."""
        if not arg.strip():
            raise CommandError("usage: py EXPR, e.g. py h1.intfs")
        scope: dict[str, Any] = {n: node for n, node in self.net.nodes.items() if n.isidentifier()}
        scope.update(net=self.net, plan=self.plan)
        try:
            code = compile(arg, "<py>", "eval")
        except SyntaxError:
            exec(compile(arg, "<py>", "exec"), scope)
            return
        value = eval(code, scope)
        if value is not None:
            self.say(repr(value) if not isinstance(value, str) else value)

    def do_source(self, arg: str) -> None:
        """source FILE: run the commands of a file, one a line."""
        path = arg.strip()
        if not path:
            raise CommandError("usage: source FILE")
        full = os.path.expanduser(path)
        try:
            os.stat(full)                       # OSError (No such file...) when it is not there
            if not os.path.isfile(full):
                raise CommandError(f"source {path}: not a regular file (a script of shell commands, one a line)")
            if os.path.getsize(full) > MAX_SCRIPT:
                raise CommandError(f"source {path}: {os.path.getsize(full)} bytes; a script is at most {MAX_SCRIPT}")
            with open(full, errors="replace") as f:
                lines = f.read(MAX_SCRIPT).splitlines()
        except OSError as exc:
            raise CommandError(f"source {path}: {exc.strerror}") from None
        echo, self.echo = self.echo, True
        try:
            for line in lines:
                if self.run_line(line):
                    break
        finally:
            self.echo = echo

    def do_time(self, arg: str) -> None:
        """time CMD: run a command and print how long it took."""
        started = time.perf_counter()
        try:
            self.onecmd(arg)
        finally:
            self.say(f"*** Elapsed time: {time.perf_counter() - started:0.6f} secs")

    def do_noecho(self, arg: str) -> None:
        """noecho CMD: run a command with terminal echo turned off (for interactive programs)."""
        if not self.tty:
            self.onecmd(arg)
            return
        import termios
        fd = sys.stdin.fileno()
        old = termios.tcgetattr(fd)
        new = termios.tcgetattr(fd)
        new[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSADRAIN, new)
        try:
            self.onecmd(arg)
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)

    def do_exit(self, arg: str) -> bool:
        """exit: leave the shell and tear the network down."""
        return True

    do_quit = do_exit

    def do_EOF(self, arg: str) -> bool:
        """EOF (Ctrl-D): leave the shell and tear the network down."""
        if arg.strip():                   # a typed line "EOF ...", not the end of input
            raise CommandError(f"unknown command 'EOF'; type 'help' (exit or Ctrl-D leaves)")
        if not self.echo:
            self.say()
        return True

    def do_help(self, arg: str) -> None:
        """help [COMMAND]: list the commands, or describe one."""
        super().do_help(arg)
        if not arg:
            self.say("<node> <command...>: run a command inside a node; other node names in it are\n"
                     "replaced by their addresses, e.g. h1 ping -c1 h2. Ctrl-C stops a running command.")


def run_session(net: Any, commands: list[str] | None = None, stdin: TextIO | None = None) -> int:
    """Run ``commands``, else a terminal session, else the commands read from ``stdin``.

    Returns the number of failed commands (always 0 for an interactive session).
    """
    stdin = stdin or sys.stdin
    tty = stdin.isatty()
    shell = Shell(net, tty=tty)
    if commands is not None:
        return shell.run_lines(commands)
    if tty:
        shell.interact()
        return 0                  # a typo at the prompt is no reason for a failing exit code
    return shell.run_script(stdin)
