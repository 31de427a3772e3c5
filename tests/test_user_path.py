"""The user's path: the README's commands as written (the ``certlab`` the venv installs, relative
paths, run from a folder of the user's), reports opened from their own folder, answers that must
be true. Each test here failed on the code before it was written."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from html.parser import HTMLParser

import pytest

from tests.tshark_ref import tshark_view

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CERTLAB = os.path.join(os.path.dirname(sys.executable), "certlab")


def certlab(*args: str, cwd: str, timeout: float = 300, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([CERTLAB, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, input=stdin)


def one_line_error(proc: subprocess.CompletedProcess, *words: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()
        self.headers: list[str] = []
        self._th = False

    def handle_starttag(self, tag, attrs) -> None:
        a = dict(attrs)
        if a.get("href"):
            self.hrefs.append(a["href"])
        if a.get("id"):
            self.ids.add(a["id"])
        self._th = tag == "th" or (self._th and tag in ("br", "small"))

    def handle_endtag(self, tag) -> None:
        if tag == "th":
            self._th = False

    def handle_data(self, data) -> None:
        if self._th:
            self.headers.append(data)


def assert_links_resolve(folder: str) -> Links:
    """Every href of report.html and every link of report.md resolves from the report's folder."""
    links = Links()
    with open(os.path.join(folder, "report.html"), encoding="utf-8") as fh:
        links.feed(fh.read())
    assert links.hrefs
    for href in links.hrefs:
        if href.startswith("#"):
            assert href[1:] in links.ids, href
        else:
            assert not os.path.isabs(href) and os.path.exists(os.path.join(folder, href)), href
    with open(os.path.join(folder, "report.md"), encoding="utf-8") as fh:
        for href in re.findall(r"\]\(([^)]+)\)", fh.read()):
            assert os.path.exists(os.path.join(folder, href)), href
    return links


@pytest.mark.stack
def test_matrix_with_a_relative_out_runs_nginx_and_links_from_its_folder(tmp_path) -> None:
    """scripts/setup's own command (`--out certlab-report`, relative): nginx resolved relative PKI
    paths against its prefix and every nginx cell was shown as n/a."""
    proc = certlab("matrix", "--stacks", "nginx,openssl", "--scenarios", "tls13-cv-wrong-key,tls12-cv-wrong-key",
                   "--out", "certlab-report", cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = tmp_path / "certlab-report"
    doc = json.loads((report / "results.json").read_text())
    nginx = [r for r in doc["results"] if r["stack"] == "nginx"]
    assert nginx and all(r["verdict"] in ("pass", "fail") for r in nginx), nginx
    assert all(r["role"] == "server" and r["version"].startswith("nginx/") for r in nginx)
    assert doc["counts"]["error"] == 0 and doc["command"].startswith("certlab matrix") and doc["date"]
    for r in doc["results"]:
        assert r["pcap"] and not os.path.isabs(r["pcap"]) and (report / r["pcap"]).exists()
    links = assert_links_resolve(str(report))
    assert any(h.startswith("nginx/") for h in links.headers) and "server" in links.headers
    md = (report / "report.md").read_text()
    assert "pass" in md.splitlines()[2] and "Command: certlab matrix" in md
    # The ladder of a cell, checked against tshark's reading of the same pcap.
    cell = next(r for r in doc["results"] if r["stack"] == "openssl" and r["tls_version"] == "1.2")
    view = tshark_view(str(report / cell["pcap"]))
    drawn = [(s["from"], s["name"]) for s in cell["ladder"] if s["readable"] and "Alert" not in s["name"]
             and s["name"] not in ("Change Cipher Spec",) and not s["name"].startswith("Application Data")]
    assert len(drawn) == sum(1 for d in ("client", "server") for k, _ in view.messages[d] if k == "handshake")
    assert ("client", "Certificate Verify") in drawn and ("server", "Certificate Request") in drawn
    assert "<svg" in (report / "report.html").read_text()

    # Moved, the folder still resumes: every finished cell kept, every link still resolves.
    moved = tmp_path / "moved report"
    shutil.move(str(report), str(moved))
    cells = {p.name: p.stat().st_mtime_ns for p in (moved / "cells").glob("*.json")}
    again = certlab("matrix", "--stacks", "nginx,openssl", "--scenarios", "tls13-cv-wrong-key,tls12-cv-wrong-key",
                    "--out", "moved report", "--resume", cwd=str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in (moved / "cells").glob("*.json")} == cells
    assert_links_resolve(str(moved))

    # A re-run without --resume starts clean: no pcap of the old run stays beside the new report.
    stale = moved / "pcaps" / "old-run.pcapng"
    stale.write_bytes(b"")
    fresh = certlab("matrix", "--stacks", "openssl", "--scenarios", "tls13-cv-wrong-key", "--out", "moved report",
                    cwd=str(tmp_path))
    assert fresh.returncode == 0 and not stale.exists()
    assert len(json.loads((moved / "results.json").read_text())["results"]) == 1


@pytest.mark.stack
def test_a_peer_that_cannot_start_is_an_error_cell_named_in_the_summary(tmp_path, pki) -> None:
    # An openssl whose s_server refuses to start (as with a certificate it cannot load); the rest
    # of openssl works.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "openssl").write_text(f"#!/bin/sh\n[ \"$1\" = s_server ] && {{ echo 'cannot load certificate' >&2; exit 1; }}\n"
                                  f"exec {shutil.which('openssl')} \"$@\"\n")
    (fake / "openssl").chmod(0o755)
    proc = subprocess.run([CERTLAB, "matrix", "--stacks", "openssl", "--scenarios", "tls13-cv-wrong-key", "--out", "r",
                           "--pki", pki.root], capture_output=True, text=True, cwd=str(tmp_path), timeout=300,
                          env=dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"error: openssl: 1 cell\(s\) could not run: openssl did not start", proc.stdout), proc.stdout
    doc = json.loads((tmp_path / "r" / "results.json").read_text())
    [cell] = doc["results"]
    assert cell["verdict"] == "error" and "did not start" in cell["reason"]
    assert "n/a" not in (tmp_path / "r" / "report.md").read_text().split("## certlab as the client")[1]
    assert "Failures and errors first" in (tmp_path / "r" / "report.html").read_text()


def test_disagreements_are_outcomes_or_alerts_not_wording() -> None:
    from lab.play.report import disagreements

    def cell(stack, outcome, alert=None, when=None, status=None):
        return {"scenario": "s", "tls_version": "1.3", "stack": stack, "role": "server", "verdict": "pass",
                "expected": ["x"], "rfc": "r", "observed": {"outcome": outcome, "alert": alert, "when": when,
                                                            "http_status": status}}
    same = [cell("a", "alert", "unknown_ca", "after_client_finished"),
            cell("b", "alert", "unknown_ca", "on_first_read"), cell("c", "success", status=200),
            cell("d", "success")]
    assert [d[2] for d in disagreements(same[:2])] == []
    assert [d[2] for d in disagreements(same[2:])] == []
    assert len(disagreements(same)) == 1
    assert len(disagreements([cell("a", "alert", "unknown_ca"), cell("b", "alert", "bad_certificate")])) == 1


@pytest.mark.stack
def test_serve_reports_the_servers_rejection_and_prints_json_alone(tmp_path) -> None:
    """srv-tls13-reject-after-finished against `openssl s_client`: the server sends
    certificate_required; serve said `PASS ... success`, and printed a line before the JSON."""
    assert certlab("pki", "init", "pk", cwd=str(tmp_path)).returncode == 0
    serve = subprocess.Popen([CERTLAB, "serve", "srv-tls13-reject-after-finished", "--pki", "pk", "--json",
                              "--wait", "30"], cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        line = serve.stderr.readline()
        port = re.search(r"127\.0\.0\.1:(\d+)", line).group(1)
        client = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-cert", "pk/rsa/client.crt",
                                 "-key", "pk/rsa/client.key", "-CAfile", "pk/rsa/ca.crt", "-quiet"],
                                input="GET / HTTP/1.0\r\n\r\n", capture_output=True, text=True, cwd=str(tmp_path),
                                timeout=30)
        out, err = serve.communicate(timeout=30)
    finally:
        serve.kill()
    assert "certificate required" in client.stderr
    observed = json.loads(out)["results"][0]["observed"]   # stdout is the JSON alone
    assert observed["outcome"] == "closed" and observed["server_alert"] == 116, observed
    assert observed["client_exit"] is None   # certlab did not run that client: no exit status to report
    from lab.play.observed import CellResult
    from lab.play.text import render
    text = render([CellResult.from_json(json.loads(out)["results"][0])], False)
    assert "certlab sent certificate_required (116)" in text and "success" not in text.splitlines()[0]


def _listener(behaviour: str) -> tuple[socket.socket, threading.Thread]:
    srv = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        conn, _ = srv.accept()
        if behaviour == "http":
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        else:
            threading.Event().wait(8)   # accepts, never answers
        conn.close()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return srv, t


@pytest.mark.parametrize("behaviour,words", [("http", "is not a TLS server"), ("silent", "sent nothing")])
def test_probe_of_something_that_is_not_a_tls_server(tmp_path, behaviour, words) -> None:
    srv, _ = _listener(behaviour)
    try:
        proc = certlab("probe", f"127.0.0.1:{srv.getsockname()[1]}", "--tls", "1.3", "--timeout", "1",
                       cwd=str(tmp_path), timeout=60)
    finally:
        srv.close()
    one_line_error(proc, words)


@pytest.mark.stack
def test_replay_tells_a_chain_rejection_from_a_signature_check(tmp_path, pki) -> None:
    from lab.peers.servers import server_classes
    proc = certlab("run", "tls12-untrusted-client-cert", "--stack", "python", "--pcap-dir", "caps", "--pki",
                   pki.root, cwd=str(tmp_path))
    [pcap] = list((tmp_path / "caps").glob("*.pcapng"))
    with server_classes()["openssl"](pki, "1.2", "required", str(tmp_path)) as peer:
        replay = certlab("replay", str(pcap), "--to", f"127.0.0.1:{peer.port}", cwd=str(tmp_path))
    assert replay.returncode == 1, replay.stderr + proc.stdout     # the signature was never judged
    assert "not comparable: the server rejected the captured chain itself (unknown_ca" in replay.stdout
    assert "refused, though not with decrypt_error" not in replay.stdout


@pytest.mark.parametrize("capture", ["tls12-no-certificate-handshake-failure.pcapng",
                                     "tls13-client-choice-empty-certificate.pcapng"])
def test_replay_of_an_empty_certificate_says_so(tmp_path, capture) -> None:
    proc = certlab("replay", os.path.join(ROOT, "pcaps", capture), "--to", "127.0.0.1:9", cwd=str(tmp_path))
    line = one_line_error(proc, "empty Certificate")
    assert "--keylog" not in line


@pytest.mark.stack
def test_the_shell_stops_every_peer_it_started(tmp_path, pki) -> None:
    script = ("s = server('openssl', '1.3')\ns.__enter__()\nopen('port', 'w').write(str(s.port))\n"
              "c = connect(s.port)\n")
    proc = certlab("shell", "--pki", pki.root, cwd=str(tmp_path), stdin=script, timeout=120)
    port = int((tmp_path / "port").read_text())
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    left = subprocess.run(["pgrep", "-f", f"s_server -accept 127.0.0.1:{port}"], capture_output=True, text=True)
    assert not left.stdout.strip(), left.stdout


def test_pki_init_refuses_to_replace_a_pki(tmp_path) -> None:
    assert certlab("pki", "init", "my pki", cwd=str(tmp_path)).returncode == 0
    ca = (tmp_path / "my pki" / "rsa" / "ca.crt").read_bytes()
    one_line_error(certlab("pki", "init", "my pki", cwd=str(tmp_path)), "already holds a PKI", "--force")
    assert (tmp_path / "my pki" / "rsa" / "ca.crt").read_bytes() == ca
    assert certlab("pki", "init", "my pki", "--force", cwd=str(tmp_path)).returncode == 0
    assert (tmp_path / "my pki" / "rsa" / "ca.crt").read_bytes() != ca


@pytest.mark.stack
def test_openssl_answers_http_like_the_other_stacks(tmp_path, pki) -> None:
    proc = certlab("run", "client-cert-p256", "--tls", "1.3", "--stack", "openssl", "--json", "--pki", pki.root,
                   cwd=str(tmp_path))
    [r] = json.loads(proc.stdout)["results"]
    assert r["observed"]["response"].startswith("HTTP/1.0 200"), r["observed"]
    assert r["observed"]["http_status"] == 200


@pytest.mark.parametrize("args,words", [
    (["dissect", "{capture}", "--out", "missing/out.txt"], ["does not exist"]),
    (["run", "tls13-cv-wrong-key", "--pcap-dir", "afile"], ["--pcap-dir", "is a file"]),
    (["run", "tls13-cv-wrong-key", "--pki", "afile"], ["--pki", "is a file"]),
    (["run", "tls13-cv-wrong-key", "--timeout", "0"], ["--timeout", "positive"]),
    (["serve", "srv-ca-names-issuer", "--port", "70000"], ["--port 70000"]),
    (["sniff", "--port", "443", "--duration", "-1"], ["--duration", "positive"]),
    (["sniff", "--port", "443", "--keylog", "nope.keys"], ["--keylog", "no such file"]),
    (["sniff", "--port", "443", "--out", "missing/x.pcapng"], ["does not exist"]),
    (["matrix", "--out", "afile"], ["is a file"]),
    (["matrix", "--stacks", "boringssl", "--out", "r"], ["unknown stack 'boringssl'", "openssl"]),
    (["matrix", "--rows", "Z9", "--out", "r"], ["unknown row 'Z9'", "A"]),
    (["matrix", "--tls", "1.4", "--out", "r"], ["unknown TLS version '1.4'", "1.3"]),
])
def test_arguments_are_checked_before_any_work(tmp_path, args, words) -> None:
    (tmp_path / "afile").write_text("x")
    capture = os.path.join(ROOT, "pcaps", "tls13-client-auth.pcapng")
    proc = certlab(*[a.replace("{capture}", capture) for a in args], cwd=str(tmp_path), timeout=60)
    one_line_error(proc, *words)
    assert not (tmp_path / "missing").exists() and not (tmp_path / "r").exists()


def _readme_usage(command: str, readme: str) -> str:
    found = [m.group(0) for m in re.finditer(rf"^certlab {command}\b(.*?)(?=^\S|^```)", readme, re.S | re.M)]
    assert found, f"the README shows no usage line for certlab {command}"
    return "".join(found)   # every usage form (``run`` against a stack, and ``run --to``)


def test_every_option_is_in_the_readme_and_has_help() -> None:
    from lab.cli import build_parser
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        readme = fh.read()
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        usage = _readme_usage(name, readme)
        for action in p._actions:
            if action.dest == "help":
                continue
            assert action.help, f"certlab {name} {action.option_strings or action.dest} has no help"
            for opt in action.option_strings:
                assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", usage), f"README: certlab {name} lacks {opt}"
    run_help = subprocess.run([CERTLAB, "run", "--help"], capture_output=True, text=True).stdout
    assert "nginx" in run_help and "curl" in run_help   # both roles' stacks
    listing = subprocess.run([CERTLAB, "list"], capture_output=True, text=True).stdout
    assert "Stacks (server role):" in listing and "Client programs:" in listing


def test_dissect_json_names_the_sni_and_the_schemes() -> None:
    proc = subprocess.run([CERTLAB, "dissect", os.path.join(ROOT, "pcaps", "tls13-client-auth.pcapng"), "--json"],
                          capture_output=True, text=True)
    hello = json.loads(proc.stdout)["connections"][0]["messages"][0]
    assert hello["server_name"] == "localhost"
    assert "rsa_pss_rsae_sha256" in hello["signature_algorithms"] and "x25519" in hello["supported_groups"]


def test_layers_build_a_record_from_a_message_and_name_bad_arguments() -> None:
    code = ("from layers import *\n"
            "r = TLSPlaintext(type=22)/(Handshake()/Finished(verify_data=b'x'*12))\n"
            "b = raw(r); p = TLSPlaintext(b)\n"
            "assert p.length == 16 and bytes(p) == b and p.messages[0].msg_type == 20, p.length\n"
            "hexdump(r); ls(Finished)\n"
            "try:\n    ClientHello(cipher_suites='abc')\nexcept TypeError as e:\n    print('TE', e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "TE ClientHello(cipher_suites='abc')" in proc.stdout


@pytest.mark.stack
def test_run_verbose_shows_each_message_and_keeps_stdout_json(tmp_path, pki) -> None:
    proc = certlab("run", "tls13-cv-wrong-key", "--stack", "openssl", "-v", "--json", "--pki", pki.root,
                   cwd=str(tmp_path))
    [r] = json.loads(proc.stdout)["results"]   # stdout is the JSON alone
    assert r["observed"]["alert"] == "decrypt_error"
    lines = proc.stderr.splitlines()
    assert any("<- server  Certificate Request" in line and "encrypted" in line for line in lines), lines
    assert any("CA names: CN=Lab Root CA RSA" in line for line in lines)
    assert any("us ->  Certificate Verify" in line for line in lines)
    assert any("<- server  Alert decrypt_error" in line for line in lines)
