"""Frame -> TCP segment decoding for the link types captures of TLS use.

Hand-written with ``struct`` on purpose: building scapy Ether/IP/TCP objects costs about
100 microseconds a frame, which alone would exceed the dissection budget; the headers
needed here are fixed-layout and few.
"""
from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass

LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LOOP = 0, 1, 101, 108
LINKTYPE_LINUX_SLL, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL2 = 113, 228, 229, 276
SUPPORTED_LINKTYPES = {LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LOOP,
                       LINKTYPE_LINUX_SLL, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL2}

SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10


@dataclass(frozen=True)
class Segment:
    frame: int
    time: float
    src: str
    sport: int
    dst: str
    dport: int
    seq: int
    ack: int
    flags: int
    payload: bytes


class UnsupportedLinkType(ValueError):
    pass


def _network(linktype: int, data: bytes) -> tuple[int, bytes] | None:
    """(ethertype-like protocol, network-layer bytes)."""
    if linktype == LINKTYPE_ETHERNET:
        if len(data) < 14:
            return None
        etype, off = struct.unpack_from("!H", data, 12)[0], 14
        while etype in (0x8100, 0x88A8) and len(data) >= off + 4:
            etype, off = struct.unpack_from("!H", data, off + 2)[0], off + 4
        return etype, data[off:]
    if linktype == LINKTYPE_LINUX_SLL:
        return (struct.unpack_from("!H", data, 14)[0], data[16:]) if len(data) >= 16 else None
    if linktype == LINKTYPE_LINUX_SLL2:
        return (struct.unpack_from("!H", data, 0)[0], data[20:]) if len(data) >= 20 else None
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        if not data:
            return None
        return (0x86DD if data[0] >> 4 == 6 else 0x0800), data
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(data) < 4:
            return None
        v = data[4] >> 4 if len(data) > 4 else 0
        return (0x86DD if v == 6 else 0x0800), data[4:]
    raise UnsupportedLinkType(f"unsupported link type {linktype}")


def _v6(raw: bytes) -> str:
    """RFC 5952 text of an IPv6 address (inet_ntop's, which ipaddress agrees with), cached: a
    capture repeats a few addresses many times."""
    text = _V6.get(raw)
    if text is None:
        if len(_V6) > 4096:   # bounded: a capture of many addresses just parses them again
            _V6.clear()
        text = _V6[raw] = str(ipaddress.IPv6Address(raw))
    return text


_V6: dict[bytes, str] = {}


def decode_tcp(frame_no: int, time: float, linktype: int, data: bytes) -> Segment | None:
    """The TCP segment in a frame, or None for anything else (ARP, UDP, fragments...)."""
    net = _network(linktype, data)
    if net is None:
        return None
    etype, ip = net
    if etype == 0x0800:
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            return None
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from("!H", ip, 2)[0]
        if struct.unpack_from("!H", ip, 6)[0] & 0x3FFF:  # a fragment
            return None
        src, dst = socket.inet_ntop(socket.AF_INET, ip[12:16]), socket.inet_ntop(socket.AF_INET, ip[16:20])
        tcp = ip[ihl:total] if total >= ihl else ip[ihl:]
    elif etype == 0x86DD:
        if len(ip) < 40:
            return None
        nxt, plen, off = ip[6], struct.unpack_from("!H", ip, 4)[0], 40
        while nxt in (0, 43, 60) and len(ip) >= off + 8:  # hop-by-hop, routing, destination options
            nxt, off = ip[off], off + (ip[off + 1] + 1) * 8
        if nxt != 6:
            return None
        src, dst = _v6(ip[8:24]), _v6(ip[24:40])
        tcp = ip[off:40 + plen]
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq, ack, off_flags = struct.unpack_from("!HHIIH", tcp, 0)
    doff = (off_flags >> 12) * 4
    return Segment(frame_no, time, src, sport, dst, dport, seq, ack, off_flags & 0x3F, tcp[doff:])


def endpoint(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
