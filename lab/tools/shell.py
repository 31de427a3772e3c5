"""``certlab shell``: scapy's interactive shell with certlab's layers (never scapy's own TLS
layer), the test PKI, the peers and a few helpers loaded, to build a message, ``show()`` it,
send it in a live connection and read the reply.

    >>> with server("openssl", "1.3") as s:
    ...     c = connect(s.port)
    ...     c.send("client_hello"); c.recv()
    ...     c.ccs(); c.send("certificate", "certificate_verify", "finished"); c.recv()
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from scapy.packet import Packet

from lab.engine.client import ClientConfig, ClientEngine
from lab.pki import Pki
from lab.transport import SocketTransport

BANNER = ("certlab shell: scapy with certlab's layers (layers.*), not scapy's TLS layer.\n"
          "  pki                          the test PKI (pki.identity('rsa', 'client') ...)\n"
          "  server(stack, version, mode) a real server peer: `with server('openssl', '1.3') as s:`\n"
          "  connect(port, version)       a live connection driven by hand: .send(...), .recv(), .ccs(), .data()\n"
          "  run(scenario, stack)         run a catalogue scenario and print its result\n"
          "  Handshake()/CertificateRequest13(...), TLSPlaintext(bytes), parse_handshake(bytes) ...")


class Connection:
    """A TLS connection whose messages you send one by one. ``send`` takes engine builder names
    ("client_hello", "certificate", "certificate_verify", "finished", "client_key_exchange"),
    packets built with the layers, raw bytes, or functions of the engine; each enters the
    transcript, so the next message the engine builds (a CertificateVerify, a Finished) covers it."""

    def __init__(self, port: int, version: str = "1.3", host: str = "127.0.0.1", pki: Pki | None = None,
                 alg: str = "rsa", who: str | None = "client", **config: Any) -> None:
        from lab.play.conversation import load_chain, load_key
        chain, key = (), None
        if pki is not None and who:
            ident = pki.identity(alg, who)
            chain, key = tuple(load_chain(ident.cert)), load_key(ident.key)
        self.engine = ClientEngine(ClientConfig(version=version, chain=chain, key=key, **config))
        self.transport = SocketTransport(host, port)
        self.received: list[Packet] = []

    def send(self, *msgs: str | Packet | bytes | Callable) -> "Connection":
        for m in msgs:
            if isinstance(m, str):
                m = getattr(self.engine, m)()
            elif callable(m) and not isinstance(m, Packet):
                m = m(self.engine)
            self.engine.stage(m)
        self.transport.send(self.engine.flush())
        return self

    def ccs(self) -> "Connection":
        self.transport.send(self.engine.send_ccs())
        return self

    def data(self, payload: bytes = b"GET / HTTP/1.0\r\n\r\n") -> "Connection":
        self.transport.send(self.engine.send_application_data(payload))
        return self

    def recv(self, timeout: float = 2.0, quiet: bool = False) -> list[Packet]:
        """Everything that arrives until ``timeout`` seconds of silence; prints a line per message."""
        out = []
        while True:
            chunk = self.transport.recv(timeout)
            if not chunk:
                break
            for ev in self.engine.receive_bytes(chunk):
                layer = ev.layer if ev.layer is not None else ev.raw
                out.append(layer)
                if not quiet:
                    where = " (encrypted)" if ev.encrypted else ""
                    extra = f": {ev.raw[:60]!r}" if ev.kind == "application_data" else ""
                    print(f"  <- {ev.kind} {ev.name}{where}{extra}")
            timeout = min(timeout, 0.5)
        for note in self.engine.notes:
            print(f"  note: {note}")
        self.engine.notes.clear()
        self.received += out
        return out

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def namespace(pki_dir: str | None = None) -> dict[str, Any]:
    """What the shell starts with: the layers, the PKI, peers and helpers."""
    import layers
    import layers.extensions as extensions
    from lab.peers.clients import CLIENTS
    from lab.peers.servers import server_classes
    ns: dict[str, Any] = {name: getattr(layers, name) for name in dir(layers) if not name.startswith("_")}
    ns.update({name: getattr(extensions, name) for name in dir(extensions) if not name.startswith("_")})
    pki = Pki.ensure(pki_dir or os.path.join(os.path.expanduser("~"), ".cache", "certlab", "shell-pki"))
    work = os.path.join(pki.root, "peers")
    os.makedirs(work, exist_ok=True)

    def server(stack: str = "openssl", version: str = "1.3", mode: str = "required"):
        return server_classes()[stack](pki, version, mode, work)

    def connect(port: int, version: str = "1.3", host: str = "127.0.0.1", **kw: Any) -> Connection:
        return Connection(port, version, host, pki, **kw)

    def run(scenario: str, stack: str = "python", version: str | None = None) -> list[dict[str, Any]]:
        from lab.play.commands import render, run as run_ids
        results = run_ids([scenario], stack, version, None, pki.root)
        print(render(results, False))
        return results

    ns.update(pki=pki, server=server, connect=connect, run=run, client_peers=CLIENTS, Connection=Connection)
    return ns


def start(pki_dir: str | None = None) -> None:
    from scapy.main import interact
    interact(mydict=namespace(pki_dir), argv=[], mybanner=BANNER)
