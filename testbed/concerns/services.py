"""Run-time services of the features: DHCP servers (dnsmasq), DHCP snoopers, DHCP clients.

Each is started by the run inside its node's namespace with node.popen (journaled by PID,
stopped at teardown), with its lease, pid and log files in the run's folder
/run/testbed/<run>/. Clients are real Debian ones: isc-dhcp-client's dhclient, with a hook
script that only sets the interface's address (nothing under /etc is touched).
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import shutil
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from testbed.errors import DeployError, EnvironmentProblem
from testbed.deploy.journal import run_dir
from testbed.model.plan import Plan

if TYPE_CHECKING:
    from testbed.run.network import Network

HOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dhclient-script")
READY_TIMEOUT = 20.0
# retry quickly on a LAN of namespaces (the defaults wait up to 10 s between DISCOVERs)
CLIENT_CONF = "initial-interval 1;\nbackoff-cutoff 2;\ntimeout 60;\n"
LEASE_TIMEOUT = 30.0


class ServiceError(DeployError):
    """A run-time service (DHCP server, snooper, client) did not come up."""


def _tool(name: str, package: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        raise EnvironmentProblem(f"{name} is not installed: apt-get install {package}")
    return path


def _wait(what: str, check, proc: subprocess.Popen | None = None, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"{what} exited with status {proc.returncode} before it was ready")
        time.sleep(0.05)
    raise ServiceError(f"{what} was not ready within {timeout:.0f} s")


def file_path(net: "Network", name: str) -> str:
    """A file of a service in the run's folder, journaled so teardown removes it."""
    path = os.path.join(run_dir(net.run_id), name)
    net.journal.record([{"type": "file", "path": path}])
    return path


def _popen_logged(node, argv: list[str], log: str, **kwargs) -> subprocess.Popen:
    with open(log, "a") as err:
        return node.popen(argv, stdout=subprocess.DEVNULL, stderr=err, **kwargs)


def start(net: "Network") -> dict[tuple[str, str], str]:
    """Start the DHCP servers, then snoopers, then clients; return the leased addresses."""
    features = net.plan.features
    for server in features.dhcp_servers:
        start_dnsmasq(net, server)
    for switch in features.snooping:
        start_snooper(net, switch)
    for client in features.dhcp_clients:
        start_dhclient(net, client)
    leases: dict[tuple[str, str], str] = {}
    for client in features.dhcp_clients:
        node = net[client.node]
        found: list[str] = []

        def bound() -> bool:
            found[:] = ipv4_addresses(node, client.interface)
            return bool(found)
        _wait(f"a DHCP lease for {client.node}/{client.interface}", bound, timeout=LEASE_TIMEOUT)
        leases[(client.node, client.interface)] = found[0]
    return leases


def ipv4_addresses(node, ifname: str) -> list[str]:
    out = node.cmd(["ip", "-4", "-o", "addr", "show", "dev", ifname])
    return [line.split()[3] for line in out.splitlines() if " inet " in line]


def start_dnsmasq(net: "Network", server) -> subprocess.Popen:
    node = net[server.node]
    name = f"dnsmasq-{server.node}"
    mask = ipaddress.ip_interface(server.address).network.netmask
    argv = [_tool("dnsmasq", "dnsmasq"), "--keep-in-foreground", "--conf-file=/dev/null", "--port=0", "--no-resolv", "--no-hosts",
            f"--interface={server.interface}", "--bind-interfaces", "--except-interface=lo",
            f"--dhcp-range={server.first},{server.last},{mask},{server.lease_seconds}",
            f"--dhcp-leasefile={file_path(net, name + '.leases')}",
            f"--pid-file={file_path(net, name + '.pid')}",
            f"--log-facility={file_path(net, name + '.log')}", "--log-dhcp",
            "--dhcp-authoritative", "--no-ping", "--user=root", "--group=root",
            f"--dhcp-option=option:router{',' + server.router if server.router else ''}",
            "--dhcp-option=option:dns-server"]
    proc = _popen_logged(node, argv, file_path(net, name + ".err"))
    _wait(f"dnsmasq on {server.node}", lambda: ":67 " in node.cmd(["ss", "-Hlun"]), proc)
    return proc


def start_snooper(net: "Network", switch: str) -> subprocess.Popen:
    node = net[switch]
    ports = [p for p in net.plan.features.ports_of(switch)]
    ready = file_path(net, f"snoop-{switch}.ready")
    argv = [sys.executable, "-m", "testbed.concerns.snoop", "--ready", ready,
            "--log", file_path(net, f"snoop-{switch}.log"),
            "--trusted", ",".join(p.port for p in ports if p.trusted),
            "--untrusted", ",".join(p.port for p in ports if not p.trusted)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_package_root(), os.environ.get("PYTHONPATH")])))
    proc = _popen_logged(node, argv, file_path(net, f"snoop-{switch}.err"), env=env)
    _wait(f"the DHCP snooper of {switch}", lambda: os.path.exists(ready), proc)
    return proc


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def start_dhclient(net: "Network", client) -> subprocess.Popen:
    node = net[client.node]
    name = f"dhclient-{client.node}"
    conf = file_path(net, name + ".conf")
    with open(conf, "w") as f:
        f.write(CLIENT_CONF)
    argv = [_tool("dhclient", "isc-dhcp-client"), "-d", "-4", "-cf", conf, "-sf", HOOK,
            "-lf", file_path(net, name + ".leases"), "-pf", file_path(net, name + ".pid"), client.interface]
    return _popen_logged(node, argv, file_path(net, name + ".log"))


def with_leases(plan: Plan, leases: dict[tuple[str, str], str]) -> Plan:
    """``plan`` with the run-time DHCP addresses put on their interfaces."""
    nodes = []
    for node in plan.nodes:
        intfs = tuple(dataclasses.replace(i, addresses=(leases[(node.name, i.name)],))
                      if (node.name, i.name) in leases else i for i in node.interfaces)
        nodes.append(dataclasses.replace(node, interfaces=intfs))
    return dataclasses.replace(plan, nodes=tuple(nodes))
