"""TLS extensions (RFC 8446 section 4.2 and the RFCs that define each one).

An extension is an ``Extension*`` header (type, length) with a body layer chosen by its type
*and by the message that carries it*: key_share, supported_versions, pre_shared_key and others
have different structures in a ClientHello, a ServerHello, a HelloRetryRequest or a
CertificateRequest. Each carrying message has its own header class (``ExtensionCH`` and so
on); the table ``BODIES`` says which body each (context, type) takes. Unknown extensions keep
a Raw body and round-trip unchanged.
"""
from __future__ import annotations

from scapy.fields import (ByteEnumField, FieldLenField, IntField,
                          PacketField, ShortEnumField, ShortField,
                          StrField)
from scapy.packet import Packet, bind_layers

from layers.fields import (Body, ElementListField, LengthDelimitedHeader, OptionalLenField, TLSPacket, packets_of, vector,
                           vector_of)
from layers.registry import (CERT_TYPE_NAMES, COMPRESSION_ALG_NAMES, EC_POINT_FORMAT_NAMES,
                             EXTENSION_NAMES, NAMED_GROUP_NAMES, PSK_MODE_NAMES,
                             SIGNATURE_SCHEME_NAMES, STATUS_TYPE_NAMES, VERSION_NAMES,
                             ExtensionType as E)


class Extension(LengthDelimitedHeader):
    """``struct { ExtensionType extension_type; opaque extension_data<0..2^16-1>; }``"""
    name = "Extension"
    context = "client_hello"
    fields_desc = [ShortEnumField("extension_type", 0, EXTENSION_NAMES),
                   ShortField("len", None)]

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        body = BODIES.get((self.context, self.extension_type))
        return body if body is not None else Packet.guess_payload_class(self, payload)


def _ctx(cls_name: str, context: str) -> type[Extension]:
    return type(cls_name, (Extension,), {"context": context, "name": f"Extension ({context})"})


ExtensionCH = _ctx("ExtensionCH", "client_hello")
ExtensionSH = _ctx("ExtensionSH", "server_hello")
ExtensionHRR = _ctx("ExtensionHRR", "hello_retry_request")
ExtensionEE = _ctx("ExtensionEE", "encrypted_extensions")
ExtensionCR = _ctx("ExtensionCR", "certificate_request")
ExtensionCT = _ctx("ExtensionCT", "certificate")
ExtensionNST = _ctx("ExtensionNST", "new_session_ticket")
CONTEXTS = {c.context: c for c in (ExtensionCH, ExtensionSH, ExtensionHRR, ExtensionEE,
                                   ExtensionCR, ExtensionCT, ExtensionNST)}


def extensions_of(context: str, optional: bool = False) -> list:
    """``Extension extensions<0..2^16-1>`` of the message ``context``; ``optional`` for the
    hellos, whose extensions block may be absent altogether (RFC 5246 section 7.4.1.2)."""
    length = (OptionalLenField if optional else FieldLenField)("extensions_len", None, length_of="extensions")
    return [length, ElementListField("extensions", [], CONTEXTS[context],
                                     length_from=lambda pkt: pkt.extensions_len, max_count=0xFFFF)]


def extensions_in(body) -> list:
    """The extensions of a message body that parsed: a truncated tail of the list (kept as Raw,
    so the message still round-trips) is left out."""
    return [e for e in getattr(body, "extensions", None) or [] if hasattr(e, "extension_type")]


# -- bodies -------------------------------------------------------------------------------

class ServerName(TLSPacket):
    size_prefix = (1, 2, 0)
    name = "ServerName"
    fields_desc = [ByteEnumField("name_type", 0, {0: "host_name"}), *vector("host_name", "!H")]


class ServerNameList(Body):
    name = "server_name"
    fields_desc = [*packets_of("server_name_list", ServerName, "!H")]


class StatusRequest(Body):
    """RFC 6066 section 8 CertificateStatusRequest (OCSP)."""
    name = "status_request"
    fields_desc = [ByteEnumField("status_type", 1, STATUS_TYPE_NAMES),
                   *vector("responder_id_list", "!H"), *vector("request_extensions", "!H")]


class CertificateStatusBody(Body):
    """RFC 8446 section 4.4.2.1: an OCSP response inside a CertificateEntry."""
    name = "status_request (CertificateStatus)"
    fields_desc = [ByteEnumField("status_type", 1, STATUS_TYPE_NAMES), *vector("response", "3")]


class SupportedGroups(Body):
    name = "supported_groups"
    fields_desc = [*vector_of("named_group_list", ShortEnumField("group", 0, NAMED_GROUP_NAMES), "!H")]


class ECPointFormats(Body):
    name = "ec_point_formats"
    fields_desc = vector_of("ec_point_format_list", ByteEnumField("format", 0, EC_POINT_FORMAT_NAMES), "B", [0])


class SignatureAlgorithms(Body):
    """signature_algorithms and signature_algorithms_cert (RFC 8446 section 4.2.3)."""
    name = "signature_algorithms"
    fields_desc = vector_of("supported_signature_algorithms", ShortEnumField("scheme", 0, SIGNATURE_SCHEME_NAMES))


class SignatureAlgorithmsCert(SignatureAlgorithms):
    name = "signature_algorithms_cert"


class ProtocolName(TLSPacket):
    size_prefix = (0, 1, 0)
    name = "ProtocolName"
    fields_desc = vector("protocol_name", "B")


class ALPN(Body):
    name = "application_layer_protocol_negotiation"
    fields_desc = [*packets_of("protocol_name_list", ProtocolName, "!H")]


class CertificateTypeList(Body):
    """RFC 7250 client_certificate_type / server_certificate_type in a ClientHello."""
    name = "certificate_type (list)"
    fields_desc = [*vector_of("certificate_types", ByteEnumField("type", 0, CERT_TYPE_NAMES), "B")]


class CertificateTypeSelected(Body):
    """RFC 7250 client_certificate_type / server_certificate_type in ServerHello/EE."""
    name = "certificate_type (selected)"
    fields_desc = [ByteEnumField("certificate_type", 0, CERT_TYPE_NAMES)]


class Padding(Body):
    name = "padding"
    fields_desc = [StrField("padding", b"")]


class CompressCertificate(Body):
    name = "compress_certificate"
    fields_desc = [*vector_of("algorithms", ShortEnumField("algorithm", 1, COMPRESSION_ALG_NAMES), "B", default=[1])]


class RecordSizeLimit(Body):
    name = "record_size_limit"
    fields_desc = [ShortField("record_size_limit", 16385)]


class SessionTicketExt(Body):
    name = "session_ticket"
    fields_desc = [StrField("ticket", b"")]


class PskIdentity(TLSPacket):
    size_prefix = (0, 2, 4)
    name = "PskIdentity"
    fields_desc = [*vector("identity", "!H"), IntField("obfuscated_ticket_age", 0)]


class PskBinderEntry(TLSPacket):
    size_prefix = (0, 1, 0)
    name = "PskBinderEntry"
    fields_desc = vector("binder", "B")


class OfferedPsks(Body):
    name = "pre_shared_key (OfferedPsks)"
    fields_desc = [*packets_of("identities", PskIdentity, "!H"),
                   *packets_of("binders", PskBinderEntry, "!H")]


class SelectedPsk(Body):
    name = "pre_shared_key (selected)"
    fields_desc = [ShortField("selected_identity", 0)]


class EarlyDataIndication(Body):
    name = "early_data (NewSessionTicket)"
    fields_desc = [IntField("max_early_data_size", 0)]


class SupportedVersionsCH(Body):
    name = "supported_versions (ClientHello)"
    fields_desc = [*vector_of("versions", ShortEnumField("version", 0, VERSION_NAMES), "B", default=[0x0304])]


class SupportedVersionsSH(Body):
    name = "supported_versions (ServerHello)"
    fields_desc = [ShortEnumField("selected_version", 0x0304, VERSION_NAMES)]


class Cookie(Body):
    name = "cookie"
    fields_desc = vector("cookie", "!H")


class PskKeyExchangeModes(Body):
    name = "psk_key_exchange_modes"
    fields_desc = [*vector_of("ke_modes", ByteEnumField("mode", 1, PSK_MODE_NAMES), "B", default=[1])]


class DistinguishedName(TLSPacket):
    """``opaque DistinguishedName<1..2^16-1>``: a DER X.501 Name."""
    size_prefix = (0, 2, 0)
    name = "DistinguishedName"
    fields_desc = vector("dn", "!H")


class CertificateAuthorities(Body):
    name = "certificate_authorities"
    fields_desc = [*packets_of("authorities", DistinguishedName, "!H")]


class OIDFilter(TLSPacket):
    name = "OIDFilter"
    fields_desc = [*vector("certificate_extension_oid", "B"),
                   *vector("certificate_extension_values", "!H")]


class OIDFilters(Body):
    name = "oid_filters"
    fields_desc = [*packets_of("filters", OIDFilter, "!H")]


class KeyShareEntry(TLSPacket):
    size_prefix = (2, 2, 0)
    name = "KeyShareEntry"
    fields_desc = [ShortEnumField("group", 29, NAMED_GROUP_NAMES), *vector("key_exchange", "!H")]


class KeyShareCH(Body):
    name = "key_share (ClientHello)"
    fields_desc = [*packets_of("client_shares", KeyShareEntry, "!H")]


class KeyShareSH(Body):
    name = "key_share (ServerHello)"
    fields_desc = [PacketField("server_share", KeyShareEntry(), KeyShareEntry)]


class KeyShareHRR(Body):
    name = "key_share (HelloRetryRequest)"
    fields_desc = [ShortEnumField("selected_group", 29, NAMED_GROUP_NAMES)]


class RenegotiationInfo(Body):
    name = "renegotiation_info"
    fields_desc = vector("renegotiated_connection", "B")


class MaxFragmentLength(Body):
    name = "max_fragment_length"
    fields_desc = [ByteEnumField("max_fragment_length", 1, {1: "2^9", 2: "2^10", 3: "2^11", 4: "2^12"})]


class HeartbeatExt(Body):
    name = "heartbeat"
    fields_desc = [ByteEnumField("mode", 1, {1: "peer_allowed_to_send", 2: "peer_not_allowed_to_send"})]


class SignedCertificateTimestamps(Body):
    name = "signed_certificate_timestamp"
    fields_desc = [StrField("sct_list", b"")]


# (context, type) -> body. Empty-bodied extensions (encrypt_then_mac, extended_master_secret,
# post_handshake_auth, early_data in CH/EE, server_name in SH/EE) need no body class.
_ALL = ("client_hello", "server_hello", "hello_retry_request", "encrypted_extensions",
        "certificate_request", "certificate", "new_session_ticket")
_SAME_EVERYWHERE = {E.supported_groups: SupportedGroups, E.ec_point_formats: ECPointFormats,
                    E.signature_algorithms: SignatureAlgorithms,
                    E.signature_algorithms_cert: SignatureAlgorithmsCert,
                    E.application_layer_protocol_negotiation: ALPN, E.padding: Padding,
                    E.compress_certificate: CompressCertificate, E.record_size_limit: RecordSizeLimit,
                    E.session_ticket: SessionTicketExt, E.cookie: Cookie,
                    E.psk_key_exchange_modes: PskKeyExchangeModes,
                    E.certificate_authorities: CertificateAuthorities, E.oid_filters: OIDFilters,
                    E.renegotiation_info: RenegotiationInfo, E.max_fragment_length: MaxFragmentLength,
                    E.heartbeat: HeartbeatExt, E.signed_certificate_timestamp: SignedCertificateTimestamps,
                    E.client_certificate_type: CertificateTypeSelected,
                    E.server_certificate_type: CertificateTypeSelected}
BODIES: dict[tuple[str, int], type[Packet]] = {
    (ctx, int(t)): body for ctx in _ALL for t, body in _SAME_EVERYWHERE.items()}
BODIES.update({
    ("client_hello", E.server_name): ServerNameList,
    ("client_hello", E.status_request): StatusRequest,
    ("certificate_request", E.status_request): StatusRequest,
    ("certificate", E.status_request): CertificateStatusBody,
    ("client_hello", E.client_certificate_type): CertificateTypeList,
    ("client_hello", E.server_certificate_type): CertificateTypeList,
    ("client_hello", E.pre_shared_key): OfferedPsks,
    ("server_hello", E.pre_shared_key): SelectedPsk,
    ("new_session_ticket", E.early_data): EarlyDataIndication,
    ("client_hello", E.supported_versions): SupportedVersionsCH,
    ("server_hello", E.supported_versions): SupportedVersionsSH,
    ("hello_retry_request", E.supported_versions): SupportedVersionsSH,
    ("client_hello", E.key_share): KeyShareCH,
    ("server_hello", E.key_share): KeyShareSH,
    ("hello_retry_request", E.key_share): KeyShareHRR,
})
BODIES = {(ctx, int(t)): b for (ctx, t), b in BODIES.items()}

# bind_layers gives ``ExtensionCH()/SupportedGroups(...)`` its extension_type automatically.
for (_c, _t), _body in BODIES.items():
    bind_layers(CONTEXTS[_c], _body, extension_type=_t)
