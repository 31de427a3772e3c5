"""Writing captures: pcapng with the TLS key log embedded in a Decryption Secrets Block
(so Wireshark decrypts with no option set), per-packet comments, a ``.keys`` sidecar, and
whole-file-or-nothing writes. scapy's PcapNgWriter writes no DSB; this adds one after the
section and interface headers."""
from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterable

from scapy.packet import Packet
from scapy.utils import PcapNgWriter

from lab.capture.pcapfile import TLS_KEY_LOG_SECRETS
from lab.pki import write_private

DSB_BLOCK_TYPE = 0x0000000A


class _SecretsPcapNgWriter(PcapNgWriter):
    def __init__(self, filename: str, keylog: bytes) -> None:
        super().__init__(filename)
        self._keylog = keylog

    def _write_header(self, pkt):  # type: ignore[no-untyped-def]
        first = not self.header_present
        super()._write_header(pkt)
        if first and self._keylog:
            body = struct.pack(self.endian + "II", TLS_KEY_LOG_SECRETS, len(self._keylog)) + self._keylog
            self.f.write(self.build_block(struct.pack(self.endian + "I", DSB_BLOCK_TYPE), body))


def write_pcapng(path: str, packets: Iterable[Packet], keylog: str = "", sidecar: bool = True) -> None:
    """Write ``packets`` (each may carry ``.comments``) to ``path`` atomically, with the key log
    embedded; also ``path`` minus its extension plus ``.keys`` (mode 0600) when asked."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".certlab-", suffix=".pcapng", dir=folder)
    os.close(fd)
    try:
        writer = _SecretsPcapNgWriter(tmp, keylog.encode("ascii"))
        try:
            for p in packets:
                writer.write(p)
        finally:
            writer.close()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if sidecar and keylog:
        header = (f"# certlab: TLS key log (SSLKEYLOGFILE format) for {os.path.basename(path)}; "
                  "these secrets decrypt it\n")
        write_private(os.path.splitext(path)[0] + ".keys", (header + keylog).encode("ascii"))
