"""Join shard artefacts into one without copying: HDF5 virtual datasets over the shards' files."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from painctl import console
from painctl.artefact.stage import Context, Input, Parameters, Stage, run
from painctl.artefact.store import DATA, ROWS_ATTR, Artefact, copy_attrs, open_artefact
from painctl.errors import ArtefactError, PainctlError


@dataclass(frozen=True)
class MergeParams(Parameters):
    """merge has no parameters of its own: it records its shards' (less ``shard``) and ``merged_from``."""

    def manifest(self, inputs) -> dict:
        arts = inputs["shards"]
        return {**_shared_params(arts[0]), "merged_from": [a.params.get("shard") for a in arts]}


def _shared_params(art: Artefact) -> dict:
    return {k: v for k, v in art.params.items() if k != "shard"}


def _open_shards(shards, opened) -> list[Artefact]:
    if not shards:
        raise PainctlError("merge needs at least one shard")
    arts = [s if isinstance(s, Artefact) else open_artefact(s) for s in shards]
    first = arts[0]
    for art in arts[1:]:
        if art.stage != first.stage:
            raise ArtefactError(f"{art.where}: is a {art.stage!r} artefact, the first shard is {first.stage!r}")
        if _shared_params(art) != _shared_params(first):
            raise ArtefactError(f"{art.where}: was made with other parameters than {first.where}")
    return arts


def _merge(ctx: Context) -> str:
    arts, writer = ctx.inputs["shards"], ctx.writer
    first = arts[0]
    pooled = (ctx.options.get("pooled") or {}).get(first.stage)
    out_path = Path(os.path.abspath(writer.path))
    with h5py.File(first.path / DATA, "r") as f0:
        copy_attrs(f0, ctx.h5)
        names: list[str] = []
        f0.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        for name in names:
            ds0 = f0[name]
            if ds0.attrs.get(ROWS_ATTR):
                _virtual_concat(ctx.h5, name, arts, out_path)
            elif pooled and name.startswith(pooled[0]):
                continue
            else:
                _copy_shared(ctx.h5, name, ds0, arts)
    if pooled:
        pooled[1](ctx.h5, ctx.dir, arts)
    writer.manifest["shards"] = [os.path.relpath(os.path.abspath(a.path), out_path) for a in arts]
    return f"merged {console.plural(len(arts), 'shard')} into {ctx.where}"


#: merge: shard artefacts of one stage in; an artefact of that stage out, its rows virtual datasets over theirs.
MERGE = Stage("merge", MergeParams, _merge, inputs=(Input("shards", many=True, resolve=_open_shards),),
              output_stage=lambda inputs: inputs["shards"][0].stage)


def merge_shards(out: str | os.PathLike, shards: Sequence[str | os.PathLike | Artefact], force: bool = False,
                 pooled: Mapping[str, tuple[str, Callable]] | None = None) -> Path:
    """Write artefact ``out`` whose row datasets concatenate those of ``shards`` in the given order.

    Shards must come from the same stage with the same parameters apart from ``shard``. Datasets
    without rows (faces, uv, ...) must be equal across shards and are copied once, except those a
    stage summarises over all its rows: ``pooled`` maps a stage to (dataset prefix,
    function(h5, out_dir, shards)) that pools them instead (the merge stage passes the heatmap
    statistics). The merged data.h5 refers to the shards by relative path, so keep them beside it.
    Returns ``out``'s path.
    """
    return run(MERGE, out, MergeParams(), {"shards": list(shards)}, force=force, pooled=pooled)


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
    ds = _create_virtual(h5, name, layout)
    ds.attrs[ROWS_ATTR] = 1


def _create_virtual(h5: h5py.File, name: str, layout: h5py.VirtualLayout) -> h5py.Dataset:
    """``h5.create_virtual_dataset(name, layout)`` without HDF5's object timestamps, which h5py leaves
    on for virtual datasets (alone): with them two merges of the same shards differed in their bytes."""
    group, _, leaf = name.rpartition("/")
    parent = h5.require_group(group) if group else h5
    dcpl = layout._get_dcpl(h5.file.filename)
    dcpl.set_obj_track_times(False)
    space = h5py.h5s.create_simple(layout.shape, None)
    dsid = h5py.h5d.create(parent.id, leaf.encode(), h5py.h5t.py_create(np.dtype(layout.dtype), logical=1), space, dcpl=dcpl)
    return h5py.Dataset(dsid)


def _copy_shared(h5: h5py.File, name: str, ds0: h5py.Dataset, arts: Sequence[Artefact]) -> None:
    value = ds0[()]
    for art in arts[1:]:
        with art.h5() as f:
            if name not in f or not np.array_equal(f[name][()], value):
                raise ArtefactError(f"{art.where}: /{name} differs from the first shard's; these shards do not belong together")
    copy_attrs(ds0, h5.create_dataset(name, data=value))
