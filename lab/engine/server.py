"""The engine as a TLS server, sans-IO: answers a real client's ClientHello with
messages built from the live state, sends the CertificateRequest exactly as a scenario says,
and records what the client did (its chain, an empty Certificate, the CertificateVerify scheme
and whether the signature verifies, its Finished)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from scapy.packet import Packet

from lab.crypto import x509view
from lab.crypto import kx
from lab.crypto.asym import cv13_content, decrypt_premaster, sign, verify
from lab.crypto.derive import tls13_protection
from lab.crypto import tls13
from lab.engine.endpoint import Endpoint
from lab.engine.schemes import choose_scheme
from lab.engine.state import EngineError, suite_params
from layers.certificate import (ASN1Cert, Certificate12, Certificate13, CertificateEntry, CertificateRequest12,
                                CertificateRequest13, CertificateVerify)
from layers.extensions import (extensions_in, CertificateAuthorities, DistinguishedName, ExtensionCR, ExtensionHRR,
                               ExtensionSH, KeyShareEntry, KeyShareHRR, KeyShareSH, RenegotiationInfo, SelectedPsk,
                               SignatureAlgorithms, SupportedVersionsSH)
from layers.finished import EncryptedExtensions, Finished, HelloRequest, ServerHelloDone
from layers.handshake import Handshake
from layers.hello import HelloRetryRequest, ServerHello
from layers.keyexchange import ServerKeyExchangeAnonDH, ServerKeyExchangeDHE, ServerKeyExchangeECDHE
from layers.registry import ExtensionType as E, HandshakeType as H

SERVER_SUITES_13 = (0x1301, 0x1302, 0x1303)
SERVER_SUITES_12 = (0xC02F, 0xC030, 0xC02B, 0xC02C, 0xCCA8, 0xCCA9, 0x009E, 0x009F, 0x009C, 0x009D)
CR_SCHEMES = (0x0804, 0x0805, 0x0806, 0x0403, 0x0503, 0x0807, 0x0809, 0x0401, 0x0501)


@dataclass
class ServerConfig:
    version: str = "1.3"
    chain: tuple[bytes, ...] = ()
    key: Any = None
    cipher_suites: tuple[int, ...] = ()
    groups: tuple[int, ...] = (29, 23, 24)
    dh_parameters: bytes | None = None   # PEM, for the DHE suites
    psk: tuple[bytes, bytes] | None = None   # TLS 1.3 external PSK: (identity, key), SHA-256

    @property
    def suites(self) -> tuple[int, ...]:
        """Our suites in preference order; DHE only when there are parameters for it."""
        chosen = self.cipher_suites or (SERVER_SUITES_13 if self.version == "1.3" else SERVER_SUITES_12)
        return tuple(c for c in chosen if self.dh_parameters or getattr(suite_params(c), "kx", None) not in ("dhe", "dh_anon"))


@dataclass
class ClientAuthRecord:
    """What the client did when asked for a certificate."""
    chain: list[bytes] = field(default_factory=list)
    empty: bool | None = None
    cv_scheme: int | None = None
    cv_verified: bool | None = None
    cv_error: str | None = None


@dataclass
class ServerEngine(Endpoint):
    config: ServerConfig
    client_hello_msg: Packet | None = None
    share: Any = None
    group: int | None = None
    auth: ClientAuthRecord = field(default_factory=ClientAuthRecord)
    hrr_sent: bool = False
    client_finished: bool = False
    psk_selected: int | None = None      # TLS 1.3: the index of the client's PSK identity we accepted
    _client_key: Any = None
    _client_shares: dict = field(default_factory=dict)

    side = 1
    own_errors = (EngineError, kx.KeyExchangeError)

    def offered(self, ext_type: int):
        """The body of an extension the client offered, or None."""
        return self._extension(self.client_hello_msg.payload, ext_type) if self.client_hello_msg else None

    @staticmethod
    def _extension(body: Packet, ext_type: int):
        for e in extensions_in(body):
            if e.extension_type == ext_type:
                return e.payload if e.payload else True
        return None

    # -- building ----------------------------------------------------------------------------------
    def server_hello(self, **fields) -> Packet:
        ch = self.client_hello_msg.payload
        chosen = next((c for c in self.config.suites if c in ch.cipher_suites
                       and (self.psk_selected is None or suite_params(c).prf_hash == "sha256")), None)
        if chosen is None:
            raise EngineError("no cipher suite in common with the client")
        self.k.negotiate(0x0304 if self.tls13 else 0x0303, chosen)
        self.k.server_random = self.rng(32)
        exts = []
        if self.tls13:
            exts = [ExtensionSH() / SupportedVersionsSH(selected_version=0x0304)]
            if self.group is not None:
                self.share = kx.generate_share(self.group)
                exts.append(ExtensionSH() / KeyShareSH(server_share=KeyShareEntry(group=self.group,
                                                                                  key_exchange=self.share.public)))
            if self.psk_selected is not None:
                exts.append(ExtensionSH() / SelectedPsk(selected_identity=self.psk_selected))
        else:
            exts.append(ExtensionSH() / RenegotiationInfo(
                renegotiated_connection=self.client_verify_data + self.server_verify_data))
            if self.offered(E.extended_master_secret):
                self.k.ems = True
                exts.append(ExtensionSH(extension_type=E.extended_master_secret))
        body = ServerHello(legacy_version=0x0303, random=self.k.server_random,
                           legacy_session_id=ch.legacy_session_id if self.tls13 else self.rng(32),
                           cipher_suite=chosen, extensions=exts)
        for name, value in fields.items():
            setattr(body, name, value)
        return Handshake() / body

    def hello_retry_request(self, group: int) -> Packet:
        ch = self.client_hello_msg.payload
        chosen = next((c for c in self.config.suites if c in ch.cipher_suites), 0x1301)
        self.k.negotiate(0x0304, chosen)
        self.group = group
        return Handshake() / HelloRetryRequest(legacy_session_id=ch.legacy_session_id, cipher_suite=chosen, extensions=[
            ExtensionHRR() / SupportedVersionsSH(selected_version=0x0304),
            ExtensionHRR() / KeyShareHRR(selected_group=group)])

    def encrypted_extensions(self) -> Packet:
        return Handshake() / EncryptedExtensions()

    def certificate(self) -> Packet | None:
        """Our chain; None where the handshake has none (a PSK handshake, an anonymous suite)."""
        if self.psk_selected is not None or (self.k.params and self.k.params.kx == "dh_anon"):
            return None
        if self.tls13:
            return Handshake() / Certificate13(certificate_list=[CertificateEntry(cert_data=c)
                                                                 for c in self.config.chain])
        return Handshake() / Certificate12(certificate_list=[ASN1Cert(cert_data=c) for c in self.config.chain])

    def certificate_request(self, authorities: list[bytes] | None = None, schemes: tuple[int, ...] = CR_SCHEMES,
                            context: bytes = b"", certificate_types: tuple[int, ...] = (1, 64),
                            extensions: list | None = None) -> Packet:
        """A CertificateRequest naming ``authorities`` (DER names; None: no list at all in 1.3)."""
        dns = [DistinguishedName(dn=d) for d in authorities or []]
        if self.tls13:
            exts = [ExtensionCR() / SignatureAlgorithms(supported_signature_algorithms=list(schemes))]
            if authorities is not None:
                exts.append(ExtensionCR() / CertificateAuthorities(authorities=dns))
            exts += extensions or []
            return Handshake() / CertificateRequest13(certificate_request_context=context, extensions=exts)
        return Handshake() / CertificateRequest12(certificate_types=list(certificate_types),
                                                  supported_signature_algorithms=list(schemes),
                                                  certificate_authorities=dns)

    def post_handshake_certificate_request(self, context: bytes = b"\x01\x02\x03\x04",
                                           schemes: tuple[int, ...] = CR_SCHEMES) -> Packet:
        """RFC 8446 4.6.2: a CertificateRequest after the handshake (non-empty context)."""
        return self.certificate_request(authorities=None, schemes=schemes, context=context)

    def server_key_exchange(self) -> Packet | None:
        """The signed (EC)DHE parameters; None for RSA key exchange, which has none."""
        if self.k.params.kx in ("dhe", "dh_anon"):
            if self.config.dh_parameters is None:
                raise EngineError("a DHE suite needs DH parameters (ServerConfig.dh_parameters)")
            self.share = kx.dhe_server_share(self.config.dh_parameters)
            if self.k.params.kx == "dh_anon":  # unsigned (RFC 5246 7.4.3)
                return Handshake() / ServerKeyExchangeAnonDH(dh_p=self.share.p, dh_g=self.share.g,
                                                             dh_Ys=self.share.public)
            body = ServerKeyExchangeDHE(dh_p=self.share.p, dh_g=self.share.g, dh_Ys=self.share.public, signature=b"")
            params = bytes(body)[:6 + len(self.share.p) + len(self.share.g) + len(self.share.public)]
        elif self.k.params.kx == "ecdhe":
            group = next((g for g in self.config.groups if g in self.client_groups() and g in (23, 24, 29)), 23)
            self.share = kx.generate_share(group)
            body = ServerKeyExchangeECDHE(named_curve=group, point=self.share.public, signature=b"")
            params = bytes(body)[:4 + len(self.share.public)]
        else:
            return None
        scheme = choose_scheme(self.config.key, self._client_schemes(), False)
        body.algorithm = scheme
        body.signature = sign(scheme, self.config.key, self.k.client_random + self.k.server_random + params)
        body.signature_len = None
        return Handshake() / body

    def certificate_verify(self) -> Packet | None:
        if self.psk_selected is not None:
            return None
        scheme = choose_scheme(self.config.key, self._client_schemes(), True)
        return Handshake() / CertificateVerify(algorithm=scheme, signature=sign(
            scheme, self.config.key, cv13_content(self.k.transcript_hash(), server=True)))

    def server_hello_done(self) -> Packet:
        return Handshake() / ServerHelloDone()

    def hello_request(self) -> Packet:
        return Handshake() / HelloRequest()

    def finished(self) -> Packet:
        if self.tls13:
            return Handshake() / Finished(verify_data=self.k.finished13(self.k.s_hs))
        return Handshake() / Finished(verify_data=self.k.finished12(b"server finished"))

    def client_groups(self) -> list[int]:
        body = self.offered(E.supported_groups)
        return list(body.named_group_list) if body not in (None, True) else [23]

    def _client_schemes(self) -> list[int]:
        body = self.offered(E.signature_algorithms)
        return list(body.supported_signature_algorithms) if body not in (None, True) else [0x0401, 0x0403]

    # -- our messages entering the transcript (WRITERS) -------------------------------------------
    @staticmethod
    def _is_hrr(raw: bytes) -> bool:
        return raw[0] == H.server_hello and raw[6:38] == HelloRetryRequest().random

    def _server_hello_before(self, raw: bytes) -> None:
        if self._is_hrr(raw):   # RFC 8446 4.4.1: the first ClientHello becomes its hash
            self.k.hello_retry()
            self.hrr_sent = True

    def _server_hello_sent(self, raw: bytes) -> None:
        if self.tls13 and not self._is_hrr(raw):
            k = self.k
            shared = self.share.shared_secret(self._client_shares[self.group]) if self.share else None
            client, server = k.tls13_handshake_keys(shared)
            self._next_out = server
            self.inbound.protected = self.inbound.tls13 = True
            self.inbound.cipher = client

    def _rewind_for_post_handshake(self, raw: bytes) -> None:
        """RFC 8446 4.6.2: a post-handshake request's transcript is the handshake's, then it."""
        if self.tls13 and self.main_done:
            self.k.transcript = bytearray(self.k.main_transcript)

    def _certificate_request_sent(self, raw: bytes) -> None:
        self.cert_request = Handshake(raw)
        if self.tls13 and self.main_done:
            self.auth = ClientAuthRecord()

    def _finished_sent(self, raw: bytes) -> None:
        if self.tls13:
            self.k.tls13_application_secrets()
            self._next_out = tls13_protection(self.k.params, self.k.s_ap)
        else:
            self.server_verify_data = raw[4:]

    # -- the client's messages (READERS) -----------------------------------------------------------
    def _client_hello_before(self, msg: Packet, body: Packet, raw: bytes) -> None:
        k = self.k
        if not self.hrr_sent:
            k.transcript = bytearray()
            k.client_random = bytes(body.random)
        if self.client_verify_data:  # a renegotiation (RFC 5746 3.7): the client names our last handshake
            ri = self._extension(body, E.renegotiation_info)
            if ri is None or bytes(ri.renegotiated_connection) != self.client_verify_data:
                self.notes.append("the renegotiation ClientHello's renegotiation_info does not match the "
                                  "previous handshake's client Finished (RFC 5746 3.7)")
            self.client_finished, self.auth = False, ClientAuthRecord()
        self.client_hello_msg = msg

    def _client_hello(self, msg: Packet, body: Packet, raw: bytes) -> None:
        shares = self.offered(E.key_share)
        self._client_shares = {e.group: bytes(e.key_exchange) for e in getattr(shares, "client_shares", [])}
        if self.tls13:
            self.group = next((g for g in self.config.groups if g in self._client_shares), None)
            self._accept_psk(body, raw)

    def _client_certificate(self, msg: Packet, body: Packet, raw: bytes) -> None:
        self.auth.chain = [bytes(e.cert_data) for e in body.certificate_list]
        self.auth.empty = not self.auth.chain
        self._client_key = x509view.certificate(self.auth.chain[0]).public_key() if self.auth.chain else None

    def _compressed_certificate(self, msg: Packet, body: Packet, raw: bytes) -> None:
        # RFC 8879 4: its algorithm MUST be one the peer listed in its compress_certificate
        # extension, which this server never sends; the message is not decompressed
        self.notes.append("the client sent a CompressedCertificate though the CertificateRequest had no "
                          "compress_certificate extension (RFC 8879 4): no Certificate message came")

    def _check_certificate_verify(self, msg: Packet, body: Packet, raw: bytes) -> None:
        self._check_client_signature(body)

    def _client_key_exchange(self, msg: Packet, body: Packet, raw: bytes) -> None:
        self._premaster(body)

    def _check_client_finished(self, msg: Packet, body: Packet, raw: bytes) -> None:
        k = self.k
        base = k.c_ap if self.main_done else k.c_hs  # post-handshake Finished: application secret
        expected = k.finished13(base) if self.tls13 else k.finished12(b"client finished")
        if bytes(body.verify_data) != expected:
            self.notes.append("the client's Finished does not verify")

    def _client_finished(self, msg: Packet, body: Packet, raw: bytes) -> None:
        k = self.k
        self.client_finished = True
        if not self.tls13:
            self.client_verify_data = bytes(body.verify_data)
        if self.tls13 and not self.main_done:
            self.main_done = True
            k.main_transcript = bytes(k.transcript)
            self.inbound.cipher = tls13_protection(k.params, k.c_ap)

    def _accept_psk(self, body: Packet, raw: bytes) -> None:
        """Select the client's external PSK if it names ours and its binder verifies (RFC 8446
        4.2.11); psk_dhe_ke when the client sent a usable key share, else psk_ke."""
        offered, psk = self._extension(body, E.pre_shared_key), self.config.psk
        if psk is None or offered in (None, True):
            return
        ids = [bytes(i.identity) for i in offered.identities]
        if psk[0] not in ids:
            return
        index = ids.index(psk[0])
        binders = offered.binders
        binders_len = 2 + sum(1 + len(b.binder) for b in binders)
        prior = bytes(self.k.transcript[:-len(raw)])   # message_hash and HRR after a retry
        expected = tls13.KeySchedule("sha256", psk[1]).binder(True, prior + raw[:-binders_len])
        if index >= len(binders) or bytes(binders[index].binder) != expected:
            self.notes.append("the client's PSK binder does not verify (RFC 8446 4.2.11.2)")
            return
        modes = self._extension(body, E.psk_key_exchange_modes)
        modes = list(getattr(modes, "ke_modes", []))
        if 1 not in modes or self.group is None:
            if 0 not in modes:
                return
            self.group = None   # psk_ke: no (EC)DHE
        self.psk_selected, self.k.psk = index, psk[1]

    def _premaster(self, body: Packet) -> None:
        k = self.k
        if k.params.kx == "rsa":
            try:
                pms = decrypt_premaster(self.config.key, bytes(body.encrypted_pre_master_secret))
            except ValueError as exc:
                raise EngineError(f"cannot decrypt the client's premaster secret: {exc}") from None
        elif k.params.kx in ("dhe", "dh_anon"):
            pms = self.share.shared_secret(bytes(body.dh_Yc))
        else:
            pms = self.share.shared_secret(bytes(body.ecdh_Yc))
        k.tls12_master(pms)
        self._pending = k.tls12_protections()

    def _check_client_signature(self, body: Packet) -> None:
        k, auth = self.k, self.auth
        auth.cv_scheme = getattr(body, "algorithm", None)
        if self._client_key is None:
            auth.cv_verified, auth.cv_error = False, "CertificateVerify without a client certificate"
            return
        content = cv13_content(k.transcript_hash(), server=False) if self.tls13 else bytes(k.transcript)
        try:
            verify(auth.cv_scheme, self._client_key, bytes(body.signature), content)
            auth.cv_verified = True
        except InvalidSignature:
            auth.cv_verified, auth.cv_error = False, "signature does not verify over the transcript"
        except (UnsupportedAlgorithm, ValueError, TypeError) as exc:
            auth.cv_verified, auth.cv_error = None, str(exc)

    WRITERS = {H.server_hello: (_server_hello_before, _server_hello_sent),
               H.certificate_request: (_rewind_for_post_handshake, _certificate_request_sent),
               H.finished: (None, _finished_sent)}
    READERS = {H.client_hello: (_client_hello_before, _client_hello),
               H.certificate: (_client_certificate, None),
               H.compressed_certificate: (_compressed_certificate, None),
               H.certificate_verify: (_check_certificate_verify, None),
               H.client_key_exchange: (None, _client_key_exchange),
               H.finished: (_check_client_finished, _client_finished)}
