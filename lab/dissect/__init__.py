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
from lab.dissect.upgrade import SEARCH, Upgrade, find_upgrade


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


# Handshake messages only a server sends (ServerHello, HelloRequest, NewSessionTicket, Certificate-
# Request, ServerHelloDone, ServerKeyExchange), and only a client (ClientHello, ClientKeyExchange).
SERVER_ONLY, CLIENT_ONLY = {0, 2, 4, 12, 13, 14}, {1, 16}
# Ports of TLS services (and their STARTTLS forms): the side on one of them is the server.
TLS_PORTS = {443, 465, 563, 585, 636, 853, 989, 990, 992, 993, 994, 995, 3269, 4433, 5061, 5223, 5349, 5671, 6514,
             8443, 25, 587, 143, 110, 21, 389, 5222, 119, 5432, 3306}


def _server_side_by_content(c0: bytes, c1: bytes) -> int | None:
    """Which direction (0 or 1) is the server's, from the first plaintext handshake message each
    sends (a capture that starts mid-stream has no SYN to tell), or None."""
    for direction, data in ((0, c0), (1, c1)):
        if data[:1] == b"\x16" and len(data) > 5:
            if data[5] in SERVER_ONLY:
                return direction
            if data[5] in CLIENT_ONLY:
                return 1 - direction
    return None


def _orient(conn: TCPConnection, c0: bytes, c1: bytes) -> None:
    """Make direction 0 the client's: the ClientHello's sender, else (mid-stream) the side the
    TLS content or a well-known port shows."""
    if _is_client_hello(c1) and not _is_client_hello(c0):
        conn.swap()   # the ClientHello came from the side we took for the server
        return
    if _is_client_hello(c0) or conn.saw_syn:
        return
    server = _server_side_by_content(c0, c1)
    if server is None:
        ports = (conn.client[1] in TLS_PORTS, conn.server[1] in TLS_PORTS)
        server = 0 if ports == (True, False) else (1 if ports == (False, True) else None)
    if server == 0:
        conn.swap()


def _head(conn: TCPConnection, direction: int) -> bytes:
    out = b""
    for c in conn.chunks:
        if c.direction == direction:
            out += c.data
            if len(out) >= SEARCH:
                break
    return out


def _upgrade(conn: TCPConnection) -> Upgrade | None:
    """STARTTLS and its kin: the ClientHello after a plaintext upgrade request (either side may
    have been taken for the client: the one that sends the ClientHello is)."""
    for flip in (False, True):
        if flip:
            conn.swap()
        found = find_upgrade(_head(conn, 0), _head(conn, 1), conn.server[1])
        if found is not None:
            return found
    conn.swap()   # back as it was
    return None


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
        skip = [0, 0]
        upgrade = None
        if not (forced or _looks_like_tls(c0) or _looks_like_tls(c1)):
            upgrade = _upgrade(conn)
            if upgrade is None:
                continue
            skip = [upgrade.client_offset, upgrade.server_offset]
        else:
            _orient(conn, c0, c1)
        info = ConnectionInfo(conn.client_str, conn.server_str, conn.first_frame,
                              start_time=conn.chunks[0].time if conn.chunks else None, mid_stream=not conn.saw_syn)
        for side, d in zip(("client", "server"), conn.dirs):
            closes = {k: v for k, v in (("FIN", d.fin_frame), ("RST", d.rst_frame)) if v is not None}
            if closes:
                info.tcp_close[side] = closes
        if upgrade is not None:
            info.upgrade = upgrade.protocol
            info.note(f"TLS starts inside {upgrade.protocol} (after {skip[0]} bytes from the client, "
                      f"{skip[1]} from the server)")
        dec = ConnectionDecoder(info, keys)
        for chunk in conn.chunks:
            data = chunk.data
            if skip[chunk.direction]:
                cut = min(skip[chunk.direction], len(data))
                data, skip[chunk.direction] = data[cut:], skip[chunk.direction] - cut
                if not data:
                    continue
            dec.feed(chunk.direction, data, chunk.frame)
        dec.finish()
        for direction, d in enumerate(conn.dirs):
            for off, n in d.gaps:
                info.note(f"{('client', 'server')[direction]}: {n} bytes missing from the capture at "
                          f"stream offset {off}")
        result.connections.append(info)
    if not result.connections:
        raise InputError(f"{path}: no TLS traffic found in {len(cap.frames)} frames; "
                         "if TLS runs over a non-standard framing, name its port with --port")
    randoms = [c.client_random for c in result.connections if c.client_random]
    if len(keys.keylog) and randoms and not any(keys.keylog.lines_for(r) for r in randoms):
        result.warnings.append("the key log matches no connection in this capture: it has no line for any of "
                               "its client randoms (was it written for another capture?)")
    return result
