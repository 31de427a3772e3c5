"""A test PKI from ``cryptography.x509``: dates relative to now, private keys written 0600.

``Pki.create(folder)`` writes, for each algorithm family (``rsa``, ``ec``): a root CA, a
server leaf (CN=localhost, SAN localhost/127.0.0.1/::1, EKU serverAuth), a client leaf
(CN=lab-client, EKU clientAuth), and an unrelated CA with its own client ("other").
Issue 3 adds the faulty variants the scenario catalogue needs.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ALGORITHMS = ("rsa", "ec")


@dataclass(frozen=True)
class Identity:
    """A certificate and its key on disk."""
    cert: str
    key: str
    ca: str


def _key(alg: str):
    if alg == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TLS Lab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: x509.Name, key, issuer: x509.Name, issuer_key, *, ca: bool,
          eku=None, san=None, key_encipherment: bool = False) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                      key_encipherment=key_encipherment, data_encipherment=False,
                                      key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                      encipher_only=False, decipher_only=False), critical=True)
    if not ca:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                            critical=False)
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def write_private(path: str, data: bytes) -> None:
    """Write a secret file readable by its owner only (0600 from the start)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def _write(folder: str, stem: str, cert: x509.Certificate, key) -> None:
    with open(os.path.join(folder, f"{stem}.crt"), "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    write_private(os.path.join(folder, f"{stem}.key"),
                  key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))


@dataclass(frozen=True)
class Pki:
    root: str

    def path(self, alg: str, name: str) -> str:
        return os.path.join(self.root, alg, name)

    def identity(self, alg: str, who: str) -> Identity:
        ca = "other-ca.crt" if who.startswith("other") else "ca.crt"
        return Identity(self.path(alg, f"{who}.crt"), self.path(alg, f"{who}.key"), self.path(alg, ca))

    @classmethod
    def create(cls, root: str) -> "Pki":
        for alg in ALGORITHMS:
            folder = os.path.join(root, alg)
            os.makedirs(folder, exist_ok=True)
            label = "RSA" if alg == "rsa" else "ECDSA"
            ca_key, other_key = _key(alg), _key(alg)
            ca_name, other_name = _name(f"Lab Root CA {label}"), _name(f"Other CA {label}")
            _write(folder, "ca", _cert(ca_name, ca_key, ca_name, ca_key, ca=True), ca_key)
            _write(folder, "other-ca", _cert(other_name, other_key, other_name, other_key, ca=True), other_key)
            srv_key = _key(alg)
            san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                   x509.IPAddress(ipaddress.ip_address("::1"))]
            _write(folder, "server", _cert(_name("localhost"), srv_key, ca_name, ca_key, ca=False,
                                           eku=[ExtendedKeyUsageOID.SERVER_AUTH], san=san,
                                           key_encipherment=alg == "rsa"), srv_key)
            for stem, issuer, ikey in (("client", ca_name, ca_key), ("other-client", other_name, other_key)):
                k = _key(alg)
                cn = "lab-client" if stem == "client" else "other-client"
                _write(folder, stem, _cert(_name(cn), k, issuer, ikey, ca=False,
                                           eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
                                           san=[x509.RFC822Name(f"{cn}@lab.test")]), k)
        return cls(root)

    @classmethod
    def ensure(cls, root: str) -> "Pki":
        """The PKI in ``root``, created if it is not complete."""
        pki = cls(root)
        if all(os.path.exists(pki.path(a, f)) for a in ALGORITHMS
               for f in ("ca.crt", "server.key", "client.key", "other-client.key")):
            return pki
        return cls.create(root)
