"""A test PKI from ``cryptography.x509``: dates relative to now, private keys written 0600.

``Pki.create(folder)`` writes, for each family (``rsa``, ``ec``): a root CA (``ca``), a server
leaf (CN=localhost, SAN localhost/127.0.0.1/::1, EKU serverAuth), a client leaf (CN=lab-client,
EKU clientAuth), an unrelated CA (``other-ca``) and its client (``other-client``). The ``rsa``
folder also holds the variants the scenario catalogue needs, all issued under its root unless
said otherwise (``VARIANTS``): other key types, a chained client (leaf + intermediate), and every
faulty certificate (self-signed, expired, not yet valid, wrong EKU or key usage, SHA-1-signed,
RSA-1024, revoked with a CRL the servers load).
"""
from __future__ import annotations

import datetime as dt
import fcntl
import functools
import ipaddress
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lab.children import scratch

ALGORITHMS = ("rsa", "ec")
# The external PSK the lab's server and its clients share for the PSK scenarios (TLS 1.3,
# SHA-256): an identity and a 32-byte key. A test secret, fixed so runs are comparable.
LAB_PSK = (b"certlab", bytes(range(0x40, 0x60)))
# What a client holds in the certificate-choice scenarios (role C, tag "wallet"), in the order it
# is given them, each of the rsa family: the CertificateRequest decides which one it should send.
WALLET = ("client",             # RSA key, issued by Lab Root CA RSA (CA A)
          "other-client",       # RSA key, issued by Other CA RSA (CA B)
          "client-p256",        # ECDSA P-256 key, issued by CA A
          "client-chained",     # RSA key, issued by Lab Intermediate CA RSA (under CA A), sent with it
          "client-eku-server")  # RSA key, issued by CA A, extKeyUsage serverAuth only (RFC 5280 4.2.1.12)
CLIENT_AUTH, SERVER_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH


@dataclass(frozen=True)
class Identity:
    """A certificate (PEM, possibly a chain: leaf first) and its key on disk."""
    cert: str
    key: str
    ca: str


@dataclass(frozen=True)
class Variant:
    """One client certificate the catalogue needs (all in the ``rsa`` folder)."""
    name: str
    key: str = "rsa2048"           # rsa2048 | rsa1024 | p256 | p384 | ed25519 | rsa-pss
    issuer: str = "ca"             # ca | intermediate | self
    eku: tuple = (CLIENT_AUTH,)
    digital_signature: bool = True
    valid_from: int = -1           # days from now
    valid_to: int = 3650
    digest: str = "sha256"
    revoked: bool = False
    doc: str = ""


VARIANTS = (
    Variant("client-p256", key="p256", doc="ECDSA P-256 client"),
    Variant("client-p384", key="p384", doc="ECDSA P-384 client"),
    Variant("client-ed25519", key="ed25519", doc="Ed25519 client"),
    Variant("client-pss", key="rsa-pss", doc="RSA-PSS (id-RSASSA-PSS key) client"),
    Variant("client-chained", issuer="intermediate",
            doc="client under an intermediate CA; .crt holds leaf+intermediate"),
    Variant("client-self-signed", issuer="self", doc="self-signed client"),
    Variant("client-expired", valid_from=-30, valid_to=-1, doc="expired yesterday"),
    Variant("client-not-yet-valid", valid_from=1, valid_to=30, doc="valid from tomorrow"),
    Variant("client-eku-server", eku=(SERVER_AUTH,), doc="EKU serverAuth only"),
    Variant("client-no-digsig", digital_signature=False, doc="keyUsage keyEncipherment, no digitalSignature"),
    Variant("client-sha1", digest="sha1", doc="certificate signed with SHA-1"),
    Variant("client-rsa1024", key="rsa1024", doc="RSA-1024 key"),
    Variant("client-revoked", revoked=True, doc="revoked in crl.pem"),
)


def _new_key(kind: str):
    if kind == "rsa1024":
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)
    if kind in ("rsa2048", "rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TLS Lab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: x509.Name, public_key, issuer: x509.Name, issuer_key, *, ca: bool, eku=None, san=None,
          key_encipherment: bool = False, digital_signature: bool = True, valid_from: int = -1,
          valid_to: int = 3650, digest: str = "sha256") -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
         .public_key(public_key).serial_number(x509.random_serial_number())
         .not_valid_before(now + dt.timedelta(days=valid_from)).not_valid_after(now + dt.timedelta(days=valid_to))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
         .add_extension(x509.KeyUsage(digital_signature=digital_signature, content_commitment=False,
                                      key_encipherment=key_encipherment or not digital_signature,
                                      data_encipherment=False, key_agreement=False, key_cert_sign=ca,
                                      crl_sign=ca, encipher_only=False, decipher_only=False), critical=True))
    if issuer != subject:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                            critical=False)
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    algo = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else \
        {"sha256": hashes.SHA256(), "sha1": hashes.SHA1()}[digest]
    return b.sign(issuer_key, algo)


def write_private(path: str, data: bytes) -> None:
    """Write a secret file readable by its owner only (0600 from the start), whole or not at all
    (a temporary name, then a rename)."""
    fd, tmp = tempfile.mkstemp(prefix=".certlab-", dir=os.path.dirname(os.path.abspath(path)))  # 0600, unique
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write(folder: str, stem: str, certs: list[x509.Certificate], key) -> None:
    with open(os.path.join(folder, f"{stem}.crt"), "wb") as fh:
        fh.write(b"".join(_pem(c) for c in certs))
    # PEM readers skip text before the BEGIN line: the file says what it is.
    write_private(os.path.join(folder, f"{stem}.key"),
                  f"certlab test PKI private key of {stem}: made for the lab; never use it elsewhere\n".encode()
                  + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))


def _openssl_leaf(folder: str, name: str, ca_cert: str, ca_key: str, key_args: list[str], digest: str) -> None:
    """A leaf ``cryptography`` cannot make (an id-RSASSA-PSS public key; a SHA-1 signature, which
    it refuses to produce): key and certificate come from the openssl CLI, installed with the stacks."""
    key, crt = os.path.join(folder, f"{name}.key"), os.path.join(folder, f"{name}.crt")
    with scratch("openssl-leaf") as tmp:
        csr, ext = os.path.join(tmp, "req.csr"), os.path.join(tmp, "ext.cnf")
        with open(ext, "w") as fh:
            fh.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                     "extendedKeyUsage=clientAuth\n")
        exe = shutil.which("openssl") or "openssl"
        for argv in ([exe, "genpkey", *key_args, "-out", key],
                     [exe, "req", "-new", "-key", key, "-subj", f"/O=TLS Lab/CN=lab-{name}", "-out", csr],
                     [exe, "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
                      "-CAserial", os.path.join(tmp, "ca.srl"), f"-{digest}", "-days", "3650", "-extfile", ext,
                      "-out", crt]):
            subprocess.run(argv, check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)


@dataclass(frozen=True)
class Pki:
    root: str

    def __post_init__(self) -> None:
        # Peers get these paths in their own working folders (nginx resolves a relative path
        # against its prefix): every path handed out is absolute.
        if isinstance(self.root, str):
            object.__setattr__(self, "root", os.path.abspath(self.root))

    def path(self, alg: str, name: str) -> str:
        return os.path.join(self.root, alg, name)

    def identity(self, alg: str, who: str) -> Identity:
        ca = "other-ca.crt" if who.startswith("other") else "ca.crt"
        return Identity(self.path(alg, f"{who}.crt"), self.path(alg, f"{who}.key"), self.path(alg, ca))

    def pkcs12(self, alg: str, who: str, path: str, password: bytes = b"changeit") -> str:
        """``who``'s key and certificate as PKCS#12 (for JSSE key stores and NSS databases)."""
        from cryptography.hazmat.primitives.serialization import pkcs12
        ident = self.identity(alg, who)
        with open(ident.key, "rb") as fh:
            key = serialization.load_pem_private_key(fh.read(), None)
        with open(ident.cert, "rb") as fh:
            certs = x509.load_pem_x509_certificates(fh.read())
        data = pkcs12.serialize_key_and_certificates(who.encode(), key, certs[0], certs[1:] or None,
                                                     serialization.BestAvailableEncryption(password))
        write_private(path, data)
        return path

    @property
    def dh_parameters(self) -> str:
        """RFC 7919 ffdhe2048 parameters (PEM, made once by ``openssl genpkey``: cryptography
        cannot produce a named finite-field group) for DHE servers: ours, Python's ssl, nginx."""
        path = os.path.join(self.root, "ffdhe2048.pem")
        if not os.path.exists(path):
            exe = shutil.which("openssl")
            if exe is None:
                raise FileNotFoundError("DHE needs the openssl program for its parameters: apt-get install openssl")
            # A name of its own: parallel matrix groups (threads of one process) make it at once.
            fd, tmp = tempfile.mkstemp(prefix=".ffdhe2048-", suffix=".tmp", dir=self.root)
            os.close(fd)
            try:
                subprocess.run([exe, "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048",
                                "-out", tmp], check=True, capture_output=True, timeout=30)
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        return path

    @property
    def crl(self) -> str:
        return self.path("rsa", "crl.pem")

    @property
    def crl_expired(self) -> str:
        """crl.pem's list, signed with a nextUpdate 30 days past."""
        return self.path("rsa", "crl-expired.pem")

    @classmethod
    def create(cls, root: str, under: tuple[x509.Certificate, object] | None = None) -> "Pki":
        """A new PKI in ``root``; ``under`` (a CA certificate and key: the user's) issues the
        ``rsa`` family's leaves and variants instead of a new lab root (the ``other-*`` stay
        unrelated, so that they remain untrusted)."""
        for alg in ALGORITHMS:
            folder = os.path.join(root, alg)
            os.makedirs(folder, exist_ok=True)
            label = "RSA" if alg == "rsa" else "ECDSA"
            kind = "rsa" if alg == "rsa" else "p256"
            ca_key, other_key = _new_key(kind), _new_key(kind)
            ca_name, other_name = _name(f"Lab Root CA {label}"), _name(f"Other CA {label}")
            ca = _cert(ca_name, ca_key.public_key(), ca_name, ca_key, ca=True)
            if under is not None and alg == "rsa":
                ca, ca_key = under
                ca_name = ca.subject
            _write(folder, "ca", [ca], ca_key)
            _write(folder, "other-ca", [_cert(other_name, other_key.public_key(), other_name, other_key, ca=True)],
                   other_key)
            srv_key = _new_key(kind)
            san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                   x509.IPAddress(ipaddress.ip_address("::1"))]
            _write(folder, "server", [_cert(_name("localhost"), srv_key.public_key(), ca_name, ca_key, ca=False,
                                            eku=(SERVER_AUTH,), san=san, key_encipherment=alg == "rsa")], srv_key)
            for stem, issuer, ikey in (("client", ca_name, ca_key), ("other-client", other_name, other_key)):
                k = _new_key(kind)
                cn = "lab-client" if stem == "client" else "other-client"
                _write(folder, stem, [_cert(_name(cn), k.public_key(), issuer, ikey, ca=False, eku=(CLIENT_AUTH,),
                                            san=[x509.RFC822Name(f"{cn}@lab.test")])], k)
            if alg == "rsa":
                cls._variants(folder, ca, ca_key)
        return cls(root)

    @staticmethod
    def _variants(folder: str, ca: x509.Certificate, ca_key) -> None:
        inter_key = _new_key("rsa")
        inter_name = _name("Lab Intermediate CA RSA")
        inter = _cert(inter_name, inter_key.public_key(), ca.subject, ca_key, ca=True)
        _write(folder, "intermediate", [inter], inter_key)
        revoked: list[x509.Certificate] = []
        for v in VARIANTS:
            if v.key == "rsa-pss" or v.digest == "sha1":
                key_args = (["-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"] if v.key == "rsa-pss"
                            else ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
                _openssl_leaf(folder, v.name, os.path.join(folder, "ca.crt"), os.path.join(folder, "ca.key"),
                              key_args, v.digest)
                continue
            key = _new_key(v.key)
            subject = _name(f"lab-{v.name}")
            issuer, ikey, chain = {"ca": (ca.subject, ca_key, []), "intermediate": (inter_name, inter_key, [inter]),
                                   "self": (subject, key, [])}[v.issuer]
            cert = _cert(subject, key.public_key(), issuer, ikey, ca=False, eku=v.eku,
                         digital_signature=v.digital_signature, valid_from=v.valid_from, valid_to=v.valid_to,
                         digest=v.digest)
            _write(folder, v.name, [cert, *chain], key)
            if v.revoked:
                revoked.append(cert)
        now = dt.datetime.now(dt.timezone.utc)
        crl = x509.CertificateRevocationListBuilder().issuer_name(ca.subject).last_update(now - dt.timedelta(days=1)) \
            .next_update(now + dt.timedelta(days=30))
        for cert in revoked:
            crl = crl.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
                                              .revocation_date(now - dt.timedelta(hours=1)).build())
        with open(os.path.join(folder, "crl.pem"), "wb") as fh:
            fh.write(crl.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
        # The same list, past its nextUpdate (RFC 5280 5.1.2.5): some servers then reject everyone.
        stale = x509.CertificateRevocationListBuilder().issuer_name(ca.subject) \
            .last_update(now - dt.timedelta(days=60)).next_update(now - dt.timedelta(days=30))
        for cert in revoked:
            stale = stale.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
                                                  .revocation_date(now - dt.timedelta(days=61)).build())
        with open(os.path.join(folder, "crl-expired.pem"), "wb") as fh:
            fh.write(stale.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))

    @classmethod
    def ensure(cls, root: str) -> "Pki":
        """The PKI in ``root``, created if it is missing or incomplete, and rebuilt (with a one-line
        warning) if it does not verify. Concurrent runs sharing ``root`` build it once: the build
        happens under a lock in a temporary folder whose family folders are then renamed into place."""
        pki = cls(root)
        if pki.problem() is None:
            return pki
        os.makedirs(pki.root, exist_ok=True)
        with open(os.path.join(pki.root, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            problem = pki.problem()
            if problem is None:
                return pki
            if problem != "incomplete":
                print(f"certlab: warning: the PKI in {pki.root} does not verify ({problem}); rebuilding it",
                      file=sys.stderr)
            build = tempfile.mkdtemp(prefix=".build-", dir=pki.root)
            try:
                cls.create(build)
                for alg in ALGORITHMS:
                    if os.path.lexists(pki.path(alg, "")):
                        os.rename(pki.path(alg, ""), os.path.join(build, f"old-{alg}"))
                    os.rename(os.path.join(build, alg), pki.path(alg, ""))
            finally:
                shutil.rmtree(build, ignore_errors=True)
        return pki

    def problem(self) -> str | None:
        """Why this PKI cannot be used as it is ("incomplete", or the first key that does not match
        its certificate, or certificate its issuer did not sign), or None."""
        leaves = [(stem, "ca") for stem in ("server", "client")] + [("other-client", "other-ca")]
        variants = [(v.name, {"ca": "ca", "intermediate": "intermediate", "self": v.name}[v.issuer])
                    for v in VARIANTS]
        try:
            for alg in ALGORITHMS:
                for stem, issuer in [("ca", "ca"), ("other-ca", "other-ca"), *leaves,
                                     *([("intermediate", "ca"), *variants] if alg == "rsa" else [])]:
                    cert = x509.load_pem_x509_certificate(_read(self.path(alg, f"{stem}.crt")))
                    key = serialization.load_pem_private_key(_read(self.path(alg, f"{stem}.key")), None,
                                                             unsafe_skip_rsa_key_validation=True)
                    if _spki(key.public_key()) != _spki(cert.public_key()):
                        return f"{alg}/{stem}.key is not the key of {alg}/{stem}.crt"
                    issuer_cert = x509.load_pem_x509_certificate(_read(self.path(alg, f"{issuer}.crt")))
                    if cert.issuer != issuer_cert.subject:
                        return f"{alg}/{stem}.crt was not issued by {alg}/{issuer}.crt"
                    if cert.signature_hash_algorithm is None or cert.signature_hash_algorithm.name != "sha1":
                        cert.verify_directly_issued_by(issuer_cert)  # cryptography verifies no SHA-1 signature
            for alg, stem in (("rsa", "crl"), ("rsa", "crl-expired")):
                crl = x509.load_pem_x509_crl(_read(self.path(alg, f"{stem}.pem")))
                if not crl.is_signature_valid(x509.load_pem_x509_certificate(_read(self.path("rsa", "ca.crt")))
                                              .public_key()):
                    return f"rsa/{stem}.pem is not signed by rsa/ca.crt"
        except FileNotFoundError:
            return "incomplete"
        except InvalidSignature:
            return f"{alg}/{stem}.crt was not signed by its issuer's key"
        except (ValueError, TypeError):
            return f"{alg}/{stem}: a file is not the PEM certificate or key it should be"
        return None


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_chain(path: str) -> list[bytes]:
    """The DER certificates of a PEM file, leaf first, parsed once per file version."""
    return list(_load_chain(path, os.stat(path).st_mtime_ns))


def load_key(path: str):
    """A private key from PEM, parsed once per file version (RSA key checks cost ~30 ms)."""
    return _load_key(path, os.stat(path).st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _load_chain(path: str, mtime: int) -> tuple[bytes, ...]:
    with open(path, "rb") as fh:
        return tuple(c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(fh.read()))


@functools.lru_cache(maxsize=64)
def _load_key(path: str, mtime: int):
    with open(path, "rb") as fh:
        return serialization.load_pem_private_key(fh.read(), None)
