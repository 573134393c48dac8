"""A Unix-socket door to one database server, for a sandboxed child that has no network.

The models child runs in a network namespace of its own (linters/sandbox.py `isolate`), so it
cannot open TCP connections. For the drift check it must still reach the scratch database: we
listen on `<dir>/.s.PGSQL.<port>` (the name libpq uses for `host=<dir> port=<port>`) and copy
bytes to and from the real server. The child can reach that one server and nothing else.

libpq never uses SSL over a Unix socket, so the proxied session to the server is plain TCP: a
server that accepts only SSL (`hostssl` in pg_hba.conf) refuses it.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path


class UnixProxy:
    def __init__(self, directory: Path, port: int, host: str, target_port: int):
        self.path = directory / f".s.PGSQL.{port}"
        self.target = (host, target_port)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(self.path))
        self.server.listen(8)
        self.sockets: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass
        try:
            self.path.unlink()
        except OSError:
            pass
