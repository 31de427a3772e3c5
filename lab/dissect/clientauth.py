"""The client-authentication story of one connection: was a certificate requested (when,
naming which CAs and schemes), what the client answered, whether its CertificateVerify
signature verifies over the transcript, and which alert ended it."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from scapy.packet import Packet

from lab.crypto import x509view
from lab.crypto.asym import cv13_content, verify, verify_ssl3_certificate_verify
from lab.crypto.prf import digest
from lab.dissect import describe
from lab.dissect.ending import ending, handshake_completed
from lab.dissect.model import ConnectionInfo, MessageInfo
from layers.registry import ExtensionType as E, HandshakeType as H
from layers.extensions import extensions_in

if TYPE_CHECKING:
    from lab.dissect.decoder import HandshakeState

CLIENT, SERVER = 0, 1


class ClientAuthTracker:
    def __init__(self, info: ConnectionInfo) -> None:
        self.info = info
        self.requests: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.pha_offered = False
        self.main_transcript: bytes | None = None
        self.pha_messages = b""
        self.client_leaf_key = None
        self.last_request: dict[str, Any] | None = None
        self.server_flight_done = False   # the server's first flight seen whole (a request would be in it)
        self.client_answered = False      # the client's flight after the server's was seen

    def client_hello(self, body: Packet, encrypted: bool) -> None:
        if any(e.extension_type == E.post_handshake_auth for e in extensions_in(body)):
            self.pha_offered = True

    def _when(self, hs: "HandshakeState", main_done_client: bool, body: Packet) -> str:
        if hs.tls13 and (main_done_client or bytes(getattr(body, "certificate_request_context", b""))):
            return "post_handshake"
        return "renegotiation" if self.info.handshakes > 1 else "handshake"

    def message(self, d: int, t: int, body: Packet, msg: MessageInfo, hs: "HandshakeState",
                before: bytes, main_done_client: bool) -> None:
        if d == SERVER and (t == H.server_hello_done or (t == H.finished and hs.tls13)):
            self.server_flight_done = True
        if d == CLIENT and t in (H.client_key_exchange, H.finished, H.certificate):
            self.client_answered = True
        if d == SERVER and t == H.certificate_request:
            req = {"when": self._when(hs, main_done_client, body), "frame": msg.frame,
                   "encrypted": msg.encrypted, **describe.certificate_request_facts(body)}
            self.requests.append(req)
            self.last_request = req
            if req["when"] == "post_handshake":
                self.pha_messages = msg.raw
        elif d == CLIENT and t == H.certificate:
            self._certificate(body, msg, hs, main_done_client)
        elif d == CLIENT and t == H.certificate_verify:
            self._certificate_verify(body, msg, hs, before)
        elif d == CLIENT and t == H.finished and hs.tls13 and not main_done_client:
            self.main_transcript = before + msg.raw

    def _certificate(self, body: Packet, msg: MessageInfo, hs: "HandshakeState", main_done_client: bool) -> None:
        ders = [bytes(e.cert_data) for e in getattr(body, "certificate_list", [])]
        resp: dict[str, Any] = {"frame": msg.frame, "encrypted": msg.encrypted, "empty": not ders,
                                "certificates": [x509view.summary(der) for der in ders],
                                "when": self.last_request["when"] if self.last_request else
                                ("post_handshake" if hs.tls13 and main_done_client else "handshake"),
                                "solicited": self.last_request is not None}
        self.responses.append(resp)
        self.client_leaf_key = None
        if ders:
            try:
                self.client_leaf_key = x509view.certificate(ders[0]).public_key()
            except (ValueError, UnsupportedAlgorithm) as exc:
                resp["leaf_error"] = str(exc)
        if resp["when"] == "post_handshake":
            self.pha_messages += msg.raw

    def _certificate_verify(self, body: Packet, msg: MessageInfo, hs: "HandshakeState", before: bytes) -> None:
        scheme = getattr(body, "algorithm", None)
        cv: dict[str, Any] = {"frame": msg.frame, "encrypted": msg.encrypted,
                              "algorithm": describe.scheme_name(scheme) if scheme is not None else "legacy"}
        if self.responses:
            self.responses[-1]["certificate_verify"] = cv
        else:
            self.responses.append({"frame": msg.frame, "encrypted": msg.encrypted, "empty": None,
                                   "certificates": [], "certificate_verify": cv, "solicited": False})
        if self.client_leaf_key is None:
            cv["verified"], cv["reason"] = None, "no client certificate to verify against"
            return
        if hs.transcript_gap:
            cv["verified"], cv["reason"] = None, "cannot check: part of the handshake it signs did not decrypt"
            return
        try:
            if hs.tls13:
                if hs.params is None:
                    raise UnsupportedAlgorithm("unknown cipher suite hash")
                if self.responses[-1].get("when") == "post_handshake" and self.main_transcript is not None:
                    transcript = self.main_transcript + self.pha_messages
                else:
                    transcript = before
                data = cv13_content(digest(hs.params.prf_hash, transcript), server=False)
            elif hs.version == 0x0300:
                if hs.master is None:
                    cv["verified"], cv["reason"] = None, ("an SSL 3.0 CertificateVerify covers the master secret: "
                                                          "pass the key log to check it")
                    return
                verify_ssl3_certificate_verify(self.client_leaf_key, bytes(body.signature), hs.master, before)
                cv["verified"] = True
                return
            else:
                data = before
            verify(scheme, self.client_leaf_key, bytes(body.signature), data)
            cv["verified"] = True
        except InvalidSignature:
            cv["verified"], cv["reason"] = False, "signature does not verify over the handshake transcript"
        except (UnsupportedAlgorithm, TypeError, ValueError) as exc:
            cv["verified"], cv["reason"] = None, f"cannot check: {exc}"

    def finish(self, hs: "HandshakeState", key_trouble: str | None = None) -> None:
        """``key_trouble``: why keys given for this connection did not decrypt it, if they did not."""
        info = self.info
        end = ending(info)
        hidden_13 = any(m.encrypted and not m.decrypted for m in info.messages) and hs.tls13
        # Never a conclusion the bytes do not support: "not requested" needs the server's whole
        # first flight (or an abbreviated handshake, which has no request), "none sent" the
        # client's answer to a request.
        requested: bool | None = True if self.requests else (
            None if hidden_13 else (False if self.server_flight_done or hs.resumed else None))
        sent: bool | None
        if self.responses:
            sent = any(not r["empty"] for r in self.responses if r["empty"] is not None)
        elif requested is False:
            sent = False
        else:
            sent = False if (requested and self.client_answered and not hs.tls13) else None
        out: dict[str, Any] = {
            "requested": requested,
            "requests": self.requests,
            "post_handshake_auth_offered": self.pha_offered,
            "responses": self.responses,
            "certificate_sent": sent,
            "certificate_encrypted": (self.responses[-1]["encrypted"] if self.responses else
                                      (True if hs.tls13 else None)),
            "ended_by": end,
        }
        if requested is None and not hidden_13:
            out["hidden"] = (
                "SSLv2 sends REQUEST-CERTIFICATE and CLIENT-CERTIFICATE encrypted, and SSLv2 is not decrypted"
                if info.version == 0x0002 else "the capture starts after the handshake began"
                if info.mid_stream and not hs.client_random else "the capture holds no whole ClientHello"
                if not hs.client_random else "the capture does not show the server's whole first flight")
        if not hs.client_random and info.mid_stream:
            info.note(f"the capture starts mid-connection, frame {info.first_frame}: the handshake before it "
                      "is not in it")
        elif not hs.client_random:
            info.note("the client's first handshake message is not whole in the capture: nothing of the "
                      "handshake is known")
        elif end is None and not handshake_completed(info):
            last = max((m.frame for m in info.messages), default=info.first_frame)
            client_done = any(m.direction == "client" and (m.type == H.finished or m.kind == "change_cipher_spec")
                              for m in info.messages)
            where = ("before the server's first flight" if not hs.server_hello_seen else
                     "inside the server's flight" if not self.server_flight_done else
                     "inside the client's flight" if not client_done else "before the server's Finished")
            info.note(f"the capture ends {where}, frame {last}: nothing after it is known")
        if key_trouble:
            out["key_trouble"] = key_trouble
        if hidden_13:
            out["hidden"] = ("TLS 1.3 encrypts CertificateRequest, Certificate and CertificateVerify; " + (
                key_trouble if key_trouble else
                "key log lines CLIENT_HANDSHAKE_TRAFFIC_SECRET and SERVER_HANDSHAKE_TRAFFIC_SECRET "
                f"for client random {hs.client_random.hex()} would reveal them"))
        info.client_auth = out
