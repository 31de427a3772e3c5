"""Decoding one TLS connection from its two reassembled byte streams.

Fed chunks in capture order, it frames records, decrypts what the keys allow, reassembles
handshake messages across records, dissects each with our layers (telling them the negotiated
version and key exchange), follows key changes (TLS 1.2 ChangeCipherSpec and renegotiation,
TLS 1.3 handshake/application secrets and KeyUpdate) and hands every message to the
client-auth tracker.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from scapy.packet import Packet, Raw

from lab.crypto.record import RecordProtection
from lab.crypto.suites import SuiteParams
from lab.crypto import tls13
from lab.crypto import prf
from lab.crypto.prf import digest
from lab.dissect import describe, serverkeys, sslv2
from lab.engine.state import MALFORMED, suite_params
from lab.dissect.clientauth import ClientAuthTracker
from lab.crypto.derive import session_hash, tls12_master_from_premaster, tls12_protections, tls13_protection
from lab.dissect.keys import KeySource
from lab.dissect.model import DIRECTIONS, ConnectionInfo, MessageInfo, RecordInfo
from lab.engine.recordstream import Problem, Record, RecordStream
from layers.alert import Alert, ApplicationData, ChangeCipherSpec, Heartbeat
from layers.handshake import Hint
from layers.registry import HandshakeType as H, ExtensionType as E
from layers.extensions import extensions_in

CLIENT, SERVER = 0, 1


@dataclass
class HandshakeState:
    """One handshake (the first, or a renegotiation) of a connection."""
    client_random: bytes = b""
    server_random: bytes = b""
    offered_session_id: bytes = b""
    offered_ticket: bytes = b""
    session_id: bytes = b""
    version: int | None = None
    suite_code: int | None = None
    params: SuiteParams | None = None
    ems: bool = False
    etm: bool = False
    offered_ems: bool = False
    offered_etm: bool = False
    resumed: bool = False
    hrr: bool = False
    server_hello_seen: bool = False
    pms: bytes | None = None
    master: bytes | None = None
    ems_hash: bytes | None = None
    transcript: bytearray = field(default_factory=bytearray)
    transcript_gap: bool = False   # a handshake record did not decrypt: the transcript misses its bytes
    protections: tuple[RecordProtection, RecordProtection] | None = None

    @property
    def tls13(self) -> bool:
        return (self.version or 0) >= 0x0304


class ConnectionDecoder:
    # What is kept of application data when ``keep_data`` is off: enough for an HTTP status line
    # and an nginx error page's reason, not the payload.
    DATA_KEPT = 2048

    def __init__(self, info: ConnectionInfo, keys: KeySource, keep_data: bool = True,
                 decrypt_all: bool = True) -> None:
        self.info, self.keys, self.keep_data = info, keys, keep_data
        self.hs = HandshakeState()
        self.streams = (RecordStream(), RecordStream())
        for st in self.streams:   # the first records of each side (an HTTP status, an error page) are read
            st.app_data_budget = None if decrypt_all else 2
        self.traffic_secret: list[bytes | None] = [None, None]
        self.main_done = [False, False]
        self.auth = ClientAuthTracker(info)
        self.sslv2_records = [0, 0]
        self.server_cert: bytes | None = None
        self.sslv2_hit = False
        self.key_trouble: list[str] = []   # why keys the key log has for this connection were not usable

    def _set_cipher(self, d: int, cipher: RecordProtection | None) -> None:
        self.streams[d].cipher = cipher

    # -- records ----------------------------------------------------------------------------
    def feed(self, direction: int, data: bytes, frame: int) -> None:
        who = DIRECTIONS[direction]
        for item in self.streams[direction].feed(data):
            if isinstance(item, Problem):
                self.info.note(f"frame {frame}: {who} sent {item.text}; stopped decoding that direction")
            elif isinstance(item, Record):
                self._record(direction, item, frame)
            elif item.record.sslv2:
                sslv2.message(self, direction, item.record, frame)
            else:
                self._content(direction, item.content_type, item.data, item.encrypted, frame)

    def finish(self) -> None:
        for d, st in enumerate(self.streams):
            if st.pending and not st.dead:
                self.info.note(f"{DIRECTIONS[d]}: capture ends inside a record ({st.pending} bytes left)")
            if st.hs_buf:
                self.info.note(f"{DIRECTIONS[d]}: capture ends inside a handshake message")
        self.auth.finish(self.hs, self.key_trouble[0] if self.key_trouble else None)

    def _trouble(self, text: str) -> None:
        if text not in self.key_trouble:
            self.key_trouble.append(text)

    def _tls13_secret(self, label: str) -> bytes | None:
        """The key log's secret, if it fits this suite (its hash makes 32- or 48-byte secrets)."""
        hs = self.hs
        secret = self.keys.tls13_secret(label, hs.client_random)
        if secret is None:
            for why in self.keys.keylog.rejected_for(hs.client_random):
                self._trouble(f"the key log's line for this connection was not used ({why})")
        if secret is not None and hs.params is not None:
            size = 48 if hs.params.prf_hash == "sha384" else 32
            if len(secret) != size:
                self._trouble(f"the key log's {label} for this connection has {len(secret)} bytes, and "
                              f"{describe.suite_name(hs.suite_code)} makes {size}-byte secrets")
                return None
        return secret

    def _record(self, d: int, rec: Record, frame: int) -> None:
        if rec.sslv2:   # SSLv2 has no content type: its header is a length
            rec.encrypted = sslv2.encrypted(self, d, rec)
            rec.decrypted = False if rec.encrypted else None
        ctype = None if rec.sslv2 else rec.content_type
        wire = rec.wire if self.keep_data or rec.content_type not in (23, 24) else b""
        self.info.records.append(RecordInfo(DIRECTIONS[d], ctype, rec.version, len(rec.fragment), rec.encrypted,
                                            frame, rec.decrypted, rec.inner_type, wire, rec.skipped))
        if rec.skipped:
            self._add(MessageInfo(DIRECTIONS[d], "application_data", None, "application_data", True, frame, None,
                                  b"", {"length": len(rec.fragment), "skipped": True}, decrypted=False))
            return
        if rec.sslv2:
            return   # named as a message from its Unit (``_sslv2``)
        if rec.encrypted and not rec.decrypted:
            if rec.error:
                self.info.note(f"frame {frame}: {DIRECTIONS[d]} record did not decrypt ({rec.error}): "
                               "the key log or server key does not match this connection")
                self._trouble(f"the {DIRECTIONS[d]}'s records do not decrypt with the keys given for this "
                              f"connection (frame {frame}: {rec.error}): they are another connection's, or damaged")
            self._opaque(d, rec.content_type, rec.fragment, frame)

    def _opaque(self, d: int, ctype: int, fragment: bytes, frame: int) -> None:
        """An encrypted record we cannot read: one message, named as Wireshark names it."""
        if ctype == 22 or (self.hs.tls13 and not all(self.main_done)):
            self.hs.transcript_gap = True
        if self.hs.tls13 or ctype == 23:
            kind, name = "application_data", "application_data"
        elif ctype == 22:
            kind, name = "handshake", "encrypted_handshake_message"
        elif ctype == 21:
            kind, name = "alert", "encrypted_alert"
        else:
            kind = name = describe.content_name(ctype)
        self.info.note(f"{DIRECTIONS[d]}: encrypted, " + (self.key_trouble[0] if self.key_trouble else
                                                          "no key for this connection"))
        kept = fragment if self.keep_data or kind != "application_data" else b""
        self._add(MessageInfo(DIRECTIONS[d], kind, None, name, True, frame, None, kept, decrypted=False))

    def _content(self, d: int, ctype: int, data: bytes, encrypted: bool, frame: int) -> None:
        who = DIRECTIONS[d]
        if ctype == 22:
            self._handshake(d, data, encrypted, frame)
        elif ctype == 21:
            for i in range(0, len(data) - 1, 2):
                a = Alert(data[i:i + 2])
                self._add(MessageInfo(who, "alert", a.description, describe.alert_name(a.description),
                                      encrypted, frame, a, data[i:i + 2],
                                      {"level": {1: "warning", 2: "fatal"}.get(a.level, str(a.level)),
                                       "level_code": a.level}))
            if len(data) % 2:
                self.info.note(f"frame {frame}: {who} sent a malformed alert ({len(data)} bytes)")
        elif ctype == 20:
            self._add(MessageInfo(who, "change_cipher_spec", None, "change_cipher_spec", encrypted, frame,
                                  ChangeCipherSpec(data), data))
            if not self.hs.tls13:
                self._activate_tls12(d, frame)
        elif ctype == 23:
            size, data = len(data), data if self.keep_data else data[:self.DATA_KEPT]
            self._add(MessageInfo(who, "application_data", None, "application_data", encrypted, frame,
                                  ApplicationData(data) if self.keep_data else None, data, {"length": size}))
        elif ctype == 24:
            self._add(MessageInfo(who, "heartbeat", data[0] if data else None, "heartbeat", encrypted,
                                  frame, Heartbeat(data), data))
        else:
            self._add(MessageInfo(who, "unknown", ctype, f"content_type_{ctype}", encrypted, frame,
                                  Raw(data), data))

    def _add(self, msg: MessageInfo) -> None:
        self.info.messages.append(msg)

    # -- handshake messages ---------------------------------------------------------------------
    def _hint(self) -> Hint:
        hs = self.hs
        return Hint(hs.version, "tls13" if hs.tls13 else (hs.params.kx if hs.params else None))

    def _handshake(self, d: int, raw: bytes, encrypted: bool, frame: int) -> None:
        t = raw[0]
        hint = self._hint()
        try:
            layer, fields = describe.parse(raw, hint)
        except Exception as exc:  # a forged or broken body; keep the bytes, say so
            layer, fields = None, {}
            self.info.note(f"frame {frame}: malformed {describe.handshake_name(t)} ({type(exc).__name__})")
        body = layer.payload if layer is not None else None
        name = describe.handshake_name(t, layer)
        msg = MessageInfo(DIRECTIONS[d], "handshake", t, name, encrypted, frame, layer, raw, dict(fields))
        self._add(msg)
        try:
            self._interpret(d, t, body, msg, raw, encrypted, frame)
        except MALFORMED as exc:   # a message that parsed but does not hold together (fuzzed, forged)
            self.info.note(f"frame {frame}: could not interpret {name} ({type(exc).__name__}: {str(exc)[:80]})")

    def _interpret(self, d: int, t: int, body: Packet | None, msg: MessageInfo, raw: bytes, encrypted: bool,
                   frame: int) -> None:
        name = msg.name
        if body is None or isinstance(body, Raw) and t not in (H.hello_request, H.server_hello_done,
                                                                 H.end_of_early_data):
            self._plain_transcript(t, raw)
            return
        hs = self.hs
        if t == H.client_hello and d == CLIENT:
            self._client_hello(body, raw, encrypted)
            return
        if t == H.server_hello and d == SERVER:
            self._server_hello(body, raw, name == "hello_retry_request", frame)
            return
        before = bytes(hs.transcript)
        self._plain_transcript(t, raw)
        self.auth.message(d, t, body, msg, hs, before, self.main_done[CLIENT])
        if t == H.client_key_exchange and d == CLIENT:
            self._client_key_exchange(body)
        elif t == H.finished and hs.tls13:
            self._tls13_finished(d)
        elif t == H.key_update and hs.tls13 and self.traffic_secret[d] and hs.params:
            self.traffic_secret[d] = tls13.next_traffic_secret(hs.params.prf_hash, self.traffic_secret[d])
            self._set_cipher(d, tls13_protection(hs.params, self.traffic_secret[d]))
        elif t == H.certificate and d == SERVER and getattr(body, "certificate_list", None):
            self.server_cert = bytes(body.certificate_list[0].cert_data)
        elif t == H.server_key_exchange and d == SERVER:
            ok = serverkeys.check(self.server_cert, hs.client_random, hs.server_random, body)
            if ok is not None:
                self.info.ske_verified = ok
            if ok is False:
                self.info.note(f"frame {frame}: the ServerKeyExchange signature does not verify with the "
                               "server certificate's key")
        elif t == H.finished and not hs.tls13:
            self._check_finished(d, body, before, frame)
            if d == SERVER:
                self._remember_session()
        elif t == H.new_session_ticket and not hs.tls13 and hs.master is not None:
            self.keys.sessions.setdefault(bytes(getattr(body, "ticket", b"")), hs.master)

    def _check_finished(self, d: int, body: Packet, before: bytes, frame: int) -> None:
        """SSL 3.0-TLS 1.2: the Finished recomputed from the master secret (RFC 5246 7.4.9, RFC 6101
        5.6.9); a mismatch means a wrong key or a broken peer, never a silent pass."""
        hs, who = self.hs, DIRECTIONS[d]
        if hs.master is None or hs.params is None or hs.version is None:
            return
        label = b"client finished" if d == CLIENT else b"server finished"
        expected = prf.finished_verify_data(hs.version, hs.params.prf_hash, hs.master, label, before)
        ok = bytes(getattr(body, "verify_data", b"")) == expected
        self.info.finished_verified[who] = ok
        if not ok:
            self.info.note(f"frame {frame}: the {who}'s Finished does not verify under this master secret")

    def _plain_transcript(self, t: int, raw: bytes) -> None:
        """HelloRequest and KeyUpdate never count; a TLS 1.2 NewSessionTicket does (RFC 5077 3.3)."""
        if t not in (H.hello_request, H.key_update) and not (t == H.new_session_ticket and self.hs.tls13):
            self.hs.transcript += raw

    def _client_hello(self, body: Packet, raw: bytes, encrypted: bool) -> None:
        prev = self.hs
        if prev.hrr and not prev.server_hello_seen:
            prev.transcript += raw  # ClientHello2 after a HelloRetryRequest
            prev.client_random = bytes(body.random)
            return
        if prev.client_random or encrypted:
            self.info.handshakes += 1
        else:
            self.info.handshakes = 1
        hs = self.hs = HandshakeState(client_random=bytes(body.random),
                                      offered_session_id=bytes(body.legacy_session_id))
        self.info.client_random = self.info.client_random or hs.client_random
        hs.transcript += raw
        for ext in extensions_in(body):
            t = ext.extension_type
            if t == E.extended_master_secret:
                hs.offered_ems = True
            elif t == E.encrypt_then_mac:
                hs.offered_etm = True
            elif t == E.session_ticket:
                hs.offered_ticket = bytes(getattr(ext.payload, "ticket", b""))
            elif t == E.server_name and self.info.sni is None:
                names = getattr(ext.payload, "server_name_list", [])
                if names:
                    self.info.sni = bytes(names[0].host_name).decode("ascii", "replace")
        self.auth.client_hello(body, encrypted)

    def _server_hello(self, body: Packet, raw: bytes, is_hrr: bool, frame: int) -> None:
        hs = self.hs
        version = body.legacy_version
        ext_types = set()
        for ext in extensions_in(body):
            ext_types.add(ext.extension_type)
            if ext.extension_type == E.supported_versions and hasattr(ext.payload, "selected_version"):
                version = ext.payload.selected_version
        hs.version, hs.suite_code = version, body.cipher_suite
        hs.params = suite_params(body.cipher_suite)
        self.info.version, self.info.cipher_suite = version, body.cipher_suite
        if is_hrr:
            hs.hrr = True
            if hs.params:  # RFC 8446 4.4.1: ClientHello1 becomes message_hash
                h = digest(hs.params.prf_hash, bytes(hs.transcript))
                hs.transcript = bytearray(bytes([254, 0, 0, len(h)]) + h)
            hs.transcript += raw
            return
        hs.server_hello_seen = True
        hs.server_random = bytes(body.random)
        hs.session_id = bytes(body.legacy_session_id)
        hs.transcript += raw
        hs.ems = hs.offered_ems and E.extended_master_secret in ext_types
        hs.etm = hs.offered_etm and E.encrypt_then_mac in ext_types
        if hs.params is None:
            self.info.note(f"frame {frame}: cipher suite {describe.suite_name(body.cipher_suite)} is not one "
                           "certlab can read the parameters of")
        elif hs.params.missing:
            self.info.note(f"frame {frame}: cannot decrypt {describe.suite_name(body.cipher_suite)}: it needs "
                           f"{hs.params.missing}, which the cryptography library does not provide")
        if hs.tls13:
            for st in self.streams:
                st.protected = st.tls13 = True
            self._tls13_keys("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET")
        else:
            hs.resumed = bool(hs.session_id) and hs.session_id == hs.offered_session_id

    def _tls13_keys(self, client_label: str, server_label: str) -> None:
        hs = self.hs
        for d, label in ((CLIENT, client_label), (SERVER, server_label)):
            secret = self._tls13_secret(label) if client_label else None
            if secret is None or hs.params is None:
                self._set_cipher(d, None)
                continue
            self.traffic_secret[d] = secret
            self._set_cipher(d, tls13_protection(hs.params, secret))

    def _tls13_finished(self, d: int) -> None:
        if self.main_done[d]:
            return  # a post-handshake authentication Finished changes no keys
        self.main_done[d] = True
        label = "CLIENT_TRAFFIC_SECRET_0" if d == CLIENT else "SERVER_TRAFFIC_SECRET_0"
        secret = self._tls13_secret(label)
        if secret is None or self.hs.params is None:
            self._set_cipher(d, None)
            return
        self.traffic_secret[d] = secret
        self._set_cipher(d, tls13_protection(self.hs.params, secret))

    def _client_key_exchange(self, body: Packet) -> None:
        hs = self.hs
        enc = getattr(body, "encrypted_pre_master_secret", None)
        if enc is not None:
            hs.pms = self.keys.premaster(bytes(enc))
        if hs.ems and hs.params and hs.version:
            hs.ems_hash = session_hash(hs.version, hs.params, bytes(hs.transcript))

    def _activate_tls12(self, d: int, frame: int) -> None:
        hs = self.hs
        self.streams[d].protected = True
        if hs.protections is None and hs.params is not None and not hs.params.missing and hs.version:
            master = self.keys.master(hs.client_random, [hs.session_id, hs.offered_ticket])
            if master is None and hs.pms is not None:
                master = tls12_master_from_premaster(hs.version, hs.params, hs.pms, hs.client_random,
                                                     hs.server_random, hs.ems_hash if hs.ems else None)
            hs.master = master
            if master is not None:
                hs.protections = tls12_protections(hs.version, hs.params, master, hs.client_random,
                                                   hs.server_random, hs.etm and not hs.params.aead)
        self._set_cipher(d, hs.protections[d] if hs.protections else None)

    def _remember_session(self) -> None:
        hs = self.hs
        if hs.master is not None and hs.session_id:
            self.keys.sessions.setdefault(hs.session_id, hs.master)
