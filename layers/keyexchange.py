"""ServerKeyExchange and ClientKeyExchange (RFC 5246 section 7.4.3 and 7.4.7; RFC 8422
section 5.4 and 5.7).

Which form a message takes depends on the negotiated key exchange and version, which a
session-free layer cannot know: each form is a class and the dissector picks one
(``layers.handshake.body_class``). The ``*Legacy`` ServerKeyExchange forms are SSLv3-TLS 1.1,
whose signature has no SignatureAndHashAlgorithm.
"""
from __future__ import annotations

from scapy.fields import ByteEnumField, ShortEnumField, StrField

from layers.fields import Body, vector
from layers.registry import EC_CURVE_TYPE_NAMES, NAMED_GROUP_NAMES, SIGNATURE_SCHEME_NAMES


def _dh_params() -> list:
    return [*vector("dh_p", "!H"), *vector("dh_g", "!H"), *vector("dh_Ys", "!H")]


def _ecdh_params() -> list:
    return [ByteEnumField("curve_type", 3, EC_CURVE_TYPE_NAMES),
            ShortEnumField("named_curve", 29, NAMED_GROUP_NAMES), *vector("point", "B")]


def _signed() -> list:
    return [ShortEnumField("algorithm", 0x0804, SIGNATURE_SCHEME_NAMES), *vector("signature", "!H")]


class ServerKeyExchangeDHE(Body):
    name = "ServerKeyExchange (DHE)"
    fields_desc = [*_dh_params(), *_signed()]


class ServerKeyExchangeDHELegacy(Body):
    name = "ServerKeyExchange (DHE, SSLv3-TLS 1.1)"
    fields_desc = [*_dh_params(), *vector("signature", "!H")]


class ServerKeyExchangeECDHE(Body):
    name = "ServerKeyExchange (ECDHE)"
    fields_desc = [*_ecdh_params(), *_signed()]


class ServerKeyExchangeECDHELegacy(Body):
    name = "ServerKeyExchange (ECDHE, SSLv3-TLS 1.1)"
    fields_desc = [*_ecdh_params(), *vector("signature", "!H")]


class ServerKeyExchangeAnonDH(Body):
    name = "ServerKeyExchange (DH_anon)"
    fields_desc = _dh_params()


class ServerKeyExchangeRSA(Body):
    """An RSA_EXPORT suite's temporary RSA key (RFC 2246 7.4.3 ServerRSAParams), signed."""
    name = "ServerKeyExchange (RSA export)"
    fields_desc = [*vector("rsa_modulus", "!H"), *vector("rsa_exponent", "!H"), *_signed()]


class ServerKeyExchangeRSALegacy(Body):
    name = "ServerKeyExchange (RSA export, SSLv3-TLS 1.1)"
    fields_desc = [*vector("rsa_modulus", "!H"), *vector("rsa_exponent", "!H"), *vector("signature", "!H")]


class ServerKeyExchangeECDHAnon(Body):
    """ECDH_anon: the curve and point, unsigned (RFC 8422 5.4)."""
    name = "ServerKeyExchange (ECDH_anon)"
    fields_desc = _ecdh_params()


class ServerKeyExchangePSK(Body):
    """PSK and RSA_PSK: a hint of the identity to use (RFC 4279 2)."""
    name = "ServerKeyExchange (PSK)"
    fields_desc = vector("psk_identity_hint", "!H")


class ServerKeyExchangeDHEPSK(Body):
    name = "ServerKeyExchange (DHE_PSK)"
    fields_desc = [*vector("psk_identity_hint", "!H"), *_dh_params()]


class ServerKeyExchangeECDHEPSK(Body):
    """RFC 5489 2."""
    name = "ServerKeyExchange (ECDHE_PSK)"
    fields_desc = [*vector("psk_identity_hint", "!H"), *_ecdh_params()]


class ClientKeyExchangePSK(Body):
    name = "ClientKeyExchange (PSK)"
    fields_desc = vector("psk_identity", "!H")


class ClientKeyExchangeDHEPSK(Body):
    name = "ClientKeyExchange (DHE_PSK)"
    fields_desc = [*vector("psk_identity", "!H"), *vector("dh_Yc", "!H")]


class ClientKeyExchangeECDHEPSK(Body):
    name = "ClientKeyExchange (ECDHE_PSK)"
    fields_desc = [*vector("psk_identity", "!H"), *vector("ecdh_Yc", "B")]


class ClientKeyExchangeRSAPSK(Body):
    name = "ClientKeyExchange (RSA_PSK)"
    fields_desc = [*vector("psk_identity", "!H"), *vector("encrypted_pre_master_secret", "!H")]


class ClientKeyExchangeRSA(Body):
    """EncryptedPreMasterSecret: the 48-byte premaster secret encrypted with the server's RSA
    public key (RFC 5246 section 7.4.7.1)."""
    name = "ClientKeyExchange (RSA)"
    fields_desc = vector("encrypted_pre_master_secret", "!H")


class ClientKeyExchangeRSASSL3(Body):
    """SSLv3 sends the RSA-encrypted premaster secret without a length prefix."""
    name = "ClientKeyExchange (RSA, SSLv3)"
    fields_desc = [StrField("encrypted_pre_master_secret", b"")]


class ClientKeyExchangeDH(Body):
    name = "ClientKeyExchange (DH)"
    fields_desc = vector("dh_Yc", "!H")


class ClientKeyExchangeECDH(Body):
    name = "ClientKeyExchange (ECDH)"
    fields_desc = vector("ecdh_Yc", "B")
