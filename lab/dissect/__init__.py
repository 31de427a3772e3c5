"""``certlab dissect``: every TLS connection of a capture, decrypted where keys allow."""
from __future__ import annotations

from dataclasses import dataclass, field

from lab.capture.packets import SUPPORTED_LINKTYPES, decode_tcp
from lab.capture.pcapfile import CaptureError, read_capture
from lab.capture.tcp import TCPConnection, track
from lab.crypto.asym import KeyError_, load_private_key
from lab.crypto.keylog import KeyLog, KeyLogError
from lab.dissect.decoder import ConnectionDecoder
from lab.dissect.keys import KeySource
from lab.dissect.model import ConnectionInfo


class InputError(Exception):
    """Unusable input: the message is one line that says what to do."""


@dataclass
class DissectResult:
    path: str
    format: str
    frames: int
    connections: list[ConnectionInfo]
    keylog_secrets: int = 0
    embedded_secrets: int = 0
    warnings: list[str] = field(default_factory=list)


def _looks_like_tls(data: bytes) -> bool:
    if len(data) >= 5 and 20 <= data[0] <= 24 and data[1] == 3 and data[2] <= 4:
        return True
    return len(data) >= 3 and bool(data[0] & 0x80) and data[2] == 1 and len(data) > 3 and data[3] in (0, 3)


def _is_client_hello(data: bytes) -> bool:
    return (data[:1] == b"\x16" and data[5:6] == b"\x01") or (len(data) > 2 and data[0] & 0x80 and data[2] == 1)


def _first_data(conn: TCPConnection, direction: int) -> bytes:
    for c in conn.chunks:
        if c.direction == direction:
            return c.data
    return b""


def load_keys(keylog_path: str | None, server_key_paths: list[str], embedded: list[bytes]) -> KeySource:
    keys = KeySource()
    for i, blob in enumerate(embedded):
        try:
            keys.keylog.merge(KeyLog.parse(blob.decode("ascii", "replace"), f"embedded key log {i + 1}"))
        except KeyLogError as exc:
            raise InputError(f"{exc}; re-export the capture with a valid key log") from None
    if keylog_path:
        try:
            keys.keylog.merge(KeyLog.from_file(keylog_path))
        except KeyLogError as exc:
            raise InputError(f"{exc}; pass the file SSLKEYLOGFILE pointed to") from None
    for path in server_key_paths:
        try:
            with open(path, "rb") as fh:
                keys.server_keys.append(load_private_key(fh.read(), path))
        except OSError as exc:
            raise InputError(f"cannot read server key {path}: {exc.strerror}") from None
        except KeyError_ as exc:
            raise InputError(f"{exc}; pass the server's PEM private key") from None
    return keys


def dissect(path: str, keylog_path: str | None = None, server_keys: list[str] | None = None,
            ports: list[int] | None = None) -> DissectResult:
    try:
        cap = read_capture(path)
    except CaptureError as exc:
        raise InputError(str(exc)) from None
    if cap.frames and not any(f.linktype in SUPPORTED_LINKTYPES for f in cap.frames):
        raise InputError(f"{path}: unsupported link type {cap.frames[0].linktype}; "
                         "capture on an Ethernet, loopback or Linux cooked interface")
    keys = load_keys(keylog_path, server_keys or [], cap.tls_key_logs)
    embedded = sum(len(KeyLog.parse(b.decode("ascii", "replace"))) for b in cap.tls_key_logs)
    segments = (s for f in cap.frames if f.linktype in SUPPORTED_LINKTYPES
                for s in [decode_tcp(f.number, f.time, f.linktype, f.data)] if s is not None)
    wanted = set(ports or [])
    result = DissectResult(path, cap.format, len(cap.frames), [], len(keys.keylog), embedded)
    for conn in track(segments):
        forced = conn.client[1] in wanted or conn.server[1] in wanted
        c0, c1 = _first_data(conn, 0), _first_data(conn, 1)
        if not (forced or _looks_like_tls(c0) or _looks_like_tls(c1)):
            continue
        if _is_client_hello(c1) and not _is_client_hello(c0):
            conn.swap()  # the ClientHello came from the side we took for the server
        info = ConnectionInfo(conn.client_str, conn.server_str, conn.first_frame,
                              start_time=conn.chunks[0].time if conn.chunks else None)
        for side, d in zip(("client", "server"), conn.dirs):
            closes = {k: v for k, v in (("FIN", d.fin_frame), ("RST", d.rst_frame)) if v is not None}
            if closes:
                info.tcp_close[side] = closes
        dec = ConnectionDecoder(info, keys)
        for chunk in conn.chunks:
            dec.feed(chunk.direction, chunk.data, chunk.frame)
        dec.finish()
        for direction, d in enumerate(conn.dirs):
            for off, n in d.gaps:
                info.note(f"{('client', 'server')[direction]}: {n} bytes missing from the capture at "
                          f"stream offset {off}")
        result.connections.append(info)
    if not result.connections:
        raise InputError(f"{path}: no TLS traffic found in {len(cap.frames)} frames; "
                         "if TLS runs over a non-standard framing, name its port with --port")
    if len(keys.keylog) and not any(r.decrypted for c in result.connections for r in c.records):
        result.warnings.append("the key log matches no connection in this capture "
                               "(was it written for another capture?)")
    return result
