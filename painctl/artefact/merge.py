"""Join shard artefacts into one without copying: HDF5 virtual datasets over the shards' files."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np

from painctl.artefact.store import DATA, ROWS_ATTR, Artefact, ArtefactWriter, open_artefact
from painctl.errors import ArtefactError, PainctlError


def merge_shards(out: str | os.PathLike, shards: Sequence[str | os.PathLike], force: bool = False,
                 pooled: Mapping[str, tuple[str, Callable]] | None = None) -> Path:
    """Write artefact ``out`` whose row datasets concatenate those of ``shards`` in the given order.

    Shards must come from the same stage with the same parameters apart from ``shard``. Datasets
    without rows (faces, uv, ...) must be equal across shards and are copied once, except those a
    stage summarises over all its rows: ``pooled`` maps a stage to (dataset prefix,
    function(h5, out_dir, shards)) that pools them instead (the merge stage passes the heatmap
    statistics). The merged data.h5 refers to the shards by relative path, so keep them beside it.
    Returns ``out``'s path.
    """
    if not shards:
        raise PainctlError("merge needs at least one shard")
    arts = [open_artefact(s) for s in shards]
    first = arts[0]
    base = {k: v for k, v in first.params.items() if k != "shard"}
    for art in arts[1:]:
        if art.stage != first.stage:
            raise ArtefactError(f"{art.where}: is a {art.stage!r} artefact, the first shard is {first.stage!r}")
        if {k: v for k, v in art.params.items() if k != "shard"} != base:
            raise ArtefactError(f"{art.where}: was made with other parameters than {first.where}")
    pooled = (pooled or {}).get(first.stage)
    params = {**base, "merged_from": [a.params.get("shard") for a in arts]}
    writer = ArtefactWriter(out, first.stage, params, inputs=arts, force=force)
    if writer.cached:
        return writer.path
    out_path = Path(os.path.abspath(writer.path))
    with writer:
        with h5py.File(first.path / DATA, "r") as f0:
            for key, value in f0.attrs.items():
                writer.h5.attrs[key] = value
            names: list[str] = []
            f0.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
            for name in names:
                ds0 = f0[name]
                if ds0.attrs.get(ROWS_ATTR):
                    _virtual_concat(writer.h5, name, arts, out_path)
                elif pooled and name.startswith(pooled[0]):
                    continue
                else:
                    _copy_shared(writer.h5, name, ds0, arts)
        if pooled:
            pooled[1](writer.h5, writer.dir, arts)
        writer.manifest["shards"] = [os.path.relpath(os.path.abspath(a.path), out_path) for a in arts]
    return writer.path


def _virtual_concat(h5: h5py.File, name: str, arts: Sequence[Artefact], out_path: Path) -> None:
    shapes, dtypes = [], []
    for art in arts:
        with art.h5() as f:
            if name not in f:
                raise ArtefactError(f"{art.where}: missing dataset /{name} that the first shard has")
            shapes.append(f[name].shape)
            dtypes.append(f[name].dtype)
    if any(s[1:] != shapes[0][1:] for s in shapes):
        raise ArtefactError(f"/{name}: shards disagree on its shape beyond the first axis: {shapes}")
    # Fixed-length strings may differ in width between shards: take the widest.
    dtype = max(dtypes, key=lambda d: d.itemsize) if dtypes[0].kind == "S" else dtypes[0]
    layout = h5py.VirtualLayout(shape=(sum(s[0] for s in shapes),) + shapes[0][1:], dtype=dtype)
    start = 0
    for art, shape in zip(arts, shapes):
        # Relative to the merged file: HDF5 resolves it against the virtual file's own directory.
        source = os.path.relpath(os.path.abspath(art.path / DATA), out_path)
        layout[start : start + shape[0]] = h5py.VirtualSource(source, name, shape=shape)
        start += shape[0]
    ds = h5.create_virtual_dataset(name, layout)
    ds.attrs[ROWS_ATTR] = 1


def _copy_shared(h5: h5py.File, name: str, ds0: h5py.Dataset, arts: Sequence[Artefact]) -> None:
    value = ds0[()]
    for art in arts[1:]:
        with art.h5() as f:
            if name not in f or not np.array_equal(f[name][()], value):
                raise ArtefactError(f"{art.where}: /{name} differs from the first shard's; these shards do not belong together")
    ds = h5.create_dataset(name, data=value)
    for key, attr in ds0.attrs.items():
        ds.attrs[key] = attr
