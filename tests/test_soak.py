"""A short soak in CI (the full one is ``tests/soak.py --runs 1000``): ``certlab run`` against
real stacks, some runs interrupted by SIGINT/SIGTERM, some with their peer killed; nothing may
hang, and no process, listening port, network namespace or temporary folder may remain."""
from __future__ import annotations

import pytest

from tests.soak import soak

pytestmark = pytest.mark.stack


def test_short_soak_leaves_nothing_behind(pki) -> None:
    result = soak(24, seed=7, pki=pki.root)
    assert result["hung"] == 0, result
    assert not any(result["left"].values()), result["left"]
