"""The stack-resemblance reference (lab/tools/fingerprints.json) against the stacks as they behave
now: measured again, it must say the same, or the reference is stale (re-make it with
`certlab probe --learn-fingerprints lab/tools/fingerprints.json`)."""
from __future__ import annotations

from lab.tools import fingerprint


def test_the_reference_still_describes_the_real_stacks() -> None:
    stacks = ["openssl", "gnutls", "nginx", "go"]
    now = fingerprint.learn(stacks)
    ref = fingerprint.load()
    for stack in stacks:
        assert now["stacks"][stack]["features"] == ref["stacks"][stack]["features"], \
            f"{stack} behaves differently from lab/tools/fingerprints.json: re-learn it"


def test_a_tie_is_said_and_nothing_to_compare_is_none() -> None:
    table = {"stacks": {"a": {"features": {"x": "1", "y": "2"}}, "b": {"features": {"x": "1", "y": "2"}},
                        "c": {"features": {"x": "9"}}}}
    fp = fingerprint.match({"x": "1", "y": "2"}, table)
    assert fp["stacks"] == ["a", "b"] and fp["confidence"] == 1.0 and fp["runner_up"]["stack"] == "c"
    assert "indistinguishable" in fingerprint.describe(fp)
    assert fingerprint.match({"z": "1"}, table) is None
