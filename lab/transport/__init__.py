"""Byte transports for the engine: a kernel TCP socket (default) and an in-memory pair driving
Python's ssl in the same process (unit tests, no network)."""
from __future__ import annotations

import socket
import ssl
import time


class Transport:
    def send(self, data: bytes) -> None:
        raise NotImplementedError

    def recv(self, timeout: float) -> bytes | None:
        """Bytes, b"" when the peer closed, None when nothing came within ``timeout``."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class PeerUnreachable(Exception):
    pass


class SocketTransport(Transport):
    def __init__(self, host: str, port: int, timeout: float = 5.0) -> None:
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise PeerUnreachable(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.local = self.sock.getsockname()[:2]
        self.remote = (host, port)

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError:
            pass  # the peer may already have closed; the next recv says so

    def recv(self, timeout: float) -> bytes | None:
        try:
            self.sock.settimeout(timeout)
            return self.sock.recv(65536)
        except socket.timeout:
            return None
        except OSError:
            return b""

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class MemorySSLServer(Transport):
    """A Python ssl server object fed through memory BIOs: what we send it is processed at once
    and its answer is waiting for the next ``recv``."""

    def __init__(self, context: ssl.SSLContext, respond: bytes = b"HTTP/1.0 200 OK\r\n\r\nok\n") -> None:
        self.inb, self.outb = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = context.wrap_bio(self.inb, self.outb, server_side=True)
        self.respond, self.error, self.closed, self.done = respond, None, False, False
        self.local, self.remote = ("127.0.0.1", 50000), ("127.0.0.1", 443)

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        self.inb.write(data)
        try:
            if not self.done:
                self.obj.do_handshake()
                self.done = True
            if self.obj.read(65536):
                self.obj.write(self.respond)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass
        except ssl.SSLError as exc:
            self.error = exc
            self.closed = True

    def recv(self, timeout: float) -> bytes | None:
        data = self.outb.read()
        if data:
            return data
        if self.closed:
            return b""
        time.sleep(0)
        return None


class ListeningTransport(SocketTransport):
    """A loopback listening socket on a free port; ``accept`` waits for one client, and the
    accepted connection is then used as a SocketTransport."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.listener = socket.create_server((host, port))
        self.port = self.listener.getsockname()[1]
        self.sock = None  # type: ignore[assignment]
        self.local = (host, self.port)
        self.remote = (host, 0)

    def accept(self, timeout: float) -> bool:
        self.listener.settimeout(timeout)
        try:
            self.sock, addr = self.listener.accept()
        except (socket.timeout, OSError):
            return False
        self.remote = addr[:2]
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return True

    def recv(self, timeout: float) -> bytes | None:
        return b"" if self.sock is None else super().recv(timeout)

    def shutdown(self) -> None:
        """Close our side of the connection (the client sees end of stream)."""
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def close(self) -> None:
        for s in (self.sock, self.listener):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
