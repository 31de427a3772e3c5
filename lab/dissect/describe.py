"""Names and field summaries for dissected messages (Wireshark's wording for humans,
snake_case names and plain JSON values for machines)."""
from __future__ import annotations

import functools
from typing import Any

from scapy.packet import NoPayload, Packet, Raw

from lab.crypto import x509view
from layers.registry import (ALERT_NAMES, CIPHER_SUITE_NAMES, EXTENSION_NAMES, HANDSHAKE_NAMES,
                             NAMED_GROUP_NAMES, VERSION_LABELS, name_of,
                             AlertDescription, ExtensionType as E, SignatureScheme)
from layers.extensions import extensions_in
from layers.handshake import Hint, parse_handshake

_WS_OVERRIDES = {"client_key_exchange": "Client Key Exchange", "hello_retry_request": "Hello Retry Request",
                 "application_data": "Application Data", "change_cipher_spec": "Change Cipher Spec",
                 "encrypted_handshake_message": "Encrypted Handshake Message",
                 "encrypted_alert": "Encrypted Alert"}


def handshake_name(msg_type: int, layer: Packet | None = None) -> str:
    if msg_type == 2 and layer is not None and getattr(layer.payload, "is_hello_retry_request", False):
        return "hello_retry_request"
    return HANDSHAKE_NAMES.get(msg_type, f"unknown_handshake_{msg_type}")


def display_name(name: str) -> str:
    """Wireshark's Info-column wording: ``client_hello`` -> ``Client Hello``."""
    return _WS_OVERRIDES.get(name) or " ".join(w.capitalize() for w in name.split("_"))


def alert_display(level: int, desc: int) -> str:
    lvl = {1: "Warning", 2: "Fatal"}.get(level, str(level))
    d = ALERT_NAMES.get(desc, str(desc))
    return f"Alert (Level: {lvl}, Description: {display_name(d)})"


def version_label(v: int | None) -> str:
    return VERSION_LABELS.get(v, f"0x{v:04x}") if v is not None else "unknown"


def suite_name(code: int | None) -> str | None:
    return None if code is None else CIPHER_SUITE_NAMES.get(code, f"0x{code:04x}")


def scheme_name(code: int) -> str:
    return name_of(SignatureScheme, code)


def _plain(v: Any) -> Any:
    if isinstance(v, Packet):
        return packet_dict(v)
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def packet_dict(pkt: Packet) -> dict:
    """Every field of a layer and the layers it carries, as JSON-ready values."""
    out: dict[str, Any] = {}
    layer: Packet | NoPayload = pkt
    while isinstance(layer, Packet) and not isinstance(layer, NoPayload):
        if isinstance(layer, Raw):
            out["trailing_data"] = bytes(layer.load).hex()
        else:
            for f in layer.fields_desc:
                out[f.name] = _plain(layer.getfieldval(f.name))
        layer = layer.payload
    return out


def extensions_summary(exts: list) -> list[str]:
    return [EXTENSION_NAMES.get(e.extension_type, f"unknown_{e.extension_type}") for e in exts]


def handshake_fields(name: str, body: Packet | None) -> dict[str, Any]:
    """The few facts worth a top-level JSON key, by message."""
    if body is None or isinstance(body, (Raw, NoPayload)):
        return {}
    out: dict[str, Any] = {}
    try:
        if name == "client_hello":
            out["version"] = version_label(body.legacy_version)
            out["cipher_suites"] = [suite_name(c) for c in body.cipher_suites]
            out["extensions"] = extensions_summary(extensions_in(body))
            out.update(hello_extension_facts(body))
        elif name in ("server_hello", "hello_retry_request"):
            out["cipher_suite"] = suite_name(body.cipher_suite)
            out["extensions"] = extensions_summary(extensions_in(body))
        elif name == "certificate":
            entries = body.certificate_list
            out["certificates"] = [x509view.summary(e.cert_data) for e in entries]
        elif name == "certificate_request":
            out.update(certificate_request_facts(body))
        elif name == "certificate_verify":
            if hasattr(body, "algorithm"):
                out["algorithm"] = scheme_name(body.algorithm)
        elif name == "key_update":
            out["request_update"] = body.request_update
    except (AttributeError, TypeError):
        pass
    return out


def hello_extension_facts(body: Packet) -> dict[str, Any]:
    """A ClientHello's extensions by name: the SNI as text, schemes, groups and versions named."""
    out: dict[str, Any] = {}
    for ext in extensions_in(body):
        b, t = ext.payload, ext.extension_type
        if t == E.server_name and hasattr(b, "server_name_list"):
            names = [bytes(n.host_name).decode("utf-8", "replace") for n in b.server_name_list
                     if hasattr(n, "host_name")]
            out["server_name"] = names[0] if len(names) == 1 else names
        elif t == E.signature_algorithms and hasattr(b, "supported_signature_algorithms"):
            out["signature_algorithms"] = [scheme_name(s) for s in b.supported_signature_algorithms]
        elif t == E.supported_groups and hasattr(b, "named_group_list"):
            out["supported_groups"] = [NAMED_GROUP_NAMES.get(g, f"unknown_{g:#06x}") for g in b.named_group_list]
        elif t == E.supported_versions and hasattr(b, "versions"):
            out["supported_versions"] = [version_label(v) for v in b.versions]
        elif t == E.post_handshake_auth:
            out["post_handshake_auth"] = True
    return out


def certificate_request_facts(body: Packet) -> dict[str, Any]:
    """CA names, signature schemes and certificate types of any CertificateRequest form."""
    out: dict[str, Any] = {}
    if hasattr(body, "certificate_types"):
        out["certificate_types"] = list(body.certificate_types)
    if hasattr(body, "supported_signature_algorithms"):
        out["signature_algorithms"] = [scheme_name(s) for s in body.supported_signature_algorithms]
    if hasattr(body, "certificate_authorities"):
        out["certificate_authorities"] = [x509view.dn_string(d.dn) for d in body.certificate_authorities]
    if hasattr(body, "certificate_request_context"):
        out["certificate_request_context"] = bytes(body.certificate_request_context).hex()
        out["extensions"] = extensions_summary(extensions_in(body))
        for ext in extensions_in(body):
            b = ext.payload
            if ext.extension_type == 13 and hasattr(b, "supported_signature_algorithms"):
                out["signature_algorithms"] = [scheme_name(s) for s in b.supported_signature_algorithms]
            elif ext.extension_type == 50 and hasattr(b, "supported_signature_algorithms"):
                out["signature_algorithms_cert"] = [scheme_name(s) for s in b.supported_signature_algorithms]
            elif ext.extension_type == 47:
                out["certificate_authorities"] = [x509view.dn_string(d.dn)
                                                  for d in getattr(b, "authorities", [])]
    return out


def content_name(ctype: int) -> str:
    return {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data",
            24: "heartbeat"}.get(ctype, f"content_type_{ctype}")


def alert_name(desc: int) -> str:
    return name_of(AlertDescription, desc)


def sslv2_server_hello(f: bytes) -> dict[str, Any]:
    """An SSLv2 SERVER-HELLO's facts (draft-hickman-netscape-ssl-00 C.2): the certificate, the
    cipher specs, whether the session id was a hit."""
    try:
        cert_len, specs_len = int.from_bytes(f[5:7], "big"), int.from_bytes(f[7:9], "big")
        cert = f[11:11 + cert_len]
        specs = f[11 + cert_len:11 + cert_len + specs_len]
        return {"session_id_hit": f[1] != 0, "certificates": [x509view.summary(cert)] if cert else [],
                "cipher_specs": [specs[i:i + 3].hex() for i in range(0, len(specs) - 2, 3)]}
    except (IndexError, ValueError):
        return {"malformed": True}


# Messages that repeat byte for byte across the connections of a capture (the same server's
# Certificate, CertificateRequest, EncryptedExtensions; the same client's Certificate): parsed
# once. The layers handed out are never modified.
REPEATED = {11, 13, 8, 14}


def parse(raw: bytes, hint: Hint) -> tuple[Packet, dict]:
    """A handshake message's layer and its top-level JSON facts (``handshake_fields``)."""
    if raw[0] in REPEATED:
        return _parsed(raw, hint.version, hint.kx)
    return _parse(raw, hint)


def _parse(raw: bytes, hint: Hint) -> tuple[Packet, dict]:
    layer = parse_handshake(raw, hint)
    return layer, handshake_fields(handshake_name(raw[0], layer), layer.payload)


@functools.lru_cache(maxsize=128)
def _parsed(raw: bytes, version: int | None, kx: str | None) -> tuple[Packet, dict]:
    return _parse(raw, Hint(version, kx))
