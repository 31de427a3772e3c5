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
