"""Reading pcap and pcapng files with scapy's raw readers, keeping the TLS key log of a
pcapng Decryption Secrets Block (scapy only feeds it to its own TLS layer)."""
from __future__ import annotations

import contextlib
import logging
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from scapy.error import Scapy_Exception
from scapy.data import MTU
from scapy.utils import RawPcapNgReader, RawPcapReader

TLS_KEY_LOG_SECRETS = 0x544C534B  # pcapng DSB secrets type "TLSK"
_PCAP_MAGICS = {b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1"}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
# The largest block or packet record read: Wireshark's limit for a pcapng block (16 MiB). A
# length field claiming more is a damaged file, refused before anything that size is read.
MAX_BLOCK = 16 << 20


class CaptureError(Exception):
    """The file is not a readable capture."""


@dataclass(frozen=True)
class Frame:
    number: int          # 1-based, as Wireshark counts
    time: float
    linktype: int
    data: bytes
    comments: tuple[str, ...] = ()


@dataclass
class Capture:
    frames: list[Frame]
    tls_key_logs: list[bytes] = field(default_factory=list)  # DSB contents, in file order
    format: str = "pcap"


def _cut_short(fh, start: int, claimed: int) -> str | None:
    """The warning for a last record that runs past the end of the file (a capture stopped
    mid-write), or None when the record fits."""
    size = os.fstat(fh.fileno()).st_size
    if start + claimed <= size:
        return None
    return (f"the capture is cut short: its last record (at byte {start}) claims {claimed} bytes and "
            f"the file ends {size - start} bytes later; the frames before it are read")


class _NgReader(RawPcapNgReader):
    """RawPcapNgReader that keeps Decryption Secrets Blocks instead of loading scapy's TLS layer,
    and looks at each block's length before scapy reads the block (scapy reads whatever length
    a block claims, and stops silently at a damaged one)."""

    def __init__(self, filename, fdesc=None, magic=None):  # type: ignore[no-untyped-def]
        self.secrets: list[bytes] = []
        self.cut_short: str | None = None
        super().__init__(filename, fdesc, magic)
        self.blocktypes[10] = self._keep_dsb

    def _read_block(self, size=MTU):  # type: ignore[no-untyped-def]
        start = self.f.tell()
        head = self.f.read(8)
        if len(head) < 8:
            if head:
                self.cut_short = _cut_short(self.f, start, 12)
            raise EOFError
        btype, blen = struct.unpack(self.endian + "II", head)
        if btype != 0x0A0D0D0A:   # a section header's length is in its own byte order: scapy reads it
            if blen < 12 or blen % 4:
                raise ValueError(f"at byte {start}, a block of length {blen} (pcapng blocks are 12 bytes or more, "
                                 "a multiple of 4): the rest of the file is not pcapng blocks")
            if blen > MAX_BLOCK:
                raise ValueError(f"at byte {start}, a block claiming {blen} bytes (the most a pcapng block may "
                                 f"hold is {MAX_BLOCK})")
            self.cut_short = _cut_short(self.f, start, blen)
            if self.cut_short:
                raise EOFError
        self.f.seek(start)
        return super()._read_block(size)

    def _keep_dsb(self, block: bytes, size: int) -> None:
        if len(block) < 8:
            raise EOFError
        stype, slen = struct.unpack(self.endian + "II", block[:8])
        if stype == TLS_KEY_LOG_SECRETS and 8 + slen <= len(block):
            self.secrets.append(block[8:8 + slen])


class _PcapReader(RawPcapReader):
    """RawPcapReader that refuses a record claiming more than MAX_BLOCK bytes (scapy truncates
    it and reads on, into what is then not records) and notes a last record cut short."""

    def __init__(self, filename, fdesc=None, magic=None):  # type: ignore[no-untyped-def]
        self.cut_short: str | None = None
        super().__init__(filename, fdesc, magic)

    def _read_packet(self, size=MTU):  # type: ignore[no-untyped-def]
        start = self.f.tell()
        hdr = self.f.read(16)
        if 0 < len(hdr) < 16:
            self.cut_short = _cut_short(self.f, start, 16)
        if len(hdr) == 16:
            caplen = struct.unpack(self.endian + "I", hdr[8:12])[0]
            if caplen > MAX_BLOCK:
                raise ValueError(f"at byte {start}, a packet record claiming {caplen} bytes (more than "
                                 f"{MAX_BLOCK}): the rest of the file is not packet records")
            self.cut_short = _cut_short(self.f, start, 16 + caplen)
            if self.cut_short:
                raise EOFError
        self.f.seek(start)
        return super()._read_packet(size)


def _iter_raw(reader, ng: bool) -> Iterator[tuple[bytes, float, int, tuple[str, ...]]]:
    while True:
        try:
            rp = reader._read_packet()
        except EOFError:
            return
        if rp is None:
            return
        data, meta = rp
        wirelen = getattr(meta, "wirelen", None)
        if not data and not wirelen:
            # No link layer has empty frames: a file of zeros after a header is not a capture.
            raise ValueError("a packet record of length 0 (the rest of the file is not packets)")
        if ng:
            # A Simple Packet Block has no timestamp (its interface is the first IDB's): time 0.
            ts = 0.0 if meta.tshigh is None else ((meta.tshigh << 32) | meta.tslow) / float(meta.tsresol or 1000000)
            comments = tuple(c.decode("utf-8", "replace") if isinstance(c, bytes) else str(c)
                             for c in (meta.comments or ()))
            yield data, ts, meta.linktype, comments
        else:
            usec = getattr(meta, "usec", 0)
            yield data, meta.sec + usec / (1e9 if reader.nano else 1e6), reader.linktype, ()


@contextlib.contextmanager
def _quiet_scapy() -> Iterator[None]:
    """scapy's readers log warnings of their own; our error says what matters, once."""
    log = logging.getLogger("scapy.runtime")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def read_capture(path: str) -> Capture:
    """All frames of a pcap or pcapng file. Raises ``CaptureError`` with a one-line reason."""
    with CaptureReader(path) as reader:
        frames = list(reader)
        return Capture(frames, reader.secrets, reader.format)


class CaptureReader:
    """The frames of a pcap or pcapng file as a stream, read one block at a time; ``secrets``
    holds the Decryption Secrets Blocks met so far (they come before the packets they serve).
    Errors are ``CaptureError`` with a one-line reason, at open or while iterating."""

    def __init__(self, path: str) -> None:
        self.path, self.count = path, 0
        self._quiet = _quiet_scapy()
        self._quiet.__enter__()
        try:
            self.fh = open(path, "rb")
        except OSError as exc:
            self._quiet.__exit__(None, None, None)
            raise CaptureError(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            magic = self.fh.read(4)
            self.fh.seek(0)
            if magic == _PCAPNG_MAGIC:
                self.fh.read(4)
                self.reader = _NgReader.__new__(_NgReader)  # bypass scapy's file-sniffing metaclass
                self.reader.__init__(path, self.fh, magic)
                self.ng = True
            elif magic in _PCAP_MAGICS:
                self.fh.read(4)
                self.reader = _PcapReader.__new__(_PcapReader)
                self.reader.__init__(path, self.fh, magic)
                self.ng = False
            else:
                raise CaptureError(f"{path} is not a pcap or pcapng capture file")
        except (Scapy_Exception, struct.error, ValueError, OSError) as exc:
            self.close()
            raise CaptureError(f"{path} is a malformed capture file ({exc})") from None
        except CaptureError:
            self.close()
            raise
        self.format = "pcapng" if self.ng else "pcap"

    @property
    def cut_short(self) -> str | None:
        """Set when the file ended inside its last record: the warning to give."""
        return self.reader.cut_short

    @property
    def secrets(self) -> list[bytes]:
        return self.reader.secrets if self.ng else []

    def __iter__(self) -> Iterator[Frame]:
        try:
            for data, ts, lt, comments in _iter_raw(self.reader, self.ng):
                self.count += 1
                yield Frame(self.count, ts, lt, data, comments)
        except OSError as exc:
            raise CaptureError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        except (Scapy_Exception, struct.error, ValueError) as exc:
            raise CaptureError(f"{self.path} is a malformed capture file ({exc})") from None

    def close(self) -> None:
        self.fh.close()
        self._quiet.__exit__(None, None, None)

    def __enter__(self) -> "CaptureReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
