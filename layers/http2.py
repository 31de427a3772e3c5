"""HTTP/2 (RFC 9113) as certlab speaks it after ALPN ``h2``: the client's opening bytes (the
connection preface, an empty SETTINGS and one GET on stream 1) and frames split off a byte
stream. The frames and HPACK (RFC 7541) are scapy's own (``scapy.contrib.http2``)."""
from __future__ import annotations

from scapy.contrib import http2 as h2

PREFACE = h2.H2_CLIENT_CONNECTION_PREFACE


def request(path: str = "/", authority: str = "localhost") -> bytes:
    """The client preface, SETTINGS, and a GET of ``path`` on stream 1 (END_STREAM)."""
    headers = h2.HPackHdrTable().parse_txt_hdrs(
        f":method GET\n:scheme https\n:authority {authority}\n:path {path}\nuser-agent certlab".encode(),
        stream_id=1, register=False)
    frame = headers.frames[0]
    frame.flags.add("ES")
    return PREFACE + bytes(h2.H2Frame() / h2.H2SettingsFrame()) + bytes(frame)


def is_request(data: bytes | None) -> bool:
    """Whether ``data`` opens an HTTP/2 connection (the client preface)."""
    return bool(data) and data.startswith(PREFACE)


def frames(data: bytes) -> list:
    """The whole frames in ``data`` as scapy H2Frames (a frame cut short at the end is not yet one)."""
    whole, at = b"", 0
    while len(data) - at >= 9:
        size = 9 + int.from_bytes(data[at:at + 3], "big")
        if len(data) - at < size:
            break
        whole += data[at:at + size]
        at += size
    return list(h2.H2Seq(whole).frames) if whole else []
