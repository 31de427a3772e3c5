"""Inputs that broke certlab when it was fed generated files, kept with the one-line outcome each
must give: a key log that never ends, a pcapng of Simple Packet Blocks."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAPTURE = os.path.join(ROOT, "pcaps", "tls13-client-auth.pcapng")


def certlab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_a_key_log_that_never_ends_is_refused_at_its_first_line() -> None:
    """`--keylog /dev/zero` read the device whole (24 GB RSS before the kernel killed it)."""
    proc = certlab("dissect", CAPTURE, "--keylog", "/dev/zero")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "line 1 is longer than" in proc.stderr


def _block(kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", kind, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def test_a_pcapng_of_simple_packet_blocks_reads_like_the_original(tmp_path) -> None:
    """A pcapng holding only Simple Packet Blocks ended in a traceback; its frames belong to the
    first interface (pcapng 4.4), so it reads as the same capture, without timestamps."""
    from lab.capture.pcapfile import read_capture
    frames = read_capture(CAPTURE).frames
    spb = tmp_path / "spb.pcapng"
    spb.write_bytes(_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
                    + _block(1, struct.pack("<HHI", frames[0].linktype, 0, 262144))
                    + b"".join(_block(3, struct.pack("<I", len(f.data)) + f.data) for f in frames))
    ours, theirs = certlab("dissect", str(spb), "--json"), certlab("dissect", CAPTURE, "--json")
    assert ours.returncode == 0, ours.stderr

    def records(doc: dict) -> list:
        return [(r["direction"], r["content_type"], r["length"]) for c in doc["connections"] for r in c["records"]]
    assert records(json.loads(ours.stdout)) == records(json.loads(theirs.stdout))


def _segments(n: int, gaps: bool):
    import random
    from lab.capture.packets import ACK, SYN, Segment
    data = bytes(random.Random(7).randrange(256) for _ in range(n))
    segs = [Segment(i + 2, 0.0, "10.0.0.1", 40000, "10.0.0.2", 443, 1001 + i, 0, ACK, data[i:i + 1])
            for i in range(n) if not (gaps and i % 100 == 50)]
    random.Random(8).shuffle(segs)
    return data, [Segment(1, 0.0, "10.0.0.1", 40000, "10.0.0.2", 443, 1000, 0, SYN, b"")] + segs


def _bounded(seconds: int):
    """A guard against work that explodes (quadratic reassembly took minutes), not a timing test."""
    import signal

    def stop(*_):
        raise AssertionError(f"more than {seconds} s: the work grew faster than the input")
    signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)


def test_100000_one_byte_segments_out_of_order_reassemble() -> None:
    """100,000 shuffled one-byte segments did not finish in 120 s (the pending list was re-sorted on
    every segment); with gaps, 95 s."""
    import signal
    from lab.capture.tcp import track
    for gaps in (False, True):
        data, segs = _segments(100_000, gaps)
        _bounded(60)
        try:
            [conn] = track(segs)
        finally:
            signal.alarm(0)
        got = conn.stream(0)
        if gaps:
            assert len(conn.dirs[0].gaps) == 1000 and len(got) == len(data) - 1000
        else:
            assert got == data and not conn.dirs[0].gaps


def test_zeros_after_a_pcap_header_are_refused_at_the_first_record(tmp_path) -> None:
    """200 MB of zeros behind a pcap header took 51 s and 2.6 GB: millions of empty "packets"."""
    import tracemalloc
    z = tmp_path / "zeros.pcap"
    z.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + b"\0" * 4_000_000)
    from lab.capture.pcapfile import CaptureError, read_capture
    tracemalloc.start()
    try:
        read_capture(str(z))
        raise AssertionError("zeros read as a capture")
    except CaptureError as exc:
        assert "length 0" in str(exc)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 16 << 20, peak


def _big_capture(path: str, pki, tmp_path, connections: int, data_bytes: int) -> None:
    """``connections`` sequential mutual-auth TLS 1.3 connections, each followed by ``data_bytes``
    of application-data records from the server (opaque: the records of a long download)."""
    from lab.capture.synth import Flight, frame_conversation
    from lab.capture.writer import write_pcapng
    from lab.tools.demo import record_handshake
    flights, _ = record_handshake(pki, "1.3", str(tmp_path / "keys"))
    record = b"\x17\x03\x03\x40\x00" + bytes(0x4000)
    bulk = [Flight(False, record * 16)] * max(1, data_bytes // (16 * len(record)))
    packets = []
    for i in range(connections):
        packets += frame_conversation(flights + bulk, ("127.0.0.1", 20000 + i), ("127.0.0.1", 443), start=i * 10.0)
    write_pcapng(path, packets, "", sidecar=False)


def _peak_rss_mb(*args: str) -> float:
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "lab", *args], capture_output=True,
                         text=True, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr
    return float(out.stdout.strip())


def test_dissect_memory_does_not_grow_with_the_capture(tmp_path, pki) -> None:
    """A capture read as a stream: each connection decoded when it closes and its application data
    dropped, so 4x the bytes (and connections) takes about the same peak memory."""
    small, large = str(tmp_path / "small.pcapng"), str(tmp_path / "large.pcapng")
    _big_capture(small, pki, tmp_path, 5, 2 << 20)
    _big_capture(large, pki, tmp_path, 20, 2 << 20)
    assert os.path.getsize(large) > 30 << 20
    for command in ("dissect", "diagnose"):
        a, b = _peak_rss_mb(command, small), _peak_rss_mb(command, large)
        assert b < a + 25, (command, a, b)   # the whole capture in memory would add 30+ MB


def test_bulk_application_data_is_passed_over_keeping_the_record_state(tmp_path, pki) -> None:
    """TLS 1.2 application data after the first records is counted, not decrypted, unless asked;
    the close_notify after 2 MB of it still decrypts, so the skipped records kept the sequence."""
    from lab.capture.synth import frame_conversation
    from lab.capture.writer import write_pcapng
    from lab.tools.demo import record_handshake
    flights, _ = record_handshake(pki, "1.2", str(tmp_path / "keys"), payload=2 << 20)
    pcap = str(tmp_path / "bulk.pcapng")
    write_pcapng(pcap, frame_conversation(flights, ("127.0.0.1", 40000), ("127.0.0.1", 443)),
                 (tmp_path / "keys").read_text(), sidecar=False)
    default = json.loads(certlab("dissect", pcap, "--json").stdout)["connections"][0]
    from lab.dissect import DissectStream
    [quick] = list(DissectStream(pcap, decrypt_all=False))
    skipped = [r for r in quick.records if r.skipped]
    assert len(skipped) > 100 and len(quick.records) == len(default["records"])
    assert all(r["decrypted"] for r in default["records"] if r["encrypted"])   # --json decrypts all
    alerts = [m for m in quick.messages if m.kind == "alert"]
    assert alerts and alerts[-1].name == "close_notify" and alerts[-1].decrypted
    text = certlab("dissect", pcap).stdout
    assert "close_notify" in text or "Close Notify" in text


def _shb() -> bytes:
    return _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))


def test_a_damaged_block_is_refused_where_it_starts_without_reading_what_it_claims(tmp_path) -> None:
    """Bytes after a pcapng header that are not blocks (scapy stopped silently, "0 frames"), a block
    claiming 4 GB (scapy read the rest of the file into one block), a pcap record claiming 4 GB
    (scapy truncated it and read on): each refused in one line naming the byte, and nothing of the
    claimed size is read."""
    import tracemalloc
    from lab.capture.pcapfile import CaptureError, CaptureReader
    idb = _block(1, struct.pack("<HHI", 1, 0, 262144))
    pcap = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    cases = {"zeros.pcapng": (_shb() + b"\0" * 8_000_000, "at byte 28, a block of length 0"),
             "ones.pcapng": (_shb() + b"\xff" * 8_000_000, "at byte 28, a block of length 4294967295"),
             "claims.pcapng": (_shb() + idb + struct.pack("<II", 6, 0xFFFFFFF0) + b"\1" * 8_000_000,
                               "at byte 48, a block claiming 4294967280 bytes"),
             "claims.pcap": (pcap + struct.pack("<IIII", 0, 0, 0xFFFFFFF0, 0xFFFFFFF0) + b"\1" * 8_000_000,
                             "at byte 24, a packet record claiming 4294967280 bytes")}
    for name, (data, reason) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        tracemalloc.start()
        try:
            with CaptureReader(str(path)) as reader:
                list(reader)
            raise AssertionError(f"{name} read as a capture")
        except CaptureError as exc:
            assert reason in str(exc), (name, str(exc))
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert peak < 4 << 20, (name, peak)
        proc = certlab("dissect", str(path))
        assert proc.returncode == 2 and reason in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_capture_cut_short_is_read_up_to_its_last_whole_frame_with_a_warning(tmp_path) -> None:
    """A capture stopped mid-write: tshark reads the frames before the cut and says "cut short";
    certlab reads the same frames and says so too, once, without failing."""
    data = open(CAPTURE, "rb").read()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(data[:-100])
    theirs = subprocess.run(["tshark", "-r", str(cut), "-T", "fields", "-e", "frame.number"],
                            capture_output=True, text=True)
    assert "cut short" in theirs.stderr
    ours = certlab("dissect", str(cut), "--json")
    assert ours.returncode == 0 and ours.stderr.count("cut short") == 1, ours.stderr
    doc = json.loads(ours.stdout)
    assert doc["frames"] == len(theirs.stdout.split()) and any("cut short" in w for w in doc["warnings"])
