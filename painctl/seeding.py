"""Deterministic random streams, one rule for every draw: (seed, stage, item).

``stage`` names what draws (``"sample-mesh"``, ``"render-views/background"``, a part's stream) and
``item`` is the drawing item's global index path (identity, row, view, ...), so the K-th shard of N
draws exactly what a whole run would, two stages never share a stream, and two different (seed,
item) pairs never do either: the key holds the item path's length (numpy's SeedSequence alone reads
[s, 1] and [s, 1, 0] as one stream).
"""

from __future__ import annotations

import zlib

import numpy as np

from painctl.errors import BadValue

#: Seeds are 32-bit unsigned integers: 0 .. 2**32 - 1 (every --seed option; what numpy and torch share).
SEED_MIN = 0
SEED_MAX = 2**32 - 1


def check_seed(seed: int) -> int:
    """Return ``seed`` as an int if it lies in SEED_MIN..SEED_MAX; raise BadValue otherwise.

    Larger seeds used to wrap around silently (2**32 gave the bytes of seed 0).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not SEED_MIN <= int(seed) <= SEED_MAX:
        raise BadValue(f"seed {seed!r} is outside 0..{SEED_MAX} (2**32 - 1)")
    return int(seed)


def stream_key(seed: int, stage: str | int, *item: int) -> list[int]:
    """Return the SeedSequence entropy of stream (seed, stage, item): 32-bit words, never ambiguous."""
    tag = zlib.crc32(stage.encode("utf-8")) if isinstance(stage, str) else int(stage)
    words = [int(i) for i in item]
    if tag < 0 or any(w < 0 for w in words):
        raise BadValue("random stream indices must be non-negative")
    return [check_seed(seed), tag, len(words), *words]


def rng_for(seed: int, stage: str | int, *item: int) -> np.random.Generator:
    """Return the numpy Generator of stream (``seed``, ``stage``, ``item`` index path)."""
    return np.random.default_rng(np.random.SeedSequence(stream_key(seed, stage, *item)))


def seed_for(seed: int, stage: str | int, *item: int) -> int:
    """Return a seed (0..2**32-1) of stream (seed, stage, item) for generators that take one (torch,
    diffusers, or a library function's own ``seed``)."""
    return int(rng_for(seed, stage, *item).integers(SEED_MAX + 1))
