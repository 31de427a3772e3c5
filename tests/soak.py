"""Soak: many ``certlab run`` invocations against real stacks, some interrupted (SIGINT or
SIGTERM to certlab at a random moment) and some with their peer killed (SIGKILL to the server
or client program mid-run); afterwards no peer process, listening port, network namespace or
temporary folder may remain. ``tests/test_soak.py`` runs a short soak in CI; the full one is

    .venv/bin/python tests/soak.py --runs 1000
"""
from __future__ import annotations

import argparse
import glob
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

PEER_PROGRAMS = ("s_server", "s_client", "gnutls-serv", "gnutls-cli", "selfserv", "tstclnt", "nginx", "curl",
                 "LabServer", "LabClient", "labserver", "labclient", "tcpdump")
CLIENT_ROLE = [("tls13-client-cert", "openssl"), ("tls12-no-cert-required", "openssl"),
               ("tls13-cv-wrong-key", "gnutls"), ("tls12-ecdhe-client-cert", "nss"),
               ("tls13-untrusted-client-cert", "python"),
               ("tls13-client-cert", "nginx"), ("tls12-renegotiation-client-cert", "openssl")]
SERVER_ROLE = [("srv-ca-names-other", "openssl"), ("srv-tls13-reject-after-finished", "gnutls"),
               ("srv-tls13-pha", "nss"), ("srv-ca-names-issuer", "curl")]


def peers() -> set[tuple[int, str]]:
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    found = set()
    for line in out.splitlines():
        pid, _, args = line.strip().partition(" ")
        if any(p in args for p in PEER_PROGRAMS) and "soak.py" not in args:
            found.add((int(pid), args[:100]))
    return found


def listening() -> set[str]:
    out = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True).stdout
    return {line.split()[3] for line in out.splitlines() if line.strip()}


def netns() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def temp_dirs() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "certlab-*")))


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def one_run(sid: str, stack: str, pki: str, action: str, rnd: random.Random) -> int | None:
    proc = subprocess.Popen([sys.executable, "-m", "lab", "run", sid, "--stack", stack, "--pki", pki], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if action != "plain":
        time.sleep(rnd.uniform(0.3, 2.5))
        if action in ("sigint", "sigterm"):
            proc.send_signal(signal.SIGINT if action == "sigint" else signal.SIGTERM)
        else:   # kill the peer (a child of certlab) as if it crashed
            for child in _children(proc.pid):
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    try:
        return proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def soak(runs: int, seed: int = 1, pki: str | None = None) -> dict:
    from lab.pki import Pki
    rnd = random.Random(seed)
    pki = pki or Pki.ensure(os.path.join(tempfile.mkdtemp(prefix="soak-pki-"), "pki")).root
    before = (peers(), listening(), netns(), temp_dirs())
    codes: dict[str, int] = {}
    hung = 0
    for _ in range(runs):
        sid, stack = rnd.choice(CLIENT_ROLE + SERVER_ROLE)
        action = rnd.choices(["plain", "sigint", "sigterm", "crash"], [6, 1, 1, 2])[0]
        rc = one_run(sid, stack, pki, action, rnd)
        hung += rc is None
        codes[f"{action}:{rc}"] = codes.get(f"{action}:{rc}", 0) + 1
    time.sleep(1.0)
    after = (peers(), listening(), netns(), temp_dirs())
    left = {"processes": sorted(a for _, a in after[0] - before[0]),
            "listening": sorted(after[1] - before[1]),
            "netns": sorted(after[2] - before[2]),
            "temp_dirs": sorted(after[3] - before[3])}
    return {"runs": runs, "hung": hung, "exit_codes": codes, "left": left}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    t0 = time.monotonic()
    res = soak(args.runs, args.seed)
    print(f"{res['runs']} runs in {time.monotonic() - t0:.0f} s; hung: {res['hung']}; exit codes: {res['exit_codes']}")
    print(f"left behind: {res['left']}")
    sys.exit(1 if res["hung"] or any(res["left"].values()) else 0)


if __name__ == "__main__":
    main()
