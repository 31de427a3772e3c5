"""Framing recorded TLS bytes as a TCP conversation (Ether/IPv4 or IPv6/TCP with consistent sequence
and acknowledgement numbers), so a capture exists without root or a sniffer."""
from __future__ import annotations

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from lab.capture.flight import Flight  # noqa: F401 - re-exported: where callers find it

MSS = 16344


def frame_conversation(flights: list[Flight], client: tuple[str, int], server: tuple[str, int],
                       start: float | None = None, step: float = 0.0005, mss: int = MSS,
                       isn: tuple[int, int] = (1000, 5000)) -> list[Packet]:
    cmac, smac = "02:00:00:00:00:01", "02:00:00:00:00:02"
    seq = {True: isn[0], False: isn[1]}
    t = start if start is not None else (flights[0].time - 3 * step if flights else 0.0)
    out: list[Packet] = []

    def pkt(from_client: bool, flags: str, payload: bytes = b"", comment: str = "") -> None:
        nonlocal t
        src, dst = (client, server) if from_client else (server, client)
        p = (Ether(src=cmac if from_client else smac, dst=smac if from_client else cmac) /
             (IPv6(src=src[0], dst=dst[0], hlim=64) if ":" in src[0] else IP(src=src[0], dst=dst[0], ttl=64)) /
             TCP(sport=src[1], dport=dst[1], flags=flags, seq=seq[from_client],
                 ack=seq[not from_client] if "A" in flags else 0, window=65535))
        if payload:
            p = p / payload
        p.time = t
        if comment:
            p.comments = [comment.encode()]
        t += step
        out.append(p)
        seq[from_client] += len(payload) + (1 if ("S" in flags or "F" in flags) else 0)

    pkt(True, "S")
    pkt(False, "SA")
    pkt(True, "A")
    for f in flights:
        t = max(t, f.time if start is None else t)   # real times, kept in order
        for off in range(0, len(f.data), mss):
            pkt(f.from_client, "PA", f.data[off:off + mss], f.comment if off == 0 else "")
        pkt(not f.from_client, "A")
    pkt(True, "FA")
    pkt(False, "FA")
    pkt(True, "A")
    return out
