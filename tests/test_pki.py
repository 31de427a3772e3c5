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


def test_runs_creating_one_new_pki_at_once_build_it_once(tmp_path) -> None:
    """Four processes ensure the same new PKI folder at the same moment (it used to come out with
    certificates that do not match their keys): every key matches its certificate and every
    certificate verifies under its issuer, as openssl checks them."""
    import sys
    root = str(tmp_path / "shared pki")
    code = "import sys; from lab.pki import Pki; Pki.ensure(sys.argv[1])"
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    procs = [subprocess.Popen([sys.executable, "-c", code, root], cwd=repo, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    assert [p.wait(120) for p in procs] == [0, 0, 0, 0]
    assert all(p.stderr.read() == "" for p in procs)
    for alg, leaf, ca in (("rsa", "client", "ca"), ("rsa", "server", "ca"), ("ec", "client", "ca"),
                          ("ec", "other-client", "other-ca"), ("rsa", "client-p256", "ca")):
        folder = os.path.join(root, alg)
        key_pub = subprocess.run(["openssl", "pkey", "-in", os.path.join(folder, f"{leaf}.key"), "-pubout"],
                                 capture_output=True, text=True).stdout
        cert_pub = subprocess.run(["openssl", "x509", "-in", os.path.join(folder, f"{leaf}.crt"), "-noout",
                                   "-pubkey"], capture_output=True, text=True).stdout
        assert key_pub and key_pub == cert_pub, (alg, leaf)
        verify = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(folder, f"{ca}.crt"),
                                 os.path.join(folder, f"{leaf}.crt")], capture_output=True, text=True)
        assert verify.returncode == 0, verify.stdout + verify.stderr
    assert [n for n in os.listdir(root) if n.startswith(".build-")] == []


def test_a_pki_that_does_not_verify_is_rebuilt_with_one_line(tmp_path) -> None:
    import shutil
    import sys
    from lab.pki import Pki
    root = str(tmp_path / "pki")
    pki = Pki.create(root)
    shutil.copy(pki.path("rsa", "server.key"), pki.path("rsa", "client.key"))
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-m", "lab", "run", "tls12-ecdhe-client-cert", "--stack", "python",
                           "--pki", root], cwd=repo, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [f"certlab: warning: the PKI in {root} does not verify "
                                        "(rsa/client.key is not the key of rsa/client.crt); rebuilding it"]
    assert Pki(root).problem() is None
