"""A loopback TCP proxy that fault tests put between a service and the broker.

`cut()` closes every connection through it and refuses new ones (what a
stopped broker looks like to its clients: EOF, then ECONNREFUSED);
`restore()` listens again on the same port. Tests only: green, one process.
"""
from __future__ import annotations

import socket
from urllib.parse import urlsplit, urlunsplit

import eventlet


class TcpProxy:
    def __init__(self, target_host: str = "127.0.0.1", target_port: int = 5672):
        self.target = (target_host, target_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._threads = eventlet.GreenPool()
        self.restore()

    @classmethod
    def for_uri(cls, amqp_uri: str) -> "TcpProxy":
        parts = urlsplit(amqp_uri)
        return cls(parts.hostname or "127.0.0.1", parts.port or 5672)

    def uri(self, amqp_uri: str) -> str:
        """`amqp_uri` with its host and port replaced by the proxy's."""
        parts = urlsplit(amqp_uri)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def restore(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._threads.spawn_n(self._accept, listener)

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        for sock in list(self._sockets):
            self._close(sock)

    def close(self) -> None:
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by cut()
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            self._sockets |= {client, upstream}
            self._threads.spawn_n(self._pump, client, upstream)
            self._threads.spawn_n(self._pump, upstream, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        self._close(source)
        self._close(sink)

    def _close(self, sock: socket.socket) -> None:
        self._sockets.discard(sock)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
