"""``mininet.cli`` on testbed: ``CLI(net)`` opens testbed's shell with Mininet's prompt,
commands and output.

It is testbed's ``Shell`` (readline, history, completion, ``sh``, ``time``, ``source``...)
over a Mininet object: node commands run in the node's persistent shell, as in Mininet
(``h1 cd /tmp`` then ``h1 pwd`` prints /tmp; output streams as it comes; Ctrl-C interrupts
the command); the network commands call the Mininet object's own methods, so their output
is Mininet's (``*** Results: 0% dropped (6/6 received)``). Commands testbed adds:
``link A B SETTING VALUE...`` changes a running link's shaping (``link h1 s1 bw 20``), and
``x``/``xterm``/``gterm`` open a shell in a node in a new tmux window (or print the command
to paste; testbed opens no X11 windows).
"""
from __future__ import annotations

import os
import select
import subprocess
import sys
import termios
import tty
from typing import Any, TextIO

from mininet.log import error, output

from testbed import Shell
from testbed.compat.util import dumpNodeConnections


def _setting(text: str) -> Any:
    """A shaping value typed at the prompt: numbers stay numbers, 'none' removes the setting."""
    if text.lower() in ("none", "off"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class CLI(Shell):
    """Simple command-line interface to talk to nodes (Mininet's, on testbed's shell)."""

    prompt = "mininet> "

    def __init__(self, mininet: Any, stdin: TextIO = sys.stdin, script: str | None = None, **kwargs: Any):
        self.mn = mininet
        self.stdin = stdin
        self.inputFile = script
        self.locals = {"net": mininet}
        interactive = kwargs.pop("tty", None)
        super().__init__(mininet, stdout=kwargs.get("stdout"),
                         tty=stdin.isatty() if interactive is None else interactive)
        if script:
            self.do_source(script)
            return
        self.run()

    @property
    def plan(self) -> Any:
        return self.mn.network.plan

    def run(self) -> None:
        output("*** Starting CLI:\n")
        if self.tty:
            self.interact()
        else:
            self.run_script(self.stdin)

    def interact(self) -> int:
        self.echo = False
        self.intro = None
        while True:
            try:
                self.cmdloop()
                break
            except KeyboardInterrupt:
                output("\nInterrupt\n")
        return self.failures

    def run_line(self, line: str) -> bool:
        line = line.strip()
        if not line or line.startswith("#"):
            return False
        if self.echo:
            self.say(f"{self.prompt}{line}")
        return bool(self.onecmd(line))

    # ------------------------------------------------------------ nodes and commands in them

    def _node_names(self) -> list[str]:
        return list(self.mn)

    def completenames(self, text: str, *ignored: Any) -> list[str]:
        return [n for n in self.get_names_commands() if n.startswith(text)] + \
            [n for n in self._node_names() if n.startswith(text)]

    def get_names_commands(self) -> list[str]:
        return [name[3:] for name in self.get_names() if name.startswith("do_")]

    def _complete_nodes(self, text: str, *_: Any) -> list[str]:
        return [n for n in self._node_names() if n.startswith(text)]

    def completedefault(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        return self._complete_nodes(text)

    complete_link = complete_stats = complete_iperf = complete_pingpair = _complete_nodes
    complete_pingall = complete_pingallfull = complete_intfs = complete_dump = _complete_nodes
    complete_x = complete_xterm = complete_gterm = complete_switch = _complete_nodes

    def default(self, line: str) -> None:
        first, args, line = self.parseline(line)
        if first in self.mn:
            if not args:
                error(f"*** Please enter a command for node: {first} <cmd>\n")
                return
            node = self.mn[first]
            rest = [self._address(word) for word in args.split(" ")]
            node.sendCmd(" ".join(rest))
            self.waitForNode(node)
            return
        error(f"*** Unknown command: {line}\n")

    def _address(self, word: str) -> str:
        """A node's name in a command becomes its address (Mininet's substitution)."""
        if word in self.mn:
            intf = self.mn[word].defaultIntf()
            if intf is not None and intf.IP():
                return intf.IP()
        return word

    def waitForNode(self, node: Any) -> None:
        """Print the node's output as it comes until its command is done; typed keys go to it,
        Ctrl-C interrupts it."""
        poller = select.poll()
        poller.register(node.stdout, select.POLLIN)
        forwarding = self.tty and self.stdin is sys.stdin
        if forwarding:
            poller.register(self.stdin, select.POLLIN)
            saved = termios.tcgetattr(self.stdin.fileno())
            tty.setcbreak(self.stdin.fileno())
        try:
            while node.waiting:
                try:
                    if not node._shell.buffer:
                        ready = dict(poller.poll())
                    else:
                        ready = {node.stdout.fileno(): select.POLLIN}
                    if forwarding and self.stdin.fileno() in ready:
                        key = os.read(self.stdin.fileno(), 1).decode(errors="replace")
                        if key:
                            node.write(key)
                    if node.stdout.fileno() in ready or node._shell.buffer:
                        data = node.monitor(timeoutms=0)
                        if data:
                            self.stdout.write(data)
                            self.stdout.flush()
                    if node._shell.closed:
                        break
                except KeyboardInterrupt:
                    node.sendInt()
        finally:
            if forwarding:
                termios.tcsetattr(self.stdin.fileno(), termios.TCSADRAIN, saved)

    # ------------------------------------------------------------ what is there

    def do_nodes(self, _line: str) -> None:
        """List all nodes."""
        output("available nodes are: \n%s\n" % " ".join(sorted(self.mn)))

    def do_net(self, _line: str) -> None:
        """List network connections."""
        dumpNodeConnections(self.mn.values())

    def do_intfs(self, _line: str) -> None:
        """List interfaces."""
        for node in self.mn.values():
            output(f"{node.name}: {','.join(node.intfNames())}\n")

    def do_dump(self, _line: str) -> None:
        """Dump node info."""
        for node in self.mn.values():
            output(f"{node!r}\n")

    def do_links(self, _line: str) -> None:
        """Report on links."""
        for link in self.mn.links:
            output(link, link.status(), "\n")

    def do_ports(self, _line: str) -> None:
        """Display ports and interfaces for each switch."""
        for switch in self.mn.switches:
            output(f"{switch.name} ")
            for intf in switch.intfList():
                output(f"{intf}:{switch.ports[intf]} ")
            output("\n")

    def do_stats(self, line: str) -> None:
        """stats [NODE...]: interface counters of the nodes (testbed's, from netlink)."""
        names = line.split() or [n for n in self.mn if getattr(self.mn[n], "_as_host", True)]
        self.say(f"{'node':<10} {'interface':<15} {'up':>2} {'rx_pkts':>9} {'rx_bytes':>11} "
                 f"{'tx_pkts':>9} {'tx_bytes':>11} {'drops':>6} {'errors':>6}")
        for name in names:
            for ifname, c in sorted(self.mn[name].handle.counters().items()):
                self.say(f"{name:<10} {ifname:<15} {c.get('up', 0):>2} {c['rx_packets']:>9} {c['rx_bytes']:>11} "
                         f"{c['tx_packets']:>9} {c['tx_bytes']:>11} {c['rx_dropped'] + c['tx_dropped']:>6} "
                         f"{c['rx_errors'] + c['tx_errors']:>6}")

    # ------------------------------------------------------------ tests

    def do_pingall(self, line: str) -> None:
        """Ping between all hosts."""
        self.mn.pingAll(line or None)

    def do_pingpair(self, _line: str) -> None:
        """Ping between first two hosts, useful for testing."""
        self.mn.pingPair()

    def do_pingallfull(self, _line: str) -> None:
        """Ping between all hosts, returns all ping results."""
        self.mn.pingAllFull()

    def do_pingpairfull(self, _line: str) -> None:
        """Ping between first two hosts, returns all ping results."""
        self.mn.pingPairFull()

    def _hosts(self, names: list[str]) -> list | None:
        hosts = []
        for name in names:
            if name not in self.mn:
                error(f"node '{name}' not in network\n")
                return None
            hosts.append(self.mn[name])
        return hosts

    def do_iperf(self, line: str) -> None:
        """Simple iperf TCP test between two (optionally specified) hosts."""
        args = line.split()
        if not args:
            self.mn.iperf()
        elif len(args) == 2:
            hosts = self._hosts(args)
            if hosts:
                self.mn.iperf(hosts)
        else:
            error("invalid number of args: iperf src dst\n")

    def do_iperfudp(self, line: str) -> None:
        """Simple iperf UDP test between two (optionally specified) hosts."""
        args = line.split()
        if not args:
            udpBw = "10M"
            self.mn.iperf(l4Type="UDP", udpBw=udpBw)
        elif len(args) == 3:
            hosts = self._hosts(args[1:])
            if hosts:
                self.mn.iperf(hosts, l4Type="UDP", udpBw=args[0])
        elif len(args) == 1:
            self.mn.iperf(l4Type="UDP", udpBw=args[0])
        else:
            error("invalid number of args: iperfudp bw src dst\n" + "bw examples: 10M\n")

    def do_link(self, line: str) -> None:
        """link A B up|down: bring the link up or down; link A B SETTING VALUE...: change its
        shaping while it runs (bw, delay, jitter, loss, queue; 'none' removes one)."""
        args = line.split()
        if len(args) == 3 and args[2] in ("up", "down"):
            self.mn.configLinkStatus(*args)
            return
        if len(args) < 4 or len(args) % 2:
            error("invalid number of args: link end1 end2 [up down], or link end1 end2 SETTING VALUE...\n")
            return
        self.do_link_settings(args)

    def do_link_settings(self, args: list[str]) -> None:
        a, b = args[0], args[1]
        settings = {key: _setting(value) for key, value in zip(args[2::2], args[3::2])}
        links = self.mn.linksBetween(self.mn[a], self.mn[b])
        if not links:
            error(f"src and dst not connected: {a} {b}\n")
            return
        for link in links:
            link.engine.set_link(link.intf1.node.name, link.intf2.node.name, link.key, settings)
        shown = ", ".join(f"{k}={'none' if v is None else v}" for k, v in settings.items())
        output(f"*** {a} <-> {b}: {shown}\n")

    def do_switch(self, line: str) -> None:
        """Starts or stops a switch."""
        args = line.split()
        if len(args) != 2:
            error("invalid number of args: switch <switch name>{start, stop}\n")
            return
        if args[0] not in self.mn:
            error(f"invalid switch: {args[0]}\n")
            return
        sw, command = self.mn[args[0]], args[1]
        if command == "start":
            sw.start(self.mn.controllers)
        elif command == "stop":
            sw.stop(deleteIntfs=False)
        else:
            error("invalid command: switch <switch name> {start, stop}\n")

    def do_wait(self, _line: str) -> None:
        """Wait until all switches have connected to a controller."""
        self.mn.waitConnected()

    def do_dpctl(self, line: str) -> None:
        """Run dpctl (ovs-ofctl) command on all switches."""
        args = line.split()
        if len(args) < 1:
            error("usage: dpctl command [arg1] [arg2] ...\n")
            return
        for sw in self.mn.switches:
            if not hasattr(sw, "dpctl"):
                continue
            output("*** " + sw.name + " " + ("-" * 72) + "\n")
            output(sw.dpctl(*args))

    # ------------------------------------------------------------ terminals and Python

    def do_x(self, line: str) -> None:
        """x NODE...: a shell in the node, in a new tmux window (or the command to paste)."""
        args = line.split()
        if not args:
            error("usage: x node1 [node2 ...]\n")
            return
        for name in args:
            if name not in self.mn:
                error(f"invalid node: {name}\n")
                continue
            namespace = self.mn[name].namespace
            command = f"ip netns exec {namespace} bash"
            if os.environ.get("TMUX"):
                subprocess.run(["tmux", "new-window", "-n", name, command], check=False)
                output(f"*** {name}: opened in tmux window '{name}'\n")
            else:
                output(f"*** {name}: no X11 terminal here; run in another terminal:\n    {command}\n")

    do_xterm = do_gterm = do_x

    def do_py(self, line: str) -> None:
        """Evaluate a Python expression; nodes are in scope by name, the network as net."""
        try:
            result = eval(line, globals(), self.getLocals())
            if result is None:
                return
            output((result if isinstance(result, str) else repr(result)) + "\n")
        except Exception as exc:  # as Mininet: the error, not a traceback
            output(str(exc) + "\n")

    def do_px(self, line: str) -> None:
        """Execute a Python statement; nodes are in scope by name, the network as net."""
        try:
            exec(line, globals(), self.getLocals())
        except Exception as exc:
            output(str(exc) + "\n")

    def getLocals(self) -> dict:
        self.locals.update({name: self.mn[name] for name in self.mn})
        self.locals["net"] = self.mn
        return self.locals

    def do_EOF(self, line: str) -> bool:
        """Exit."""
        output("\n")
        return True

    def do_exit(self, _line: str) -> bool:
        """Exit."""
        return True

    do_quit = do_exit

    def do_sh(self, line: str) -> None:
        """Run an external shell command (on this machine, outside the network)."""
        subprocess.call(line, shell=True)

    def do_source(self, line: str) -> None:
        """Read commands from an input file."""
        args = line.split()
        if len(args) != 1:
            error("usage: source <file>\n")
            return
        try:
            with open(os.path.expanduser(args[0])) as f:
                lines = f.read().splitlines()
        except OSError:
            error(f"error reading file {args[0]}\n")
            return
        echo, self.echo = self.echo, False
        try:
            for text in lines:
                if self.run_line(text):
                    break
        finally:
            self.echo = echo

    def isatty(self) -> bool:
        return self.tty

