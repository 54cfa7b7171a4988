"""Deterministic random streams, one rule for every draw: (seed, stage, item).

``stage`` names what draws (``"sample-mesh"``, ``"render-views/background"``, a part's name) and
``item`` is the drawing item's global index path (identity, row, view, ...), so the K-th shard of N
draws exactly what a whole run would, two stages never share a stream, and two different (seed,
item) pairs never do either: the key holds the seed's 64 bits in full and the item path's length
(numpy's SeedSequence alone reads [s, 1] and [s, 1, 0] as one stream).
"""

from __future__ import annotations

import zlib

import numpy as np

from painctl.errors import PainctlError

#: Seeds are 0 .. 2**64 - 1 (every --seed option).
SEED_MAX = 2**64 - 1


def check_seed(seed: int) -> int:
    """Return ``seed`` as an int, or raise PainctlError when it is outside 0 .. 2**64 - 1."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise PainctlError(f"seed must be an integer, got {seed!r}")
    seed = int(seed)
    if not 0 <= seed <= SEED_MAX:
        raise PainctlError(f"seed must be between 0 and 2**64 - 1, got {seed}")
    return seed


def stream_key(seed: int, stage: str | int, *item: int) -> list[int]:
    """Return the SeedSequence entropy of stream (seed, stage, item): 32-bit words, never ambiguous."""
    seed = check_seed(seed)
    tag = zlib.crc32(stage.encode("utf-8")) if isinstance(stage, str) else int(stage)
    words = [int(i) for i in item]
    if tag < 0 or any(w < 0 for w in words):
        raise PainctlError("random stream indices must be non-negative")
    return [seed & 0xFFFFFFFF, seed >> 32, tag, len(words), *words]


def rng_for(seed: int, stage: str | int, *item: int) -> np.random.Generator:
    """Return the numpy Generator of stream (``seed``, ``stage``, ``item`` index path)."""
    return np.random.default_rng(np.random.SeedSequence(stream_key(seed, stage, *item)))


def seed_for(seed: int, stage: str | int, *item: int) -> int:
    """Return a 63-bit integer seed of stream (seed, stage, item) for generators that take one (torch, diffusers)."""
    return int(rng_for(seed, stage, *item).integers(2**63))
