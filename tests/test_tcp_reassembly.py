"""TCP reassembly under reordering, duplication (loopback captures record each packet twice)
and overlapping retransmissions: the dissection must not change, and must equal tshark's
reading of the same damaged file."""
from __future__ import annotations

import os
import random

import pytest
from scapy.layers.inet import TCP
from scapy.utils import wrpcap

from lab.dissect import render as report
from lab.capture.synth import frame_conversation
from lab.tools.demo import record_handshake
from lab.dissect import dissect
from tests.tshark_ref import certlab_view, tshark_view


@pytest.fixture(scope="module")
def conversation(pki, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tcp")
    keylog = str(folder / "keys")
    flights, _ = record_handshake(pki, "1.3", keylog)
    return frame_conversation(flights, ("127.0.0.1", 41000), ("127.0.0.1", 8443), mss=300), keylog, folder


def _view(path: str, keylog: str):
    result = dissect(path, keylog)
    assert len(result.connections) == 1
    return certlab_view(report.connection_json(result.connections[0])), result.connections[0]


def damage(packets, how: str, seed: int):
    rng = random.Random(seed)
    pkts = list(packets)
    data = [i for i, p in enumerate(pkts) if len(p[TCP].payload)]
    if how == "duplicated":
        out = []
        for p in pkts:
            out += [p, p.copy()]
        return out
    if how == "reordered":
        body = pkts[3:-3]
        for _ in range(len(body)):
            i = rng.randrange(len(body) - 1)
            body[i], body[i + 1] = body[i + 1], body[i]
        return pkts[:3] + body + pkts[-3:]
    if how == "retransmitted":
        out = list(pkts)
        for i in sorted(rng.sample(data, 5), reverse=True):
            p = pkts[i].copy()
            payload = bytes(p[TCP].payload)
            p[TCP].remove_payload()
            p[TCP].seq += 7
            p = p / payload[7:]  # an overlapping retransmission of the segment's tail
            out.insert(i + 2, p)
        return out
    raise ValueError(how)


@pytest.mark.parametrize("how", ["duplicated", "reordered", "retransmitted"])
def test_damaged_capture_dissects_the_same(conversation, how: str) -> None:
    packets, keylog, folder = conversation
    clean = os.path.join(folder, "clean.pcap")
    wrpcap(clean, packets)
    bad = os.path.join(folder, f"{how}.pcap")
    wrpcap(bad, damage(packets, how, seed=7))
    ours_clean, _ = _view(clean, keylog)
    ours_bad, conn = _view(bad, keylog)
    assert ours_bad.messages == ours_clean.messages
    assert ours_bad.records == ours_clean.records
    assert conn.client_auth["responses"][0]["certificate_verify"]["verified"] is True
    ws = tshark_view(bad, keylog, 8443, prefs=["tcp.reassemble_out_of_order:TRUE"])
    assert ours_bad.messages == ws.messages


def test_many_connections_interleaved_and_port_reuse(pki, conversation) -> None:
    """Three connections in one capture: two interleaved, and a third reusing the first's ports."""
    packets, keylog, folder = conversation
    flights, _ = record_handshake(pki, "1.2", str(folder / "keys2"))
    with open(folder / "keys2") as fh:
        extra = fh.read()
    with open(keylog) as fh:
        both = fh.read() + extra
    combined_log = str(folder / "combined.keys")
    with open(combined_log, "w") as fh:
        fh.write(both)
    other = frame_conversation(flights, ("127.0.0.1", 41001), ("127.0.0.1", 8443), start=0.0002, mss=300)
    reuse = frame_conversation(flights, ("127.0.0.1", 41000), ("127.0.0.1", 8443), start=5.0, mss=300,
                               isn=(777777, 999999))
    interleaved = [p for pair in zip(packets, other) for p in pair]
    longer = packets if len(packets) > len(other) else other
    interleaved += longer[min(len(packets), len(other)):]
    path = os.path.join(folder, "many.pcap")
    wrpcap(path, interleaved + reuse)
    result = dissect(path, combined_log)
    assert [(c.client, report.connection_json(c)["version"]) for c in result.connections] == [
        ("127.0.0.1:41000", "TLS 1.3"), ("127.0.0.1:41001", "TLS 1.2"), ("127.0.0.1:41000", "TLS 1.2")]
    for conn in result.connections:
        assert all(r.decrypted for r in conn.records if r.encrypted)
        assert conn.client_auth["responses"][0]["certificate_verify"]["verified"] is True
    ws = tshark_view(path, combined_log, 8443)
    total = {d: sum(len(certlab_view(report.connection_json(c)).messages[d]) for c in result.connections)
             for d in ("client", "server")}
    assert total == {d: len(ws.messages[d]) for d in ("client", "server")}


def test_closed_connections_are_remembered_only_up_to_a_bound() -> None:
    """Closed connections are remembered (to drop their late ACKs) only up to a bound; 20,000
    connections open at once close in near-linear work (the oldest open one is a heap lookup)."""
    import signal
    from lab.capture.packets import ACK, FIN, SYN, Segment
    from lab.capture.tcp import TOMBSTONES, Tracker

    def seg(frame: int, port: int, flags: int, from_client: bool = True) -> Segment:
        a, b = ("10.0.0.1", port), ("10.0.0.2", 443)
        (src, sport), (dst, dport) = (a, b) if from_client else (b, a)
        return Segment(frame, 0.0, src, sport, dst, dport, 1000 if from_client else 5000, 0, flags, b"")

    def stop(*_):
        raise AssertionError("closing connections grew faster than their number")
    signal.signal(signal.SIGALRM, stop)
    signal.alarm(60)
    try:
        tracker, frame, closed = Tracker(), 0, []
        n = 20_000
        for i in range(n):
            frame += 1
            tracker.feed(seg(frame, 1024 + i, SYN))
        for i in range(n):
            for from_client in (True, False):
                frame += 1
                closed += tracker.feed(seg(frame, 1024 + i, FIN | ACK, from_client))
            assert tracker.oldest_open() == (i + 2 if i + 1 < n else None)
    finally:
        signal.alarm(0)
    assert len(closed) == n and len(tracker.tombstones) == TOMBSTONES < n
    assert tracker.feed(seg(frame + 1, 1024 + n - 1, ACK)) == [] and not tracker.live   # a late ACK: dropped
