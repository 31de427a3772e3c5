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
from lab.play.client import ClientConversation
from lab.script.dsl import Send, SendAppData, SendCCS
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
    transcript, so the next message the engine builds (a CertificateVerify, a Finished) covers it.
    Each call is one step of ``lab.play``'s conversation, played by hand."""

    def __init__(self, port: int, version: str = "1.3", host: str = "127.0.0.1", pki: Pki | None = None,
                 alg: str = "rsa", who: str | None = "client", **config: Any) -> None:
        from lab.pki import load_chain, load_key
        chain, key = (), None
        if pki is not None and who:
            ident = pki.identity(alg, who)
            chain, key = tuple(load_chain(ident.cert)), load_key(ident.key)
        engine = ClientEngine(ClientConfig(version=version, chain=chain, key=key, **config))
        self.conv = ClientConversation(engine, SocketTransport(host, port), 2.0)
        self.received: list[Packet] = []

    @property
    def engine(self) -> ClientEngine:
        return self.conv.engine

    def send(self, *msgs: str | Packet | bytes | Callable) -> "Connection":
        def builder(m):
            if isinstance(m, str):
                return lambda eng: getattr(eng, m)()
            if callable(m) and not isinstance(m, Packet):
                return m
            return lambda eng: m
        self.conv.perform(Send(*(builder(m) for m in msgs), label="by hand"))
        return self

    def ccs(self) -> "Connection":
        self.conv.perform(SendCCS())
        return self

    def data(self, payload: bytes = b"GET / HTTP/1.0\r\n\r\n") -> "Connection":
        self.conv.perform(SendAppData(payload))
        return self

    def recv(self, timeout: float = 2.0, quiet: bool = False) -> list[Packet]:
        """Everything that arrives within ``timeout`` seconds, or until an alert or the close;
        prints a line per message."""
        events = self.conv.read(("(nothing: read until silence)",), "by hand", timeout=timeout, quiet_ok=True)
        out = [ev.layer if ev.layer is not None else ev.raw for ev in events]
        if not quiet:
            for ev in events:
                where = " (encrypted)" if ev.encrypted else ""
                extra = f": {ev.raw[:60]!r}" if ev.kind == "application_data" else ""
                print(f"  <- {ev.kind} {ev.name}{where}{extra}")
            if self.conv.observed is not None:
                print(f"  ended: {self.conv.observed.outcome}" + (f" ({self.conv.observed.alert})"
                                                                  if self.conv.observed.alert else ""))
            for note in self.engine.notes:
                print(f"  note: {note}")
        self.engine.notes.clear()
        self.conv.observed = None   # by hand, you decide what comes after an ending
        self.received += out
        return out

    def close(self) -> None:
        self.conv.transport.close()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def namespace(pki_dir: str | None = None) -> dict[str, Any]:
    """What the shell starts with: the layers, the PKI, peers and helpers."""
    import layers
    import layers.extensions as extensions
    from lab.peers.clients import all_clients
    from lab.peers.servers import server_classes
    ns: dict[str, Any] = {name: getattr(layers, name) for name in dir(layers) if not name.startswith("_")}
    ns.update({name: getattr(extensions, name) for name in dir(extensions) if not name.startswith("_")})
    pki = Pki.ensure(pki_dir or os.path.join(os.path.expanduser("~"), ".cache", "certlab", "shell-pki"))
    work = os.path.join(pki.root, "peers")
    os.makedirs(work, exist_ok=True)

    started: list = ns.setdefault("_started", [])   # stopped when the shell ends (see ``start``)

    def server(stack: str = "openssl", version: str = "1.3", mode: str = "required"):
        peer = server_classes()[stack](pki, version, mode, work)
        started.append(peer)
        return peer

    def connect(port: int, version: str = "1.3", host: str = "127.0.0.1", **kw: Any) -> Connection:
        conn = Connection(port, version, host, pki, **kw)
        started.append(conn)
        return conn

    def run(scenario: str, stack: str = "python", version: str | None = None) -> list:
        from lab.play.commands import run as run_ids
        from lab.play.text import render
        results = run_ids([scenario], stack, version, None, pki.root)
        print(render(results, False))
        return results

    ns.update(pki=pki, server=server, connect=connect, run=run, client_peers=all_clients(), Connection=Connection)
    return ns


def stop_all(ns: dict[str, Any]) -> None:
    """Stop every peer and close every connection the session started, entered or not."""
    for thing in reversed(ns.get("_started", [])):
        try:
            thing.__exit__(None, None, None)
        except Exception:  # noqa: BLE001 - one that cannot stop must not keep the others running
            pass
    ns.get("_started", []).clear()


def start(pki_dir: str | None = None) -> None:
    from scapy.main import interact
    ns = namespace(pki_dir)
    try:
        interact(mydict=ns, argv=[], mybanner=BANNER)
    finally:
        stop_all(ns)
