"""The ``testbed>`` shell: Mininet's CLI commands over a running Network.

    shell = Shell(net)
    shell.interact()                     # a terminal: readline, history, completion
    shell.run_script(sys.stdin)          # a pipe: one command a line, echoed with its output
    shell.run_lines(["pingall", "h1 ping -c1 h2"])

``<node> <command...>`` runs the command inside that node with every other node's name
replaced by the address of that node as seen from the first (``h1 ping -c1 h2``).
A failing command prints one line and the shell goes on; ``failures`` counts them.
Ctrl-C stops the running command only (its process group, by PID).
"""
from __future__ import annotations

import cmd
import os
import signal
import subprocess
import sys
import time
from typing import Any, Iterable, TextIO

from testbed import iperf
from testbed.errors import TestbedError, UsageError
from testbed.reach import target_address

HISTORY_FILE = os.path.expanduser("~/.testbed_history")
HISTORY_LENGTH = 1000
INTERRUPT_GRACE = 2.0          # seconds between SIGINT and SIGKILL of an interrupted command
COMPLETER_DELIMS = " \t\n;'\"="


class CommandError(TestbedError):
    """A shell command failed; its message is printed as one line."""


class Shell(cmd.Cmd):
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
        history = _load_history()
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
                _save_history()
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
            self.fail(_one_line(exc))
        except Exception as exc:  # a bug or an odd input: one line, never a traceback
            self.fail(f"{type(exc).__name__}: {_one_line(exc)}")
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
        for word in _split_keep_space(command):
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
            _interrupt(proc)
            self.say("^C (interrupted)")
            return
        except BaseException:
            _interrupt(proc)
            raise
        finally:
            self.net._forget(proc.pid)
        if code != 0:
            raise CommandError(f"{what} exited {code}")

    # ------------------------------------------------------------ completion

    def completenames(self, text: str, *ignored: Any) -> list[str]:
        return super().completenames(text, *ignored) + [n for n in self.net.nodes if n.startswith(text)]

    def completedefault(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        return self._complete_nodes(text) + [i for i in self._interfaces() if i.startswith(text)]

    def _complete_nodes(self, text: str, *_: Any) -> list[str]:
        return [n for n in self.net.nodes if n.startswith(text)]

    def _interfaces(self) -> list[str]:
        return sorted({i.name for n in self.plan.nodes for i in n.interfaces})

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

    # ------------------------------------------------------------ information

    def do_nodes(self, arg: str) -> None:
        """nodes: list the nodes."""
        self.say("available nodes are: \n" + " ".join(self.net.nodes))

    def do_net(self, arg: str) -> None:
        """net: each node with its links (interface:peer-interface)."""
        for node in self.plan.nodes:
            ends = [f"{i.name}:{i.peer[1]}" for i in node.interfaces if i.peer]
            self.say(" ".join([node.name, *ends]))

    def do_links(self, arg: str) -> None:
        """links: every link with the state of both ends (OK, or MISSING/DOWN)."""
        state = self._link_states({n for l in self.plan.links for n in (l.a[0], l.b[0])})
        for link in self.plan.links:
            ends = [state.get(link.a, "MISSING"), state.get(link.b, "MISSING")]
            self.say(f"{link.a[1]}<->{link.b[1]} ({' '.join(ends)})")

    def _link_states(self, nodes: set[str]) -> dict[tuple[str, str], str]:
        states = {}
        for name in nodes:
            for ifname, counters in self.net[name].counters().items():
                states[(name, ifname)] = "OK" if counters.get("up") else "DOWN"
        return states

    def do_intfs(self, arg: str) -> None:
        """intfs [NODE...]: the interfaces of each node."""
        for node in self._nodes_arg(arg):
            self.say(f"{node.name}: {','.join(i.name for i in node.interfaces)}")

    def do_dump(self, arg: str) -> None:
        """dump [NODE...]: kind, interfaces with addresses and namespace of each node."""
        for node in self._nodes_arg(arg):
            intfs = ",".join(f"{i.name}:{'|'.join(i.addresses) or 'None'}" for i in node.interfaces)
            self.say(f"<{node.kind} {node.name}: {intfs} netns={self.net[node.name].netns}>")

    def do_ports(self, arg: str) -> None:
        """ports: the ports of each switching node (hub, bridge, switch) with their numbers."""
        for node in self.plan.nodes_of("l2"):
            ports = [i for i in node.interfaces if i.peer]
            self.say(" ".join([node.name, *(f"{i.name}:{_port_number(i.name, n)}"
                                             for n, i in enumerate(ports, start=1))]))

    def do_dpctl(self, arg: str) -> None:
        """dpctl [SWITCH...] [--datapath]: the flow table of each Open vSwitch switch."""
        words = arg.split()
        datapath = "--datapath" in words
        names = [w for w in words if w != "--datapath"]
        switches = [n for n in self._nodes_arg(" ".join(names))
                    if any(i.kind == "ovs" for i in n.interfaces)]
        if not switches:
            self.say("no Open vSwitch switches here (build with --switch ovs, or backend='ovs')")
        for node in switches:
            self.say(f"*** {node.name} " + "-" * 60)
            self.say(self.net.dpctl(node.name, datapath=datapath).rstrip())

    def _nodes_arg(self, arg: str) -> list:
        names = arg.split()
        for name in names:
            self.net[name]
        return [self.plan.node(n) for n in names] if names else list(self.plan.nodes)

    def do_stats(self, arg: str) -> None:
        """stats [NODE...]: interface counters (packets, bytes, drops, errors) of the nodes."""
        names = arg.split() or list(self.net.nodes)
        self.say(f"{'node':<10} {'interface':<15} {'up':>2} {'rx_pkts':>9} {'rx_bytes':>11} "
                 f"{'tx_pkts':>9} {'tx_bytes':>11} {'drops':>6} {'errors':>6}")
        for name in names:
            for ifname, c in sorted(self.net[name].counters().items()):
                self.say(f"{name:<10} {ifname:<15} {c.get('up', 0):>2} {c['rx_packets']:>9} {c['rx_bytes']:>11} "
                         f"{c['tx_packets']:>9} {c['tx_bytes']:>11} {c['rx_dropped'] + c['tx_dropped']:>6} "
                         f"{c['rx_errors'] + c['tx_errors']:>6}")

    # ------------------------------------------------------------ reachability and traffic

    def do_pingall(self, arg: str) -> None:
        """pingall [TIMEOUT]: ping between every pair of hosts; fails if a pair is not as expected."""
        self._pingall(None, arg, full=False)

    def do_pingallfull(self, arg: str) -> None:
        """pingallfull [TIMEOUT]: pingall with the round-trip time of every pair."""
        self._pingall(None, arg, full=True)

    def do_pingpair(self, arg: str) -> None:
        """pingpair [A B]: ping between two hosts (the first two by default)."""
        names = arg.split()
        if not names:
            names = [h.name for h in self.net.hosts][:2]
        if len(names) != 2:
            raise CommandError("pingpair takes two node names, or none for the first two hosts")
        for name in names:
            self.net[name]
        self._pingall(names, "", full=True)

    def _pingall(self, hosts: list[str] | None, arg: str, *, full: bool) -> None:
        timeout = _number(arg, "timeout", 2.0)
        self.say("*** Ping: testing ping reachability")
        result = self.net.pingall(hosts=hosts, timeout=timeout)
        by_src: dict[str, list] = {}
        for pair in result.pairs:
            by_src.setdefault(pair.src, []).append(pair)
        for src, pairs in by_src.items():
            if full:
                for p in pairs:
                    rtt = f", rtt {p.rtt_ms:.3f} ms" if p.rtt_ms is not None else ""
                    self.say(f"{src} -> {p.dst} ({p.dst_ip}): {p.received}/{p.sent} received{rtt}"
                             f"{'' if p.ok else '  (not as expected)'}")
            else:
                self.say(f"{src} -> " + " ".join(p.dst if p.received else "X" for p in pairs))
        sent = sum(p.sent for p in result.pairs)
        received = sum(p.received for p in result.pairs)
        self.say(f"*** Results: {result.loss:.0f}% dropped ({received}/{sent} received)")
        if not result.ok:
            wrong = ", ".join(f"{p.src}->{p.dst}" + ("" if p.expected else " (should not connect)")
                              for p in result.failures[:10])
            raise CommandError(f"{len(result.failures)} pair(s) not as expected: {wrong}")

    def do_iperf(self, arg: str) -> None:
        """iperf [CLIENT SERVER] [SECONDS]: TCP throughput with iperf3 (first and last host by default)."""
        client, server, seconds = self._traffic_args(arg.split(), "iperf")
        self.say(f"*** Iperf: testing TCP bandwidth between {client} and {server}")
        result = iperf.run(self.net, client, server, seconds=seconds)
        self.say(f"*** Results: ['{iperf.format_bps(result.received_bps)}', '{iperf.format_bps(result.sent_bps)}']")

    def do_iperfudp(self, arg: str) -> None:
        """iperfudp BW [CLIENT SERVER] [SECONDS]: UDP at BW (e.g. 10M) with iperf3."""
        words = arg.split()
        if not words:
            raise CommandError("iperfudp needs a rate, e.g. iperfudp 10M h1 h2")
        bw = words[0]
        client, server, seconds = self._traffic_args(words[1:], "iperfudp")
        self.say(f"*** Iperf: testing UDP bandwidth between {client} and {server}")
        r = iperf.run(self.net, client, server, seconds=seconds, udp_bw=bw)
        self.say(f"*** Results: ['{bw}', '{iperf.format_bps(r.received_bps)}', '{iperf.format_bps(r.sent_bps)}'] "
                 f"loss {r.lost_percent:.1f}%, jitter {r.jitter_ms:.3f} ms")

    def _traffic_args(self, words: list[str], name: str) -> tuple[str, str, float]:
        seconds = self.iperf_seconds
        if words and _is_number(words[-1]):
            seconds = float(words.pop())
        if not words:
            hosts = [h.name for h in self.net.hosts]
            if len(hosts) < 2:
                raise CommandError(f"{name} needs two hosts; this network has {len(hosts)}")
            return hosts[0], hosts[-1], seconds
        if len(words) != 2:
            raise CommandError(f"{name} takes a client and a server node, or none")
        for node in words:
            self.net[node]
        return words[0], words[1], seconds

    def do_link(self, arg: str) -> None:
        """link A B up|down: bring the links between nodes A and B up or down."""
        words = arg.split()
        if len(words) != 3 or words[2] not in ("up", "down"):
            raise CommandError("usage: link A B up|down")
        self.net[words[0]], self.net[words[1]]
        self.net.set_link(words[0], words[1], words[2] == "up")

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
        try:
            with open(os.path.expanduser(path)) as f:
                lines = f.read().splitlines()
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
        if not self.echo:
            self.say()
        return True

    def do_help(self, arg: str) -> None:
        """help [COMMAND]: list the commands, or describe one."""
        super().do_help(arg)
        if not arg:
            self.say("<node> <command...>: run a command inside a node; other node names in it are\n"
                     "replaced by their addresses, e.g. h1 ping -c1 h2. Ctrl-C stops a running command.")


# ---------------------------------------------------------------- helpers

def _interrupt(proc: subprocess.Popen) -> None:
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


def _split_keep_space(text: str) -> list[str]:
    """'ping  -c1 h2' -> ['ping', '  ', '-c1', ' ', 'h2'] (joining gives the text back)."""
    import re
    return re.findall(r"\s+|\S+", text)


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    return " ".join(text.split())


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _number(arg: str, what: str, default: float) -> float:
    words = arg.split()
    if not words:
        return default
    if len(words) != 1 or not _is_number(words[0]):
        raise UsageError(f"{what} must be a number of seconds, not {arg!r}")
    return float(words[0])


def _port_number(name: str, ordinal: int) -> int:
    tail = name.rsplit("-eth", 1)[-1] if "-eth" in name else ""
    return int(tail) if tail.isdigit() else ordinal


def _load_history() -> bool:
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


def _save_history() -> None:
    try:
        import readline
        readline.write_history_file(HISTORY_FILE)
    except (ImportError, OSError):
        pass


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
