"""One direction of a TLS connection, sans-IO: bytes in, records and messages out.

Frames records (and an SSLv2 CLIENT-HELLO at the start), removes record protection with
whatever ``cipher`` holds at that moment, and reassembles handshake messages across records.
``feed()`` is a generator: the caller may change ``cipher``/``protected`` between the items it
yields, so a key change takes effect from the next record (as in RFC 8446 section 5.1 and at a
TLS 1.2 ChangeCipherSpec). Used by the dissector and by the engine alike.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lab.crypto.record import RecordDecryptError, RecordProtection

MAX_RECORD = (1 << 14) + 2048 + 256  # RFC 5246 6.2.3 ciphertext limit, with slack for forgeries


@dataclass
class Record:
    content_type: int       # on the wire
    version: int
    fragment: bytes
    wire: bytes
    encrypted: bool         # protected on the wire
    decrypted: bool | None = None
    inner_type: int | None = None
    error: str | None = None
    sslv2: bool = False
    skipped: bool = False   # application data passed over undecrypted (the reading did not need it)


@dataclass
class Unit:
    """Content of one record, or one reassembled handshake message."""
    content_type: int       # the real (inner) type
    data: bytes
    encrypted: bool
    record: Record


@dataclass
class Problem:
    """Something that stops or damages the stream (non-TLS bytes, an oversized record...)."""
    text: str


class RecordStream:
    def __init__(self, tls13: bool = False) -> None:
        self.buf = bytearray()
        self.hs_buf = bytearray()
        self.hs_encrypted = False
        self.cipher: RecordProtection | None = None
        self.protected = False     # records from this side are protected (even if we lack the key)
        self.tls13 = tls13         # TLS 1.3: only outer type 23 is protected
        self.dead = False
        self.first = True
        self.sslv2 = False         # every record is SSLv2-framed (the server answered in SSLv2)
        # TLS 1.0-1.2 application data after this many records is passed over, not decrypted
        # (None: decrypt all). Handshake records (renegotiation) are always decrypted; TLS 1.3
        # hides post-handshake messages in application-data records, so it decrypts them all.
        self.app_data_budget: int | None = None

    def feed(self, data: bytes) -> Iterator[Record | Unit | Problem]:
        """Yield each complete record, then its units, as they become available."""
        if self.dead:
            return
        self.buf += data
        while len(self.buf) >= 5 or ((self.first or self.sslv2) and len(self.buf) >= 3):
            buf = self.buf
            if self.sslv2:
                rec = self._sslv2_record()
                if rec is None:
                    return
                yield rec
                yield Unit(22, rec.fragment, False, rec)
            elif 20 <= buf[0] <= 24 and buf[1] in (3, 0x7F) and len(buf) >= 5:
                n = int.from_bytes(buf[3:5], "big")
                if n > MAX_RECORD:
                    yield self._stop(f"record length {n} exceeds the TLS maximum")
                    return
                if len(buf) < 5 + n:
                    return
                wire = bytes(buf[:5 + n])
                del buf[:5 + n]
                self.first = False
                yield from self._record(wire)
            elif self.first and buf[0] & 0x80 and buf[2] in (1, 4):
                # An SSLv2 CLIENT-HELLO (which may start TLS), or an SSLv2 SERVER-HELLO: from then
                # on the whole conversation is SSLv2.
                self.sslv2 = buf[2] == 4
                rec = self._sslv2_record()
                if rec is None:
                    return
                self.first = False
                yield rec
                yield Unit(22, rec.fragment, False, rec)
            elif len(buf) >= 5 or not (20 <= buf[0] <= 24):
                yield self._stop("data that is not a TLS record")
                return
            else:
                return

    def _sslv2_record(self) -> Record | None:
        """One SSLv2 record: a two-byte header (high bit set, 15-bit length) or a three-byte one
        (14-bit length, then the padding length), as draft-hickman-netscape-ssl-00 section 1.2."""
        buf = self.buf
        if buf[0] & 0x80:
            head, n = 2, (buf[0] & 0x7F) << 8 | buf[1]
        else:
            head, n = 3, (buf[0] & 0x3F) << 8 | buf[1]
        if len(buf) < head + n:
            return None
        wire = bytes(buf[:head + n])
        del buf[:head + n]
        return Record(0, 0x0002, wire[head:], wire, False, sslv2=True)

    def _stop(self, why: str) -> Problem:
        self.dead = True
        self.buf.clear()
        return Problem(why)

    def _record(self, wire: bytes) -> Iterator[Record | Unit]:
        ctype, version, fragment = wire[0], int.from_bytes(wire[1:3], "big"), wire[5:]
        protected = self.protected and (not self.tls13 or ctype == 23)
        rec = Record(ctype, version, fragment, wire, protected)
        if not protected:
            yield rec
            yield from self._units(ctype, fragment, False, rec)
            return
        if self.cipher is None:
            rec.decrypted = False
            yield rec
            return
        if ctype == 23 and not self.tls13 and self.app_data_budget is not None:
            if self.app_data_budget <= 0:
                self.cipher.skip(fragment)
                rec.decrypted, rec.skipped = False, True
                yield rec
                return
            self.app_data_budget -= 1
        try:
            inner, plain = self.cipher.decrypt(ctype, version, fragment)
        except RecordDecryptError as exc:
            rec.decrypted, rec.error = False, str(exc)
            self.cipher = None
            yield rec
            return
        rec.decrypted, rec.inner_type = True, inner
        yield rec
        yield from self._units(inner, plain, True, rec)

    def _units(self, ctype: int, data: bytes, encrypted: bool, rec: Record) -> Iterator[Unit]:
        if ctype != 22:
            yield Unit(ctype, data, encrypted, rec)
            return
        self.hs_buf += data
        self.hs_encrypted = encrypted
        while len(self.hs_buf) >= 4:
            n = int.from_bytes(self.hs_buf[1:4], "big")
            if len(self.hs_buf) < 4 + n:
                return
            msg = bytes(self.hs_buf[:4 + n])
            del self.hs_buf[:4 + n]
            yield Unit(22, msg, encrypted, rec)

    @property
    def pending(self) -> int:
        """Bytes waiting for the rest of a record."""
        return len(self.buf)
