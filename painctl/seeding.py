"""Deterministic random streams: one per (seed, item index), so shards reproduce a single run."""

from __future__ import annotations

import numpy as np


def rng_for(seed: int, *index: int) -> np.random.Generator:
    """Return a numpy Generator that depends only on ``seed`` and the item ``index`` path.

    Work split into shards draws each item from its own stream, so the K-th shard of N produces
    exactly the rows a single unsharded run would.
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *map(int, index)]))
