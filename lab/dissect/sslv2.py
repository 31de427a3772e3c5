"""SSLv2 in the dissector (draft-hickman-netscape-ssl-00): which records are encrypted, and the
messages of the plaintext ones (CLIENT-HELLO, SERVER-HELLO, CLIENT-MASTER-KEY). Functions of the
connection decoder (``self``), kept apart so the decoder stays about TLS."""
from __future__ import annotations

from lab.dissect import describe
from lab.dissect.model import DIRECTIONS, MessageInfo
from lab.engine.recordstream import Record
from layers.record import SSLv2Record

CLIENT, SERVER = 0, 1


def encrypted(self, d: int, rec: Record) -> bool:
    """SSLv2 encrypts every record after the hellos and CLIENT-MASTER-KEY (none after a
    session-id hit): which are those, counted per direction."""
    n = self.sslv2_records[d] = self.sslv2_records[d] + 1
    if d == SERVER:
        if n == 1 and rec.fragment[:1] == b"\x04":
            self.sslv2_hit = len(rec.fragment) > 1 and rec.fragment[1] != 0
            return False
        return True
    if n == 1:
        return False
    return not (n == 2 and not self.sslv2_hit and rec.fragment[:1] == b"\x02")

def message(self, direction: int, rec: Record, frame: int) -> None:
    who, f = DIRECTIONS[direction], rec.fragment
    if rec.encrypted:
        self.info.note("SSLv2 encrypts everything after its hellos: certlab, like Wireshark, does not decrypt "
                       "SSLv2")
        self._add(MessageInfo(who, "handshake", None, "encrypted_data", True, frame, None, f, {"sslv2": True},
                              decrypted=False))
        return
    if f[:1] == b"\x04":
        self.info.version = 0x0002
        self.streams[CLIENT].sslv2 = True   # the client's next records are SSLv2 too
        self._add(MessageInfo(who, "handshake", 4, "server_hello", False, frame, None, f,
                              {"sslv2": True, **describe.sslv2_server_hello(f)}))
        return
    if f[:1] == b"\x02":
        self._add(MessageInfo(who, "handshake", 2, "client_master_key", False, frame, None, f,
                              {"sslv2": True, "cipher_spec": f[1:4].hex()}))
        return
    pkt = SSLv2Record(rec.wire)
    self._add(MessageInfo(who, "handshake", 1, "client_hello", False, frame, pkt, f, {"sslv2": True}))
    challenge = bytes(getattr(pkt.payload, "challenge", b""))
    self.hs = type(self.hs)(client_random=challenge.rjust(32, b"\x00")[-32:])
