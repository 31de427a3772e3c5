"""The HTTP/2 probe (RFC 9113, HPACK RFC 7541) for a connection whose ALPN chose ``h2``: after
the request of ``layers.http2`` (a GET on stream 1), the server's frames judged: a
response's ``:status``, or the stream refused (RST_STREAM) or the connection ended (GOAWAY) with
its error code, as Apache answers a per-<Location> certificate request it cannot make over
HTTP/2 (RST_STREAM HTTP_1_1_REQUIRED, RFC 7540 9.2.1 and RFC 8740). Framing and HPACK come from
scapy's own HTTP/2 layer (``scapy.contrib.http2``)."""
from __future__ import annotations

from scapy.contrib import http2 as h2

from lab.play.observed import Observed
from layers.http2 import frames as h2frames

RST_STREAM, GOAWAY, HEADERS, DATA = 3, 7, 1, 0
END_STREAM = 0x1
# The error codes' names as RFC 9113 7 spells them (scapy knows only their descriptions)
ERRORS = ("NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED",
          "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
          "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED")


def _ending(frames: list):
    """The frame that decides stream 1: RST_STREAM on it, GOAWAY, or its response HEADERS."""
    for f in frames:
        if (f.type == RST_STREAM and f.stream_id == 1) or f.type == GOAWAY or (f.type == HEADERS and f.stream_id == 1):
            return f
    return None


def complete(data: bytes) -> bool:
    """Whether the answer can be judged: stream 1 refused, the connection ended, or its response
    ended (END_STREAM on a HEADERS or DATA frame of stream 1)."""
    frames = h2frames(data)
    return any(f.type in (RST_STREAM, GOAWAY) and f.stream_id in (0, 1) or
               (f.type in (HEADERS, DATA) and f.stream_id == 1 and int(f.flags) & END_STREAM) for f in frames)


def _error(code: int) -> str:
    name = ERRORS[code] if code < len(ERRORS) else "an unknown error"
    return f"{name} (0x{code:x}: {h2.H2ErrorCodes.literal.get(code, 'not in RFC 9113')})"


def judge(data: bytes) -> Observed:
    """Success for a :status below 400; app_rejected for a higher status, a refused stream or a
    GOAWAY with an error, each named in ``reason``; a timeout when nothing decided stream 1."""
    if not data:
        return Observed("timeout", when="on_first_read", waiting_for=("HTTP/2 frames",))
    frames = h2frames(data)
    end = _ending(frames)
    if end is None:
        return Observed("timeout", when="on_first_read", waiting_for=("a response on HTTP/2 stream 1",),
                        reason=f"{len(frames)} HTTP/2 frame(s) came, none about stream 1")
    if end.type == RST_STREAM:
        return Observed("app_rejected", when="on_first_read", reason=f"HTTP/2 RST_STREAM on stream 1: {_error(end.error)}")
    if end.type == GOAWAY:
        return Observed("app_rejected", when="on_first_read",
                        reason=f"HTTP/2 GOAWAY (last stream {end.last_stream_id}): {_error(end.error)}")
    text = h2.HPackHdrTable().gen_txt_repr(end)
    status = next((int(line.split()[1]) for line in text.splitlines() if line.startswith(":status ")), None)
    ok = status is not None and status < 400
    return Observed("success" if ok else "app_rejected", when="on_first_read", http_status=status,
                    response=text[:200], reason=None if ok else f"HTTP/2 :status {status}")
