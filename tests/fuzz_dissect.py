"""A longer fuzz of the capture readers, the dissector and diagnose than CI runs: captures from
the regression corpus (tests/corpus), the reference captures (pcaps/) and any folders given are
mutated (bit flips, cuts, inserted and repeated bytes), sometimes with a mutated key log, for a
time budget. Anything but certlab's own typed errors (InputError), or an input taking more than
--slow seconds, is a finding: kept in --out with its traceback. Run it as scripts/fuzz-dissect."""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
CAPTURE_ENDINGS = (".pcap", ".pcapng")


def mutate(data: bytes, rnd: random.Random) -> bytes:
    """One to four edits: a bit flipped, the rest cut off, random bytes inserted, a slice repeated."""
    b = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        op, i = rnd.randrange(4), rnd.randrange(len(b))
        if op == 0:
            b[i] ^= 1 << rnd.randrange(8)
        elif op == 1:
            del b[i:]
            if not b:
                b = bytearray(data[:1])
        elif op == 2:
            b[i:i] = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 64)))
        else:
            j = rnd.randrange(len(b))
            b[i:i] = b[j:j + rnd.randint(1, 300)]
    return bytes(b)


def seeds(folders: list[str]) -> tuple[list[str], list[str]]:
    """The captures and key logs of the corpus, pcaps/ and the folders given."""
    captures, keylogs = [], []
    for folder in [os.path.join(ROOT, "tests", "corpus"), os.path.join(ROOT, "pcaps"), *folders]:
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if name.endswith(CAPTURE_ENDINGS):
                captures.append(path)
            elif name.endswith((".keys", ".keylog")) and os.path.getsize(path) < 1 << 20:
                keylogs.append(path)
    return captures, keylogs


def one(capture: bytes, keylog: bytes | None, work: str) -> None:
    """Dissect and diagnose one input as the CLI does; only InputError may come out."""
    from lab.dissect import InputError, dissect
    from lab.dissect import render
    from lab.tools import diagnose
    path, keys = os.path.join(work, "input.pcapng"), None
    with open(path, "wb") as fh:
        fh.write(capture)
    if keylog is not None:
        keys = os.path.join(work, "input.keys")
        with open(keys, "wb") as fh:
            fh.write(keylog)
    try:
        result = dissect(path, keys)
    except InputError:
        return
    render.to_text(result)
    render.to_json(result)
    diagnose.to_text(result, diagnose.diagnose(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/fuzz-dissect", description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=60.0, metavar="S", help="seconds to fuzz (default 60)")
    parser.add_argument("--seeds", action="append", default=[], metavar="DIR",
                        help="another folder of captures to mutate (a matrix's pcaps/); repeatable")
    parser.add_argument("--out", default="fuzz-findings", metavar="DIR", help="where findings are kept")
    parser.add_argument("--seed", type=int, default=None, help="random seed, to repeat a run")
    parser.add_argument("--slow", type=float, default=5.0, metavar="S", help="an input taking longer is a finding")
    args = parser.parse_args(argv)
    for folder in args.seeds:
        if not os.path.isdir(folder):
            print(f"fuzz-dissect: error: {folder} is not a folder of captures", file=sys.stderr)
            return 2
    from lab.capture.pcapfile import _quiet_scapy
    from lab.children import scratch
    captures, keylogs = seeds(args.seeds)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2 ** 32)
    rnd, inputs, findings = random.Random(seed), 0, 0
    blobs = {p: open(p, "rb").read() for p in captures + keylogs}
    deadline = time.monotonic() + args.budget
    print(f"fuzz-dissect: {len(captures)} captures, {len(keylogs)} key logs, seed {seed}, {args.budget:g} s")
    with scratch("fuzz") as work, _quiet_scapy():
        while time.monotonic() < deadline:
            capture = mutate(blobs[rnd.choice(captures)], rnd)
            keylog = None
            if keylogs and rnd.random() < 0.3:
                keylog = blobs[rnd.choice(keylogs)]
                keylog = mutate(keylog, rnd) if keylog and rnd.random() < 0.5 else keylog
            inputs += 1
            started, problem = time.monotonic(), None
            try:
                one(capture, keylog, work)
            except Exception:  # noqa: BLE001 - what the fuzz looks for
                problem = traceback.format_exc()
            took = time.monotonic() - started
            if problem is None and took > args.slow:
                problem = f"took {took:.1f} s (more than --slow {args.slow:g} s)\n"
            if problem is not None:
                findings += 1
                name = hashlib.sha1(capture + (keylog or b"")).hexdigest()[:12]
                os.makedirs(args.out, exist_ok=True)
                with open(os.path.join(args.out, f"{name}.pcapng"), "wb") as fh:
                    fh.write(capture)
                if keylog is not None:
                    with open(os.path.join(args.out, f"{name}.keys"), "wb") as fh:
                        fh.write(keylog)
                with open(os.path.join(args.out, f"{name}.txt"), "w") as fh:
                    fh.write(problem)
                print(f"finding: {os.path.join(args.out, name)}.pcapng: {problem.strip().splitlines()[-1]}")
    print(f"fuzz-dissect: {inputs} inputs, {findings} finding(s)" + (f" in {args.out}/" if findings else ""))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
