"""The engine as a TLS client, sans-IO: builds every message from the live state (so a
scenario can replace, mutate, omit or reorder any of them), frames and protects what it is
given, and turns received bytes into events while following the server's key changes and
checking the server's signature and Finished.

Nothing here enforces the protocol's order: the engine is lenient by design so that a
server's reaction to a broken flow can be observed. ``lab.script.flows`` knows the order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from scapy.packet import Packet

from lab.crypto import x509view
from lab.crypto import kx, tls13
from lab.crypto.asym import cv13_content, sign, verify
from lab.crypto.derive import tls13_protection
from lab.engine.endpoint import Endpoint
from lab.engine.state import EngineError, HandshakeKeys
from lab.engine.schemes import choose_scheme
from layers.certificate import (ASN1Cert, Certificate12, Certificate13, CertificateEntry, CertificateVerify,
                                CertificateVerifyLegacy)
from layers.extensions import (ALPN, ECPointFormats, ExtensionCH, KeyShareCH, KeyShareEntry, PskKeyExchangeModes,
                               ProtocolName, RenegotiationInfo, ServerName, ServerNameList, SessionTicketExt, SignatureAlgorithms,
                               SupportedGroups, SupportedVersionsCH, Cookie)
from layers.finished import Finished
from layers.handshake import Handshake
from layers.hello import ClientHello
from layers.keyexchange import ClientKeyExchangeDH, ClientKeyExchangeECDH, ClientKeyExchangeRSA
from layers.registry import ExtensionType as E, HandshakeType as H
from layers.extensions import extensions_in

SUITES_13 = (0x1301, 0x1302, 0x1303)
SUITES_12 = (0xC02F, 0xC02B, 0xC030, 0xC02C, 0xCCA8, 0xCCA9, 0x009E, 0x009F, 0x009C, 0x009D)
SUITES_10 = (0xC013, 0xC014, 0xC009, 0xC00A, 0x0033, 0x0039, 0x002F, 0x0035)   # TLS 1.0/1.1: CBC only
VERSIONS = {"1.0": 0x0301, "1.1": 0x0302, "1.2": 0x0303, "1.3": 0x0304}
SCHEMES = (0x0403, 0x0503, 0x0603, 0x0807, 0x0804, 0x0805, 0x0806, 0x0809, 0x080A, 0x080B,
           0x0401, 0x0501, 0x0601)


@dataclass(frozen=True)
class Session:
    """What a TLS 1.2 client keeps to resume (RFC 5246 section 7.3, abbreviated handshake)."""
    session_id: bytes
    master: bytes
    suite: int
    version: int
    ems: bool
    ticket: bytes = b""       # RFC 5077 session ticket, when the server issued one


@dataclass
class ClientConfig:
    version: str = "1.3"
    cipher_suites: tuple[int, ...] = ()
    groups: tuple[int, ...] = (29, 23, 24)
    key_share_groups: tuple[int, ...] = (29,)
    signature_algorithms: tuple[int, ...] = SCHEMES
    server_name: str | None = "localhost"
    alpn: tuple[str, ...] = ()        # application protocols offered (RFC 7301), e.g. ("postgresql",)
    offer_pha: bool = False
    ems: bool = True
    session: Session | None = None    # offer to resume this TLS 1.2 session
    chain: tuple[bytes, ...] = ()     # DER certificates, leaf first
    key: object = None                # the leaf's private key

    @property
    def suites(self) -> tuple[int, ...]:
        return self.cipher_suites or {"1.3": SUITES_13, "1.2": SUITES_12}.get(self.version, SUITES_10)

    @property
    def wire_version(self) -> int:
        return VERSIONS[self.version]


@dataclass
class ClientEngine(Endpoint):
    config: ClientConfig
    shares: dict = field(default_factory=dict)
    server_chain: list[bytes] = field(default_factory=list)
    server_key: object = None
    ske: Packet | None = None
    hrr: Packet | None = None
    handshakes: int = 0
    server_finished: bool = False
    owe_key_update: bool = False
    # RFC 8446 4.6.3: after our update_requested the server MUST send a KeyUpdate before its next
    # application data. None: never asked; "pending"; "answered"; "data first" (it did not)
    key_update_answer: str | None = None
    resumed: bool = False
    keylog_all: list[str] = field(default_factory=list)
    _premaster: bytes | None = None
    _last_ch: Packet | None = None
    _leaf: bytes | None = None
    _ticket: bytes = b""
    _ticket_sid: bytes = b""

    def __post_init__(self) -> None:
        if self.config.wire_version < 0x0303:
            self.record_version = 0x0301

    # -- building --------------------------------------------------------------------------------
    def client_hello(self, **fields) -> Packet:
        """A ClientHello from the configuration (a second one after a HelloRetryRequest answers it)."""
        cfg, renegotiating = self.config, self.handshakes > 0 and not self.tls13
        if self.hrr is None or renegotiating:
            self.k = HandshakeKeys(version=cfg.wire_version, client_random=self.rng(32),
                                   keylog=self.k.keylog)
            self.shares = {}
        groups = cfg.key_share_groups
        if self.hrr is not None:
            sel = [e.payload for e in extensions_in(self.hrr.payload) if e.extension_type == E.key_share]
            groups = (sel[0].selected_group,) if sel else groups
        exts = []
        if cfg.server_name:
            name = ServerName(host_name=cfg.server_name.encode())
            exts.append(ExtensionCH() / ServerNameList(server_name_list=[name]))
        if cfg.alpn:
            exts.append(ExtensionCH() / ALPN(protocol_name_list=[ProtocolName(protocol_name=p.encode())
                                                                  for p in cfg.alpn]))
        exts += [ExtensionCH() / SupportedGroups(named_group_list=list(cfg.groups)),
                 ExtensionCH() / ECPointFormats()]
        if cfg.wire_version >= 0x0303:  # RFC 5246 7.4.1.4.1: not offered before TLS 1.2
            schemes = list(cfg.signature_algorithms)
            exts.append(ExtensionCH() / SignatureAlgorithms(supported_signature_algorithms=schemes))
        if cfg.ems:
            exts.append(ExtensionCH(extension_type=E.extended_master_secret))
        exts.append(ExtensionCH() / RenegotiationInfo(renegotiated_connection=self.client_verify_data))
        if not self.tls13 and not renegotiating:
            ticket = cfg.session.ticket if cfg.session else b""
            exts.append(ExtensionCH() / SessionTicketExt(ticket=ticket))
        if self.tls13:
            exts.append(ExtensionCH() / SupportedVersionsCH(versions=[0x0304]))
            exts.append(ExtensionCH() / PskKeyExchangeModes(ke_modes=[1]))
            for g in groups:
                self.shares.setdefault(g, kx.generate_share(g))
            exts.append(ExtensionCH() / KeyShareCH(client_shares=[
                KeyShareEntry(group=g, key_exchange=self.shares[g].public) for g in groups]))
            if self.hrr is not None:
                cookie = [e.payload for e in extensions_in(self.hrr.payload) if e.extension_type == E.cookie]
                if cookie:
                    exts.append(ExtensionCH() / Cookie(cookie=cookie[0].cookie))
            if cfg.offer_pha:
                exts.append(ExtensionCH(extension_type=E.post_handshake_auth))
        sid = self._last_ch.payload.legacy_session_id if (self._last_ch and self.hrr is not None) else \
            (self.rng(32) if self.tls13 else self._offered_session_id(renegotiating))
        body = ClientHello(legacy_version=min(cfg.wire_version, 0x0303), random=self.k.client_random,
                           legacy_session_id=sid,
                           cipher_suites=list(cfg.suites), extensions=exts)
        for name, value in fields.items():
            setattr(body, name, value)
        self._last_ch = Handshake() / body
        return self._last_ch

    def _offered_session_id(self, renegotiating: bool) -> bytes:
        """TLS 1.2: the session's id, or with a ticket a fresh random id the server echoes when it
        resumes (RFC 5077 section 3.4)."""
        sess = self.config.session
        if sess is None or renegotiating:
            return b""
        if sess.ticket:
            self._ticket_sid = self.rng(32)
            return self._ticket_sid
        return sess.session_id

    def certificate(self, chain: list[bytes] | None = None, context: bytes | None = None) -> Packet:
        chain = list(self.config.chain if chain is None else chain)
        self._leaf = chain[0] if chain else None
        if self.tls13:
            ctx = context if context is not None else bytes(getattr(self.cert_request.payload,
                                                                    "certificate_request_context", b"")
                                                            if self.cert_request is not None else b"")
            return Handshake() / Certificate13(certificate_request_context=ctx,
                                               certificate_list=[CertificateEntry(cert_data=c) for c in chain])
        return Handshake() / Certificate12(certificate_list=[ASN1Cert(cert_data=c) for c in chain])

    def client_key_exchange(self) -> Packet:
        """The key exchange for the negotiated suite; the master secret follows once it is sent."""
        params = self.k.params
        if params is None:
            raise EngineError("ClientKeyExchange before a ServerHello")
        if params.kx == "rsa":
            self._premaster = b"\x03\x03" + self.rng(46)
            return Handshake() / ClientKeyExchangeRSA(
                encrypted_pre_master_secret=kx.rsa_encrypt_premaster(self.server_key, self._premaster))
        if self.ske is None:
            raise EngineError("no ServerKeyExchange to answer")
        ske = self.ske.payload
        if params.kx == "ecdhe":
            share = kx.generate_share(ske.named_curve)
            self._premaster = share.shared_secret(bytes(ske.point))
            return Handshake() / ClientKeyExchangeECDH(ecdh_Yc=share.public)
        yc, self._premaster = kx.dhe_client(bytes(ske.dh_p), bytes(ske.dh_g), bytes(ske.dh_Ys))
        return Handshake() / ClientKeyExchangeDH(dh_Yc=yc)

    def signed_content(self) -> bytes:
        """What a client CertificateVerify sent now must sign."""
        if self.tls13:
            return cv13_content(self.k.transcript_hash(), server=False)
        return bytes(self.k.transcript)

    def certificate_verify(self, key=None, scheme: int | None = None, signature: bytes | None = None,
                           content: bytes | None = None) -> Packet:
        key = key if key is not None else self.config.key
        legacy = self.k.version < 0x0303  # SSLv3-TLS 1.1: no SignatureAndHashAlgorithm
        if scheme is None and not legacy:
            pss = self._leaf is not None and x509view.is_rsassa_pss(self._leaf)
            scheme = choose_scheme(key, self._requested_schemes(), self.tls13, pss)
        if signature is None:
            signature = sign(scheme, key, content if content is not None else self.signed_content())
        if scheme is None and legacy:
            return Handshake() / CertificateVerifyLegacy(signature=signature)
        return Handshake() / CertificateVerify(algorithm=scheme, signature=signature)

    def _requested_schemes(self) -> list[int]:
        cr = self.cert_request.payload if self.cert_request is not None else None
        if cr is None:
            return list(self.config.signature_algorithms)
        if hasattr(cr, "supported_signature_algorithms"):
            return list(cr.supported_signature_algorithms)
        for e in getattr(cr, "extensions", []):
            if e.extension_type == E.signature_algorithms:
                return list(e.payload.supported_signature_algorithms)
        return list(self.config.signature_algorithms)

    def finished(self, verify_data: bytes | None = None) -> Packet:
        if verify_data is None:
            if self.tls13:
                verify_data = self.k.finished13(self.k.c_ap if self.main_done else self.k.c_hs)
            else:
                verify_data = self.k.finished12(b"client finished")
        return Handshake() / Finished(verify_data=verify_data)

    # -- our messages entering the transcript (WRITERS) -------------------------------------------
    def _client_hello_sent(self, raw: bytes) -> None:
        self.handshakes += 1
        if not (self.tls13 and self.hrr is not None):  # after a HelloRetryRequest the transcript goes on
            self.k.transcript = bytearray()

    def _key_update_sent(self, raw: bytes) -> None:
        if raw[4:5] == b"\x01" and self.key_update_answer != "data first":
            self.key_update_answer = "pending"
        self.k.c_ap = tls13.next_traffic_secret(self.k.hash_name, self.k.c_ap)
        self._next_out = tls13_protection(self.k.params, self.k.c_ap)

    def _client_key_exchange_sent(self, raw: bytes) -> None:
        if self._premaster is not None:
            self.k.tls12_master(self._premaster)
            self._pending = self.k.tls12_protections()

    def _finished_sent(self, raw: bytes) -> None:
        if self.tls13 and not self.main_done:
            self.main_done = True
            self.k.main_transcript = bytes(self.k.transcript)
            self._next_out = tls13_protection(self.k.params, self.k.c_ap)
        elif not self.tls13:
            self.client_verify_data = raw[4:]

    # -- the server's messages (READERS) -----------------------------------------------------------
    def _negotiate(self, msg: Packet, body: Packet, raw: bytes) -> None:
        """Before the ServerHello enters the transcript: the version and suite it chose, and for a
        HelloRetryRequest the transcript's first ClientHello replaced by its hash (RFC 8446 4.4.1)."""
        if getattr(body, "is_hello_retry_request", False):
            self.hrr = msg
            self.k.negotiate(0x0304, body.cipher_suite)
            self.k.hello_retry()
            return
        version = body.legacy_version
        for e in extensions_in(body):
            if e.extension_type == E.supported_versions:
                version = e.payload.selected_version
        self.k.negotiate(version, body.cipher_suite)

    def _new_session_ticket(self, msg: Packet, body: Packet, raw: bytes) -> None:
        if not self.tls13:
            self._ticket = bytes(getattr(body, "ticket", b""))

    def _key_update(self, msg: Packet, body: Packet, raw: bytes) -> None:
        k = self.k
        k.s_ap = tls13.next_traffic_secret(k.hash_name, k.s_ap)
        self.inbound.cipher = tls13_protection(k.params, k.s_ap)
        self.owe_key_update = self.owe_key_update or body.request_update == 1
        if self.key_update_answer == "pending":
            self.key_update_answer = "answered"

    def application_data_received(self) -> None:
        """The server's application data, in the order it came (RFC 8446 4.6.3's check)."""
        if self.key_update_answer == "pending":
            self.key_update_answer = "data first"
            self.notes.append("the server sent application data before the KeyUpdate our update_requested "
                              "asks for (RFC 8446 4.6.3: MUST)")

    def _rewind_for_post_handshake(self, msg: Packet, body: Packet, raw: bytes) -> None:
        """RFC 8446 4.6.2: a post-handshake request's transcript is the handshake's, then it."""
        if self.tls13 and self.main_done:
            self.k.transcript = bytearray(self.k.main_transcript)

    def _certificate_request(self, msg: Packet, body: Packet, raw: bytes) -> None:
        self.cert_request = msg

    def _check_server_finished(self, msg: Packet, body: Packet, raw: bytes) -> None:
        k = self.k
        expected = k.finished13(k.s_hs) if self.tls13 else k.finished12(b"server finished")
        if bytes(body.verify_data) != expected:
            self.notes.append("the server's Finished does not verify")

    def _server_finished(self, msg: Packet, body: Packet, raw: bytes) -> None:
        k = self.k
        self.server_finished = True
        if self.tls13:
            k.tls13_application_secrets()
            self.inbound.cipher = tls13_protection(k.params, k.s_ap)
        else:
            self.server_verify_data = bytes(body.verify_data)

    def _check_certificate_verify(self, msg: Packet, body: Packet, raw: bytes) -> None:
        self._check_server_signature(body, cv13_content(self.k.transcript_hash(), server=True))

    def _server_certificate(self, msg: Packet, body: Packet, raw: bytes) -> None:
        self.server_chain = [bytes(e.cert_data) for e in body.certificate_list]
        if self.server_chain:
            self.server_key = x509view.certificate(self.server_chain[0]).public_key()

    def _server_key_exchange(self, msg: Packet, body: Packet, raw: bytes) -> None:
        k = self.k
        self.ske = msg
        params = bytes(body)[:len(bytes(body)) - 2 - len(body.signature) - (2 if hasattr(body, "algorithm") else 0)]
        self._check_server_signature(body, k.client_random + k.server_random + params)

    def _server_hello(self, msg: Packet, body: Packet, raw: bytes) -> None:
        if self.hrr is msg:
            return
        k = self.k
        share = None
        for e in extensions_in(body):
            if e.extension_type == E.key_share:
                share = e.payload.server_share
        version = k.version
        if version < 0x0303:
            self.record_version = version  # TLS 1.0/1.1 records carry the negotiated version
        k.server_random = bytes(body.random)
        if version >= 0x0304:
            if share is None or share.group not in self.shares:
                raise EngineError("the server's key_share names a group we did not offer")
            client, server = k.tls13_handshake_keys(self.shares[share.group].shared_secret(bytes(share.key_exchange)))
            self.out_cipher = client
            self.inbound.protected = self.inbound.tls13 = True
            self.inbound.cipher = server
        else:
            k.ems = self.config.ems and any(e.extension_type == E.extended_master_secret for e in extensions_in(body))
            k.session_id = bytes(body.legacy_session_id)
            sess = self.config.session
            offered = self._ticket_sid if sess is not None and sess.ticket else (sess.session_id if sess else b"")
            if sess is not None and self.handshakes == 1 and k.session_id and k.session_id == offered:
                # Abbreviated handshake: the master secret of the resumed session, new randoms.
                self.resumed = True
                k.master, k.ems = sess.master, sess.ems
                k.keylog.append(f"CLIENT_RANDOM {k.client_random.hex()} {sess.master.hex()}")
                self._pending = k.tls12_protections()

    def session(self) -> Session | None:
        """The TLS 1.2 session to resume later, once the handshake completed."""
        k = self.k
        if self.tls13 or k.master is None or k.suite_code is None or not (k.session_id or self._ticket):
            return None
        return Session(k.session_id, k.master, k.suite_code, k.version, k.ems, self._ticket)

    def _check_server_signature(self, body: Packet, content: bytes) -> None:
        if self.server_key is None:
            self.notes.append("the server signed without sending a certificate")
            return
        try:
            verify(getattr(body, "algorithm", None), self.server_key, bytes(body.signature), content)
        except (InvalidSignature, ValueError, TypeError):
            self.notes.append(f"the server's {body.name} signature does not verify")

    WRITERS = {H.client_hello: (_client_hello_sent, None), H.key_update: (None, _key_update_sent),
               H.client_key_exchange: (None, _client_key_exchange_sent), H.finished: (None, _finished_sent)}
    READERS = {H.server_hello: (_negotiate, _server_hello), H.new_session_ticket: (None, _new_session_ticket),
               H.key_update: (None, _key_update),
               H.certificate_request: (_rewind_for_post_handshake, _certificate_request),
               H.finished: (_check_server_finished, _server_finished),
               H.certificate_verify: (_check_certificate_verify, None), H.certificate: (None, _server_certificate),
               H.server_key_exchange: (None, _server_key_exchange)}
