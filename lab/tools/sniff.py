"""``certlab sniff``: live capture of a real client talking to a real server (scapy's sniffer),
printing client-authentication events as they happen (CertificateRequest, the client's
certificate or its empty answer, CertificateVerify, alerts, the HTTP status), decrypting with
the key log the peers write (SSLKEYLOGFILE, re-read as it grows), and writing a pcapng with the
secrets embedded. Loopback interfaces show every packet twice; the copies are dropped."""
from __future__ import annotations

import collections
import hashlib
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lab.capture.packets import decode_tcp
from lab.capture.tcp import TCPConnection
from lab.crypto.keylog import KeyLog, KeyLogError
from lab.dissect.decoder import ConnectionDecoder
from lab.dissect.describe import certificate_request_facts, suite_name, version_label
from lab.dissect.keys import KeySource
from lab.dissect.model import ConnectionInfo, MessageInfo
from layers.registry import HandshakeType as H

LAG = 0.3          # seconds a packet waits before it is decoded: peers write the key log after they
                   # derive a key, which can be after the packet carrying the first protected record
DUP_WINDOW = 0.05  # identical bytes again within this many seconds: the loopback copy


class SniffError(Exception):
    """The capture cannot start or the key log is unusable: a one-line message."""


@dataclass
class _Live:
    conn: TCPConnection
    info: ConnectionInfo
    decoder: ConnectionDecoder
    number: int
    fed: int = 0
    shown: int = 0
    said: set[str] = field(default_factory=set)


class LiveSession:
    """Feeds captured packets through TCP reassembly and the dissector, one connection at a time."""

    def __init__(self, port: int, keylog_path: str | None, emit: Callable[[str], None]) -> None:
        self.port, self.keylog_path, self.emit = port, keylog_path, emit
        self.keys = KeySource()
        self.packets: list = []
        self.conns: dict[tuple, _Live] = {}
        self._keylog_seen: tuple[int, int] | None = None
        self._recent: collections.deque = collections.deque()
        self._queue: queue.Queue = queue.Queue()
        self.duplicates = 0

    # -- capture thread ------------------------------------------------------------------------
    def capture(self, pkt) -> None:
        raw, now = bytes(pkt), float(pkt.time)
        digest = hashlib.blake2b(raw, digest_size=16).digest()
        while self._recent and now - self._recent[0][0] > DUP_WINDOW:
            self._recent.popleft()
        if any(d == digest for _, d in self._recent):
            self.duplicates += 1
            return
        self._recent.append((now, digest))
        self._queue.put((time.monotonic(), pkt))

    # -- decoding thread -----------------------------------------------------------------------
    def drain(self, final: bool = False) -> None:
        """Decode every queued packet older than LAG (all of them when ``final``)."""
        while True:
            try:
                arrived, pkt = self._queue.get_nowait()
            except queue.Empty:
                return
            wait = arrived + LAG - time.monotonic()
            if wait > 0 and not final:
                time.sleep(wait)
            self._decode(pkt)

    def _decode(self, pkt) -> None:
        from scapy.layers.l2 import CookedLinux, Ether
        self.packets.append(pkt)
        linktype = 1 if isinstance(pkt, Ether) else 113 if isinstance(pkt, CookedLinux) else None
        if linktype is None:
            return
        seg = decode_tcp(len(self.packets), float(pkt.time), linktype, bytes(pkt))
        if seg is None or self.port not in (seg.sport, seg.dport):
            return
        a, b = (seg.src, seg.sport), (seg.dst, seg.dport)
        key = (a, b) if a <= b else (b, a)
        live = self.conns.get(key)
        if live is None or (seg.flags & 0x02 and not seg.flags & 0x10 and live.conn.chunks):
            server = a if seg.sport == self.port else b
            client = b if server == a else a
            conn = TCPConnection(client, server, seg.frame)
            info = ConnectionInfo(conn.client_str, conn.server_str, seg.frame, start_time=seg.time)
            live = self.conns[key] = _Live(conn, info, ConnectionDecoder(info, self.keys), len(self.conns) + 1)
            self.emit(f"#{live.number} {info.client} -> {info.server}: new connection")
        live.conn.add(seg, 0 if (seg.src, seg.sport) == live.conn.client else 1)
        self._reload_keys()
        for chunk in live.conn.chunks[live.fed:]:
            live.decoder.feed(chunk.direction, chunk.data, chunk.frame)
        live.fed = len(live.conn.chunks)
        self._show(live)

    def _reload_keys(self) -> None:
        if not self.keylog_path:
            return
        try:
            st = os.stat(self.keylog_path)
        except OSError:
            return   # not written yet
        if (st.st_mtime_ns, st.st_size) == self._keylog_seen:
            return
        self._keylog_seen = (st.st_mtime_ns, st.st_size)
        try:
            self.keys.keylog.merge(KeyLog.from_file(self.keylog_path))
        except KeyLogError as exc:
            raise SniffError(f"{exc}; point --keylog at the file SSLKEYLOGFILE names") from None

    def _show(self, live: _Live) -> None:
        info = live.info
        for m in info.messages[live.shown:]:
            line = self._event(live, m)
            if line:
                self.emit(f"#{live.number} frame {m.frame}: {line}")
        live.shown = len(info.messages)

    def _event(self, live: _Live, m: MessageInfo) -> str | None:
        enc = " (encrypted, decrypted with the key log)" if m.encrypted and m.decrypted else ""
        if m.kind == "handshake" and m.type == H.server_hello and m.direction == "server":
            return f"{version_label(live.info.version)} {suite_name(live.info.cipher_suite) or ''}"
        if m.kind == "handshake" and m.type == H.certificate_request:
            f = certificate_request_facts(m.layer.payload) if m.layer is not None else {}
            cas = f.get("certificate_authorities", [])
            return (f"server asks for a client certificate{enc}; CA names: "
                    + ("; ".join(cas[:3]) + (f" (+{len(cas) - 3})" if len(cas) > 3 else "") if cas else "none"))
        if m.kind == "handshake" and m.type == H.certificate and m.direction == "client" and m.layer is not None:
            entries = [e for e in getattr(m.layer.payload, "certificate_list", []) if hasattr(e, "cert_data")]
            if not entries:
                return f"client sends an EMPTY Certificate{enc}"
            from lab.crypto import x509view
            sm = x509view.summary(bytes(entries[0].cert_data))
            return f"client sends its certificate{enc}: {sm.get('subject')} (issuer {sm.get('issuer')})"
        if m.kind == "handshake" and m.type == H.certificate_verify and m.direction == "client":
            return f"client CertificateVerify {m.fields.get('algorithm', '')}{enc}"
        if m.kind == "alert" and m.type not in (None, 0):
            return f"{m.fields.get('level', '')} alert {m.name} ({m.type}) from the {m.direction}{enc}"
        if m.kind == "application_data" and m.direction == "server" and m.decrypted and m.raw.startswith(b"HTTP/"):
            return "server answers " + m.raw.split(b"\r\n", 1)[0].decode("latin-1")
        if m.encrypted and not m.decrypted and "nokey" not in live.said:
            live.said.add("nokey")
            hint = (f" (waiting for {self.keylog_path})" if self.keylog_path else
                    "; set SSLKEYLOGFILE in the client and pass that file with --keylog")
            return f"encrypted records, no key yet{hint}"
        return None

    def keylog_text(self) -> str:
        return self.keys.keylog.to_text()


def run_sniff(iface: str, port: int, keylog: str | None, out: str | None, stop: threading.Event,
              duration: float | None, emit: Callable[[str], None]) -> LiveSession:
    """Capture until ``stop`` is set or ``duration`` passes; then decode what remains and write ``out``."""
    import scapy.layers.inet  # noqa: F401 - registers the link types (loopback as Ethernet) and IP/TCP
    import scapy.layers.l2  # noqa: F401
    from scapy.sendrecv import AsyncSniffer
    import socket
    try:
        socket.if_nametoindex(iface)
    except OSError:
        raise SniffError(f"no interface {iface!r} on this machine (see `ip link`)") from None
    session = LiveSession(port, keylog, emit)
    sniffer = AsyncSniffer(iface=iface, filter=f"tcp port {port}", store=False, prn=session.capture)
    try:
        sniffer.start()
        time.sleep(0.2)
        if not sniffer.running or (sniffer.thread is not None and not sniffer.thread.is_alive()):
            raise SniffError(f"cannot capture on {iface}: the sniffer stopped at once (does the interface exist?)")
    except PermissionError:
        raise SniffError("capturing needs root or CAP_NET_RAW: run certlab sniff with sudo") from None
    except OSError as exc:
        raise SniffError(f"cannot capture on {iface}: {exc.strerror or exc}") from None
    emit(f"listening on {iface}, tcp port {port}" + (f", key log {keylog}" if keylog else ""))
    deadline = time.monotonic() + duration if duration else None
    try:
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            session.drain()
            stop.wait(0.05)
    finally:
        try:
            sniffer.stop()
        except Exception:  # noqa: BLE001 - a sniffer that died on its own has nothing to stop
            pass
    session._reload_keys()
    session.drain(final=True)
    for live in session.conns.values():
        live.decoder.finish()
    if out:
        from lab.capture.writer import write_pcapng
        write_pcapng(out, session.packets, session.keylog_text())
    return session
