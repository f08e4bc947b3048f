"""Relay connections from a Unix socket to a TCP address in another network namespace.

A switch's Open vSwitch runs in the switch's own namespace, so a controller listening on
the machine's loopback, or inside another node, is out of its reach over TCP. A Unix socket
is not bound to a network namespace: the switch connects to ``unix:PATH`` and the relay
carries each connection to the controller's address, opened in the namespace that has
it. One thread per relay, no process; it never opens anything but that one address.
"""
from __future__ import annotations

import os
import selectors
import socket
import threading
from typing import Callable

from testbed.kernel.nsfs import signals_to_main

CHUNK = 1 << 16
SEND_TIMEOUT = 10.0          # s a peer may take to make room for what the other sent


class Relay:
    """Connections to the Unix socket ``path`` are carried to a TCP peer: ``connect()`` returns
    a new socket connected (or connecting, non-blocking) to it."""

    def __init__(self, path: str, connect: Callable[[], socket.socket], name: str = "relay"):
        self.path = path
        self._connect = connect
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            self._listener.bind(path)
            self._listener.listen(16)
        except OSError:
            self._listener.close()
            raise
        self._listener.setblocking(False)
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._peers: dict[socket.socket, socket.socket] = {}
        self._stopping = False
        self.connections = 0                  # accepted so far
        self.failures = 0                     # accepted, but the peer could not be reached
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        signals_to_main()
        while not self._stopping:
            for key, _ in self._selector.select():
                sock = key.fileobj
                if sock is self._wake_r:
                    return
                if sock is self._listener:
                    self._accept()
                elif sock in self._peers:
                    self._pump(sock)

    def _accept(self) -> None:
        try:
            near, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        self.connections += 1
        try:
            far = self._connect()
        except OSError:
            self.failures += 1
            near.close()                      # the switch sees the controller refuse, and retries
            return
        near.setblocking(False)
        far.setblocking(False)
        self._peers[near], self._peers[far] = far, near
        self._selector.register(near, selectors.EVENT_READ, None)
        self._selector.register(far, selectors.EVENT_READ, None)

    def _pump(self, sock: socket.socket) -> None:
        other = self._peers[sock]
        try:
            data = sock.recv(CHUNK)
            if data:
                other.settimeout(SEND_TIMEOUT)    # OpenFlow messages are small: a short wait at most
                other.sendall(data)
                other.setblocking(False)
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass                              # a reset, or a peer that reads nothing any more
        self._drop(sock)                      # end of file or an error: both sides close

    def _drop(self, sock: socket.socket) -> None:
        other = self._peers.pop(sock)
        self._peers.pop(other, None)
        for s in (sock, other):
            self._selector.unregister(s)
            s.close()

    def close(self) -> None:
        """Stop relaying, close every connection and remove the Unix socket."""
        if self._stopping:
            return
        self._stopping = True
        self._wake_w.send(b"x")
        self._thread.join()
        for sock in list(self._peers):
            if sock in self._peers:
                self._drop(sock)
        self._selector.close()
        for s in (self._listener, self._wake_r, self._wake_w):
            s.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def tcp_connector(address: str, port: int, open_socket: Callable[[int], socket.socket] | None = None
                  ) -> Callable[[], socket.socket]:
    """A ``connect`` for Relay: a TCP connection to ``address:port``; the socket made by
    ``open_socket(family)`` (e.g. inside a node's namespace), else in the caller's own."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    def connect() -> socket.socket:
        sock = open_socket(family) if open_socket is not None else \
            socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            sock.settimeout(5.0)
            sock.connect((address, port))
        except OSError:
            sock.close()
            raise
        return sock
    return connect


def stream_socket(family: int) -> socket.socket:
    """A TCP socket in the calling thread's namespace (run it inside a node with the worker)."""
    return socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
