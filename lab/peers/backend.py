"""The application behind a TLS-terminating proxy: an HTTP server on loopback (in a thread of
certlab) that answers every request with the headers it received, one per line, so that what
the proxy told the application about the client certificate reaches the client's response
(``received``). The stdlib's http.server does the HTTP."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = b"backend received: "


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b"".join(PREFIX + f"{name}: {value}\n".encode("latin-1", "replace")
                        for name, value in self.headers.items())
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class EchoBackend:
    """``with EchoBackend() as b:`` serves on 127.0.0.1:``b.port`` until the block ends."""

    def __enter__(self) -> "EchoBackend":
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def received(data: bytes) -> tuple[str, ...] | None:
    """The headers a backend said it received ("Name: value"), from a response; None if none said."""
    lines = [line.rstrip(b"\r")[len(PREFIX):].decode("latin-1") for line in data.split(b"\n")
             if line.startswith(PREFIX)]
    return tuple(lines) if lines else None
