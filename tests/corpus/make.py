"""How every input of this corpus was made (run from the checkout: python tests/corpus/make.py).
The files are committed: the corpus stays fixed even when pcaps/ is regenerated. Each input's
expected outcome is one line of OUTCOMES, checked by tests/test_corpus.py."""
from __future__ import annotations

import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)


def block(kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", kind, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def main() -> None:
    from scapy.layers.inet import TCP
    from scapy.utils import rdpcap, wrpcap
    from lab.capture.pcapfile import CaptureReader

    base = os.path.join(HERE, "tls13-client-auth.pcapng")        # certlab's own reference capture
    shutil.copy(os.path.join(ROOT, "pcaps", "tls13-client-auth.pcapng"), base)
    with CaptureReader(base) as reader:
        frames = list(reader)
        keys = b"".join(reader.secrets)
    with open(os.path.join(HERE, "tls13.keys"), "wb") as fh:
        fh.write(keys)
    packets = rdpcap(base)
    wrpcap(os.path.join(HERE, "tls13-bare.pcap"), packets)   # the same frames, no embedded key log

    # The ClientHello (and all the client's first flight) one byte per TCP segment.
    out, first = [], True
    for p in packets:
        tcp = p[TCP]
        data = bytes(tcp.payload)
        if first and data and tcp.sport != 443 and data[:1] == b"\x16" and data[5:6] == b"\x01":
            first = False
            for i in range(len(data)):
                q = p.copy()
                q[TCP].remove_payload()
                q[TCP].seq = tcp.seq + i
                q = q / data[i:i + 1]
                del q["IP"].len, q["IP"].chksum, q[TCP].chksum
                q.time = p.time
                out.append(q.__class__(bytes(q)))
                out[-1].time = p.time
            continue
        out.append(p)
    wrpcap(os.path.join(HERE, "clienthello-one-byte-segments.pcap"), out)
    # The same ClientHello to a server that never answers: only the client's bytes tell it is TLS.
    last = max(i for i, p in enumerate(out) if len(bytes(p[TCP].payload)) == 1)
    wrpcap(os.path.join(HERE, "clienthello-one-byte-segments-no-answer.pcap"), out[:last + 1])

    # A handshake record whose handshake header claims 16 MiB - 1 (the record itself is whole).
    hello = next(p for p in packets if bytes(p[TCP].payload)[:1] == b"\x16")
    data = bytes(hello[TCP].payload)
    forged = hello.copy()
    forged[TCP].remove_payload()
    forged = forged / (data[:6] + b"\xff\xff\xff" + data[9:])
    del forged["IP"].len, forged["IP"].chksum, forged[TCP].chksum
    wrpcap(os.path.join(HERE, "handshake-length-16mib.pcap"), [*packets[:3], forged.__class__(bytes(forged))])

    # A pcapng whose second block's length is not a multiple of 4 and claims more than the file.
    with open(base, "rb") as fh:
        ng = fh.read()
    shb_len = struct.unpack("<I", ng[4:8])[0]
    bad = bytearray(ng)
    bad[shb_len + 4:shb_len + 8] = struct.pack("<I", 0x7FFFFFF1)
    with open(os.path.join(HERE, "pcapng-bad-block-length.pcapng"), "wb") as fh:
        fh.write(bad)

    # Only Simple Packet Blocks (pcapng 4.4): the frames of the first interface, no timestamps.
    with open(os.path.join(HERE, "pcapng-simple-packet-blocks.pcapng"), "wb") as fh:
        fh.write(block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
                 + block(1, struct.pack("<HHI", frames[0].linktype, 0, 262144))
                 + b"".join(block(3, struct.pack("<I", len(f.data)) + f.data) for f in frames))

    # Key logs that are not, or not quite, key logs.
    lines = keys.decode().splitlines()
    with open(os.path.join(HERE, "keys-binary.keylog"), "wb") as fh:
        fh.write(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    with open(os.path.join(HERE, "keys-endless-line.keylog"), "w") as fh:
        fh.write("CLIENT_RANDOM " + "ab" * 5000 + "\n")
    with open(os.path.join(HERE, "keys-secret-cut-short.keylog"), "w") as fh:   # a write cut off mid-line
        fh.write("\n".join(line[:-2] if line.startswith("CLIENT_HANDSHAKE") else line for line in lines) + "\n")
    with open(os.path.join(HERE, "keys-secret-of-sha384-length.keylog"), "w") as fh:   # 48 bytes for a SHA-256 suite
        fh.write("\n".join(line + "00" * 16 if line.startswith("SERVER_HANDSHAKE") else line for line in lines)
                 + "\n")


if __name__ == "__main__":
    main()
