"""lab.crypto against published vectors (RFC 8448 section 3; the TLS 1.2 P_SHA256 vector
circulated on the TLS working group list) and against OpenSSL's own TLS1-PRF."""
from __future__ import annotations

import hashlib
import subprocess

import pytest

from lab.crypto import prf, tls13
from lab.crypto.keylog import KeyLog, KeyLogError
from lab.crypto.record import RecordDecryptError, RecordProtection
from lab.engine.state import suite_params as suite
from layers.handshake import parse_handshake
from layers.record import TLSPlaintext

# RFC 8448 section 3 ("Simple 1-RTT Handshake"): ClientHello and ServerHello records.
RFC8448_CH = bytes.fromhex(
    "16030100c4010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece70000061301"
    "13031302010000910000000b0009000006736572766572ff01000100000a00140012001d00170018001901000101010201"
    "03010400230000003300260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c"
    "002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101"
    "001c00024001")
RFC8448_SH = bytes.fromhex(
    "160303005a020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e"
    "00330024001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304")
SHARED = bytes.fromhex("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d")
C_HS = bytes.fromhex("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21")
S_HS = bytes.fromhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
C_AP = bytes.fromhex("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5")
CLIENT_FINISHED_RECORD = bytes.fromhex(
    "170303003575ec4dc238cce60b298044a71e219c56cc77b0517fe9b93c7a4bfc44d87f38f80338ac98fc46deb384bd1c"
    "aeacab6867d726c40546")
CLIENT_FINISHED = bytes.fromhex("14000020a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61")
CLIENT_APP_RECORD = bytes.fromhex(
    "1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5b46b395bd54a9a20441e2b"
    "62974e1f5a6292a2977014bd1e3deae63aeebb21694915e4")


def test_rfc8448_hellos_dissect_byte_exact() -> None:
    for rec in (RFC8448_CH, RFC8448_SH):
        assert bytes(TLSPlaintext(rec)) == rec
    ch = TLSPlaintext(RFC8448_CH).messages[0].payload
    assert ch.cipher_suites == [0x1301, 0x1303, 0x1302]
    sh = parse_handshake(RFC8448_SH[5:]).payload
    assert sh.cipher_suite == 0x1301
    ks = [e for e in sh.extensions if e.extension_type == 51][0].payload
    assert ks.server_share.group == 29 and len(ks.server_share.key_exchange) == 32


def test_rfc8448_key_schedule() -> None:
    sched = tls13.KeySchedule("sha256")
    assert sched.early_secret.hex() == "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"
    transcript = RFC8448_CH[5:] + RFC8448_SH[5:]
    assert hashlib.sha256(transcript).hexdigest() == \
        "860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8"
    c_hs, s_hs = sched.handshake(SHARED, transcript)
    assert sched.handshake_secret.hex() == "1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac"
    assert (c_hs, s_hs) == (C_HS, S_HS)
    assert tls13.traffic_keys("sha256", C_HS, 16) == (bytes.fromhex("dbfaa693d1762c5b666af5d950258d01"),
                                                       bytes.fromhex("5bd3c71b836e0b76bb73265f"))
    assert tls13.traffic_keys("sha256", S_HS, 16) == (bytes.fromhex("3fce516009c21727d0f2e4e86ee403bc"),
                                                       bytes.fromhex("5d313eb2671276ee13000b30"))
    assert tls13.finished_key("sha256", C_HS).hex() == \
        "b80ad01015fb2f0bd65ff7d4da5d6bf83f84821d1f87fdc7d3c75b5a7b42d9c4"
    assert tls13.traffic_keys("sha256", C_AP, 16) == (bytes.fromhex("17422dda596ed5d9acd890e3c63f5051"),
                                                       bytes.fromhex("5b78923dee08579033e523d9"))
    sched.application(transcript)  # derives the master secret (independent of the transcript)
    assert sched.master_secret.hex() == "18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919"


def _prot(secret: bytes) -> RecordProtection:
    key, iv = tls13.traffic_keys("sha256", secret, 16)
    return RecordProtection(suite(0x1301), 0x0304, key, iv)


def test_rfc8448_record_decryption_and_encryption() -> None:
    rec = CLIENT_FINISHED_RECORD
    inner, plain = _prot(C_HS).decrypt(rec[0], 0x0303, rec[5:])
    assert (inner, plain) == (22, CLIENT_FINISHED)
    assert _prot(C_HS).encrypt(22, 0x0303, CLIENT_FINISHED) == (23, rec[5:])
    inner, plain = _prot(C_AP).decrypt(23, 0x0303, CLIENT_APP_RECORD[5:])
    assert (inner, plain) == (23, bytes(range(50)))
    with pytest.raises(RecordDecryptError):
        _prot(S_HS).decrypt(rec[0], 0x0303, rec[5:])


def test_tls12_prf_published_vector() -> None:
    out = prf.prf(0x0303, "sha256", bytes.fromhex("9bbe436ba940f017b17652849a71db35"), b"test label",
                  bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c"), 100)
    assert out.hex() == ("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9"
                         "c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789ba"
                         "a48082d122ee42c5a72e5a5110fff70187347b66")


@pytest.mark.parametrize("version,digest", [(0x0301, "MD5-SHA1"), (0x0302, "MD5-SHA1"), (0x0303, "SHA2-384")])
def test_prf_matches_openssl_kdf(version: int, digest: str) -> None:
    secret, seed = bytes(range(1, 49)), bytes(range(100, 164))
    ours = prf.prf(version, "sha384", secret, b"key expansion", seed, 72)
    ref = subprocess.run(["openssl", "kdf", "-keylen", "72", "-kdfopt", f"digest:{digest}", "-kdfopt",
                          f"hexsecret:{secret.hex()}", "-kdfopt", f"hexseed:{(b'key expansion' + seed).hex()}",
                          "TLS1-PRF"], capture_output=True, text=True, check=True).stdout
    assert ours.hex() == ref.strip().replace(":", "").lower()


def test_keylog_parse_and_errors() -> None:
    log = KeyLog.parse("# comment\nCLIENT_RANDOM " + "aa" * 32 + " " + "bb" * 48 + "\n"
                       "CLIENT_HANDSHAKE_TRAFFIC_SECRET " + "aa" * 32 + " " + "cc" * 32 + "\n"
                       "QUIC_SOMETHING " + "aa" * 32 + " " + "dd" * 32 + "\n")
    assert log.master_secret(b"\xaa" * 32) == b"\xbb" * 48
    assert log.get("CLIENT_HANDSHAKE_TRAFFIC_SECRET", b"\xaa" * 32) == b"\xcc" * 32
    assert len(log) == 2
    assert KeyLog.parse(log.to_text()).secrets == log.secrets
    with pytest.raises(KeyLogError, match="line 1"):
        KeyLog.parse("CLIENT_RANDOM zz zz")
    with pytest.raises(KeyLogError, match="line 2"):
        KeyLog.parse("\nnot a key log line")


def test_the_choice_rules_on_the_lab_wallet(pki) -> None:
    """lab.crypto.choice on the wallet's certificates, against what the RFC text says of each:
    a P-256 key cannot sign rsa_pss_rsae_* (RFC 8446 4.2.3), an RSA key cannot make a TLS 1.3
    ECDSA signature, ecdsa_sign excludes RSA keys in TLS 1.2 (RFC 5246 7.4.6), a serverAuth-only
    extKeyUsage keeps a certificate out of client auth (RFC 5280 4.2.1.12), and the intermediate's
    name makes only the chained certificate "named"."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    from lab.crypto.choice import Request, judge
    from lab.crypto.x509view import certificate
    from lab.pki import WALLET
    from lab.script.setup import Setup
    s = Setup(pki, "1.3")
    chains = {w: s.chain(w) for w in WALLET}
    by = lambda req: {v.name: v for v in judge(req, chains)}   # noqa: E731
    pss = by(Request("1.3", (0x0804,), None))
    assert [n for n, v in pss.items() if v.fits] == ["client", "other-client", "client-chained"]
    assert "signature_algorithms" in pss["client-p256"].why and "clientAuth" in pss["client-eku-server"].why
    assert all(v.named is None for v in pss.values())
    ecdsa = by(Request("1.3", (0x0403,), None))
    assert [n for n, v in ecdsa.items() if v.fits] == ["client-p256"]
    types = by(Request("1.2", (0x0401, 0x0403), (), (64,)))
    assert [n for n, v in types.items() if v.fits] == ["client-p256"] and types["client"].named is None
    intermediate = certificate(s.chain("client-chained")[1]).subject.public_bytes()
    named = by(Request("1.2", (0x0401,), (intermediate,), (1, 64)))
    assert [n for n, v in named.items() if v.named] == ["client-chained"]
    # the same CA name written with PrintableString: the same name (RFC 5280 7.1)
    ca = certificate(s.chain("client")[0]).issuer
    from cryptography.x509.name import _ASN1Type
    printable = x509.Name([x509.NameAttribute(a.oid, a.value, _type=_ASN1Type.PrintableString) for a in ca])
    assert printable.public_bytes() != ca.public_bytes() and ca.get_attributes_for_oid(NameOID.COMMON_NAME)
    again = by(Request("1.2", (0x0401,), (printable.public_bytes(),), (1, 64)))
    assert [n for n, v in again.items() if v.named] == ["client", "client-p256", "client-chained", "client-eku-server"]
