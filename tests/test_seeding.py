"""One seeding rule: a stream is (seed, stage, item), and different ones never coincide."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from painctl.errors import PainctlError  # BadValue is one
from painctl.seeding import SEED_MAX, rng_for, seed_for


def first_draws(seed, stage, *item) -> tuple[int, ...]:
    return tuple(rng_for(seed, stage, *item).integers(2**63, size=2).tolist())


def test_different_seed_item_pairs_never_share_a_stream():
    # The cases a naive key confuses: seed + index sums, trailing zeros.
    seeds = [0, 1, 2, 2**31, SEED_MAX - 1, SEED_MAX]
    items = [(), (0,), (1,), (0, 0), (0, 1), (1, 0), (2,), (0, 0, 0), (1, 1)]
    streams = {}
    for seed, item in itertools.product(seeds, items):
        streams.setdefault(first_draws(seed, "rig", *item), []).append((seed, item))
    shared = [keys for keys in streams.values() if len(keys) > 1]
    assert not shared, f"streams shared by {shared[:3]}"


def test_stages_draw_their_own_streams_and_the_same_key_draws_the_same():
    assert first_draws(5, "sample-mesh", 3) != first_draws(5, "rig", 3)
    assert first_draws(5, "sample-mesh", 3) == first_draws(5, "sample-mesh", 3)
    assert seed_for(5, "train/order", 1) != seed_for(5, "train/order", 2)
    assert 0 <= seed_for(SEED_MAX, "x") <= SEED_MAX


@pytest.mark.parametrize("seed", [-1, SEED_MAX + 1, 1.5, "3", True])
def test_seeds_outside_the_documented_range_are_refused(seed):
    with pytest.raises(PainctlError, match="outside 0..4294967295"):
        rng_for(seed, "rig", 0)


def test_numpy_integer_seeds_work():
    assert first_draws(np.int64(7), "rig", 1) == first_draws(7, "rig", 1)
