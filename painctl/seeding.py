"""Deterministic random streams: one per (seed, item index), so shards reproduce a single run."""

from __future__ import annotations

import numpy as np

from painctl.errors import BadValue

#: Seeds are 32-bit unsigned integers: 0 .. 2**32 - 1 (what numpy, torch and the shard streams share).
SEED_MIN = 0
SEED_MAX = 2**32 - 1


def check_seed(seed: int) -> int:
    """Return ``seed`` as an int if it lies in SEED_MIN..SEED_MAX; raise BadValue otherwise.

    Larger seeds used to wrap around silently (2**32 gave the bytes of seed 0).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not SEED_MIN <= int(seed) <= SEED_MAX:
        raise BadValue(f"seed {seed!r} is outside 0..{SEED_MAX} (2**32 - 1)")
    return int(seed)


def rng_for(seed: int, *index: int) -> np.random.Generator:
    """Return a numpy Generator that depends only on ``seed`` (0..2**32-1) and the item ``index`` path.

    Work split into shards draws each item from its own stream, so the K-th shard of N produces
    exactly the rows a single unsharded run would.
    """
    return np.random.default_rng(np.random.SeedSequence([check_seed(seed), *map(int, index)]))
