"""The merge stage: one artefact over the shard artefacts of --shard K/N runs, without copying.

Row datasets become HDF5 virtual datasets over the shards (:func:`painctl.artefact.merge.merge_shards`);
what a stage summarises over all its rows is pooled by that stage's own rule.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from painctl.artefact.merge import merge_shards
from painctl.stages.heatmap import STATS_PREFIX, merge_stats

#: Stage -> (dataset prefix, pooling function(h5, out_dir, shards)) for summaries over all rows.
POOLED = {"heatmap": (STATS_PREFIX, merge_stats)}


def merge(out: str | os.PathLike, shards: Sequence[str | os.PathLike], force: bool = False) -> Path:
    """Join ``shards`` (artefact paths, in order) into the artefact ``out``; return its path."""
    return merge_shards(out, shards, force=force, pooled=POOLED)
