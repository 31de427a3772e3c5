"""Folder names a user may really have (spaces, ';', '$', '#', quotes, a newline, non-ASCII
letters) reach every managed stack: as a PKI folder and as a report folder, with the matrix run
from inside a folder named the same way. A stack that cannot start shows as an error cell."""
from __future__ import annotations

import json
import os
import subprocess
import sys

ODD = "My Lab; $HOME #'\"\nü"
CERTLAB = [sys.executable, "-m", "lab"]
SERVERS = {"openssl", "python", "nginx", "gnutls", "go", "java", "nss", "apache", "haproxy", "lighttpd-openssl",
           "lighttpd-gnutls", "lighttpd-wolfssl", "lighttpd-mbedtls", "stunnel", "node", "erlang", "tlslite",
           "postgresql", "mosquitto", "dovecot", "postfix", "mariadb"}
CLIENTS = {"openssl", "curl", "gnutls", "python", "nss", "go", "java", "node", "erlang", "tlslite", "wget", "chromium"}


def test_a_matrix_with_odd_folder_names_runs_on_every_stack(tmp_path) -> None:
    base = tmp_path / ODD
    base.mkdir()
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run([*CERTLAB, "matrix", "--scenarios", "tls13-client-cert,revoked-client-cert,srv-tls12-dhe",
                           "--pki", os.path.join(ODD, "pki"), "--out", f"Report; {ODD}"],
                          cwd=base, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    results = json.loads((base / f"Report; {ODD}" / "results.json").read_text())["results"]
    errors = [(r["stack"], r["role"], r["scenario"], r["reason"]) for r in results if r["verdict"] == "error"]
    assert errors == []
    assert {r["stack"] for r in results if r["role"] == "server"} == SERVERS
    assert {r["stack"] for r in results if r["role"] == "client"} == CLIENTS
    # nginx judged the revoked certificate from the CRL it found in the odd folder
    nginx = [r for r in results if r["stack"] == "nginx" and r["scenario"] == "revoked-client-cert"]
    assert nginx and all(r["verdict"] == "pass" for r in nginx)


def test_a_build_cache_ld_preload_cannot_hold_is_refused_in_one_line(tmp_path) -> None:
    cache = tmp_path / "cache with space"
    env = dict(os.environ, XDG_CACHE_HOME=str(cache),
               PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run([*CERTLAB, "run", "tls13-client-cert", "--stack", "gnutls", "--pki", str(tmp_path / "pki")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "set XDG_CACHE_HOME to a folder without them" in proc.stdout + proc.stderr
