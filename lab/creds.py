"""The user's own credentials: a client certificate chain and its key from PEM, DER or PKCS#12
files (``--cert/--key/--chain``, ``--p12``), a key password from a file or the environment
(never the command line), and a CA (``--client-ca/--client-ca-key``) to mint faulty variants
under. Every failure is a ``CredentialError`` with one line naming the file and the fix."""
from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

PASSWORD_VARIABLE = "CERTLAB_KEY_PASSWORD"
_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


class CredentialError(ValueError):
    """Credentials that cannot be used, with the one-line reason."""


@dataclass(frozen=True)
class Credentials:
    chain: tuple[bytes, ...]     # DER, leaf first
    key: object                  # the leaf's private key
    source: str                  # the files they came from, for reports

    @property
    def subject(self) -> str:
        return x509.load_der_x509_certificate(self.chain[0]).subject.rfc4514_string()

    @property
    def common_name(self) -> str:
        return common_name(self.chain[0])


def common_name(der: bytes) -> str:
    """A certificate's CN (the user name PostgreSQL's ``cert`` authentication maps it to)."""
    from cryptography.x509.oid import NameOID
    names = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else "certlab"


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(1 << 20)
    except OSError as exc:
        raise CredentialError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def password(password_file: str | None) -> bytes | None:
    """The key password: the first line of ``password_file``, else $CERTLAB_KEY_PASSWORD, else None."""
    if password_file:
        lines = _read(password_file, "password file").splitlines()
        return lines[0] if lines else b""
    value = os.environ.get(PASSWORD_VARIABLE)
    return value.encode() if value is not None else None


def load_certificates(path: str, what: str = "certificate file") -> list[bytes]:
    """DER certificates of a PEM file (one or more, in file order) or of one DER certificate."""
    data = _read(path, what)
    try:
        if b"-----BEGIN" in data:
            return [c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(data)]
        return [x509.load_der_x509_certificate(data).public_bytes(serialization.Encoding.DER)]
    except ValueError:
        raise CredentialError(f"{path}: not a certificate in PEM or DER form") from None


def load_private_key(path: str, secret: bytes | None):
    """A private key from PEM or DER (PKCS#8, or the traditional RSA/EC forms), encrypted or not."""
    data = _read(path, "key file")
    loader = serialization.load_pem_private_key if b"-----BEGIN" in data else serialization.load_der_private_key
    try:
        try:
            return loader(data, secret)
        except TypeError:
            if secret is None:
                raise
            return loader(data, None)   # a password for another file (the PKCS#12, the client key)
    except TypeError:
        raise CredentialError(f"{path} is encrypted: give --password-file FILE or set {PASSWORD_VARIABLE}") \
            from None
    except ValueError:
        if secret is not None and b"ENCRYPTED" in data:
            raise CredentialError(f"{path}: the password does not decrypt this key") from None
        raise CredentialError(f"{path}: not a private key in PEM or DER form (PKCS#8, PKCS#1 or SEC1)") from None
    except Exception as exc:   # an algorithm cryptography does not support
        raise CredentialError(f"{path}: cannot load this key ({type(exc).__name__}: {exc})") from None


def _matching(chain: list[bytes], key, source: str) -> Credentials:
    leaf = x509.load_der_x509_certificate(chain[0])
    if leaf.public_key().public_bytes(*_SPKI) != key.public_key().public_bytes(*_SPKI):
        raise CredentialError(f"{source}: the key does not match the certificate "
                              f"({leaf.subject.rfc4514_string()}); give the key the certificate was issued for")
    return Credentials(tuple(chain), key, source)


def load_p12(path: str, secret: bytes | None) -> Credentials:
    data = _read(path, "PKCS#12 file")
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, secret)
    except ValueError:
        if secret is None:
            raise CredentialError(f"{path}: not a PKCS#12 file, or one with a password: give --password-file "
                                  f"FILE or set {PASSWORD_VARIABLE}") from None
        raise CredentialError(f"{path}: not a PKCS#12 file, or the password does not open it") from None
    if key is None or cert is None:
        raise CredentialError(f"{path}: the PKCS#12 file holds no {'key' if key is None else 'certificate'}")
    der = serialization.Encoding.DER
    return _matching([cert.public_bytes(der), *(c.public_bytes(der) for c in extra or [])], key, path)


def load_credentials(cert: str | None = None, key: str | None = None, chain: str | None = None,
                     p12: str | None = None, password_file: str | None = None) -> Credentials | None:
    """The client's credentials from the options given, None when none were."""
    secret = password(password_file)
    if p12:
        if cert or key:
            raise CredentialError("give either --p12 or --cert/--key, not both")
        return load_p12(p12, secret)
    if not cert and not key:
        return None
    if not (cert and key):
        raise CredentialError("--cert and --key go together (or give --p12)")
    certs = load_certificates(cert)
    if chain:
        certs += load_certificates(chain, "chain file")
    return _matching(certs, load_private_key(key, secret), f"{cert}, {key}")


def load_ca(cert: str, key: str, password_file: str | None = None) -> tuple[x509.Certificate, object]:
    """The user's CA (certificate and key) to mint faulty client certificates under."""
    ca = x509.load_der_x509_certificate(load_certificates(cert, "CA certificate file")[0])
    ca_key = load_private_key(key, password(password_file))
    _matching([ca.public_bytes(serialization.Encoding.DER)], ca_key, f"{cert}, {key}")
    return ca, ca_key


def check_client_chain(chain: list[bytes], ca_file: str) -> str | None:
    """Why a client's chain does not verify to the CAs of ``ca_file`` for TLS client
    authentication, or None when it does. ``openssl verify -purpose sslclient`` decides, as the
    OpenSSL-based servers (nginx, PostgreSQL, Apache...) do: cryptography's client verifier
    insists on a subjectAltName, which those servers do not, so it would call good chains bad."""
    import shutil
    import subprocess
    from lab.children import scratch
    exe = shutil.which("openssl")
    if exe is None:
        raise CredentialError("checking the client's chain needs the openssl program: apt-get install openssl")
    pem = [x509.load_der_x509_certificate(c).public_bytes(serialization.Encoding.PEM) for c in chain]
    with scratch("verify") as tmp:
        leaf, rest = os.path.join(tmp, "leaf.pem"), os.path.join(tmp, "chain.pem")
        with open(leaf, "wb") as fh:
            fh.write(pem[0])
        with open(rest, "wb") as fh:
            fh.write(b"".join(pem[1:]))
        argv = [exe, "verify", "-purpose", "sslclient", "-CAfile", ca_file] + (["-untrusted", rest] if pem[1:] else [])
        out = subprocess.run([*argv, leaf], capture_output=True, text=True, timeout=30)
    if out.returncode == 0:
        return None
    errors = [line.strip() for line in (out.stdout + out.stderr).splitlines()
              if line.startswith("error ") and "verification failed" not in line]
    subject = x509.load_der_x509_certificate(chain[0]).subject.rfc4514_string()
    return f"the client's certificate ({subject}) does not verify to {ca_file}: " + ("; ".join(errors) or "refused")
