"""The test PKI, judged by OpenSSL's own verifier (independent of how we built it)."""
from __future__ import annotations

import os
import stat
import subprocess

import pytest

from lab.pki import VARIANTS

EXPECTED = {  # variant -> openssl verify error (None: verifies)
    "client": None, "client-p256": None, "client-p384": None, "client-ed25519": None, "client-pss": None,
    "client-chained": None, "client-sha1": None, "client-rsa1024": None,
    "client-expired": "certificate has expired", "client-not-yet-valid": "certificate is not yet valid",
    "client-eku-server": "unsuitable certificate purpose", "client-no-digsig": "unsuitable certificate purpose",
    "client-revoked": "certificate revoked", "client-self-signed": "self-signed certificate",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_variant_as_openssl_sees_it(pki, name: str) -> None:
    folder = os.path.join(pki.root, "rsa")
    argv = ["openssl", "verify", "-purpose", "sslclient", "-CAfile", os.path.join(folder, "ca.crt"),
            "-untrusted", os.path.join(folder, "intermediate.crt")]
    if name == "client-revoked":
        argv += ["-crl_check", "-CRLfile", pki.crl]
    out = subprocess.run(argv + [os.path.join(folder, f"{name}.crt")], capture_output=True, text=True)
    if EXPECTED[name] is None:
        assert out.returncode == 0, out.stdout + out.stderr
    else:
        assert out.returncode != 0 and EXPECTED[name] in out.stdout + out.stderr


def test_every_variant_is_checked_and_keys_are_private(pki) -> None:
    assert {v.name for v in VARIANTS} | {"client"} == set(EXPECTED)
    for alg in ("rsa", "ec"):
        for name in os.listdir(os.path.join(pki.root, alg)):
            if name.endswith(".key"):
                assert stat.S_IMODE(os.stat(os.path.join(pki.root, alg, name)).st_mode) == 0o600, name


def test_key_types(pki) -> None:
    def text(name: str) -> str:
        path = os.path.join(pki.root, "rsa", f"{name}.crt")
        return subprocess.run(["openssl", "x509", "-noout", "-text", "-in", path],
                              capture_output=True, text=True, check=True).stdout
    assert "rsassaPss" in text("client-pss")
    assert "ED25519" in text("client-ed25519")
    assert "secp384r1" in text("client-p384") or "P-384" in text("client-p384")
    assert "1024 bit" in text("client-rsa1024")
    assert "sha1WithRSAEncryption" in text("client-sha1")
