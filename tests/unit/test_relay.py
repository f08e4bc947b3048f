"""The controller relay (testbed/run/relay.py): a Unix socket's connections carried to TCP."""
from __future__ import annotations

import os
import socket
import threading

import pytest

from testbed.run.relay import Relay, tcp_connector

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def echo_server():
    """A TCP server on the loopback that sends back what it gets, one thread per connection."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=lambda c=conn: _echo(c), daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    stop.set()
    server.close()


def _echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    got = b""
    while len(got) < n:
        part = sock.recv(n - len(got))
        assert part, f"the relay closed after {len(got)} of {n} bytes"
        got += part
    return got


def test_each_connection_reaches_the_tcp_peer_both_ways(tmp_path, echo_server):
    path = str(tmp_path / "ctl.sock")
    relay = Relay(path, tcp_connector("127.0.0.1", echo_server))
    try:
        clients = [socket.socket(socket.AF_UNIX) for _ in range(3)]
        for i, client in enumerate(clients):
            client.settimeout(10)
            client.connect(path)
            message = bytes([i]) * 200_000              # more than one read's worth
            client.sendall(message)
            assert _recv_exactly(client, len(message)) == message
        assert relay.connections == 3 and relay.failures == 0
        for client in clients:
            client.close()
    finally:
        relay.close()
    assert not os.path.exists(path)


def test_a_peer_that_does_not_listen_closes_the_connection(tmp_path):
    with socket.socket() as probe:                     # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = str(tmp_path / "ctl.sock")
    relay = Relay(path, tcp_connector("127.0.0.1", port))
    try:
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(10)
            client.connect(path)
            assert client.recv(10) == b""              # closed, as a refusing controller would
        assert relay.failures == 1
    finally:
        relay.close()


def test_closing_ends_open_connections(tmp_path, echo_server):
    path = str(tmp_path / "ctl.sock")
    relay = Relay(path, tcp_connector("127.0.0.1", echo_server))
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(10)
        client.connect(path)
        client.sendall(b"hello")
        assert _recv_exactly(client, 5) == b"hello"
        relay.close()
        assert client.recv(10) == b""
    assert not os.path.exists(path)
    relay.close()                                      # twice is fine


def test_remote_controller_addresses_on_the_loopback():
    """Which remote controllers the relay serves without a node: the machine's loopback only
    (a host name such as 'localhost' is taken as 127.0.0.1 when the controller is made)."""
    from testbed.compat.node import _is_loopback
    assert _is_loopback("127.0.0.1") and _is_loopback("127.5.6.7") and _is_loopback("::1")
    assert not _is_loopback("10.0.0.3") and not _is_loopback("192.168.1.10")
    assert not _is_loopback("controller.example")          # a name: never looked up, never reached
