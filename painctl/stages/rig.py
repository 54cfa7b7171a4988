"""The rig stage: every identity's neutral face plus K pain faces at exact PSPI levels (or AUs).

Models with ARKit expression targets (anny) are rigged directly: the AU table of
:mod:`painctl.rigging.aumap` gives face-unit weights and their (linear) offsets are added to the
identity's neutral vertices. Any other mesh is rigged by deformation transfer
(:mod:`painctl.rigging.transfer`) from the built-in anny rig.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from painctl import console
from painctl.artefact import Artefact, ArtefactWriter, check_resources, write_dataset
from painctl.artefact.resources import Estimate
from painctl.artefact.store import ROWS_ATTR
from painctl.errors import BadValue, PainctlError
from painctl.facs import AU_MAX, AU_NAMES, pspi
from painctl.rigging.aumap import au_to_weights
from painctl.rigging.configs import read_prior, sample_configuration
from painctl.rigging.sequence import sequence_au
from painctl.seeding import rng_for
from painctl.artefact.shard import WHOLE, Shard

#: Root attribute of a rig artefact: the global row of its first row (0 unless it is a shard).
FIRST_ROW_ATTR = "first_row"

#: Identity datasets copied from IN, one value per output row.
CARRIED = ("age_years", "age_group", "gender", "ethnicity", "phenotype")


@dataclass(frozen=True)
class RigRequest:
    """What to make: PSPI ``levels`` or one fixed ``au`` (6,), ``per_identity`` pain faces each."""

    levels: tuple[int, ...] | None = None
    au: tuple[float, ...] | None = None
    per_identity: int = 1
    prior: str | None = None
    asymmetry: float = 0.0
    sequence: int = 0
    seed: int = 0

    def check(self) -> None:
        if (self.levels is None) == (self.au is None):
            raise BadValue("give exactly one of --pspi LEVELS or --au SPEC")
        if self.per_identity < 1:
            raise BadValue(f"--per-identity must be at least 1, got {self.per_identity}")
        if not 0 <= self.asymmetry <= 5:
            raise BadValue(f"--asymmetry must be between 0 and 5 FACS levels, got {self.asymmetry:g}")
        if self.sequence and self.sequence < 3:
            raise BadValue(f"--sequence needs at least 3 frames (onset, apex, offset), got {self.sequence}")


def pain_configurations(request: RigRequest, identity_index: int, prior: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Return per-side AU intensities (K,6) left and right for one identity's K pain faces.

    PSPI levels are dealt round-robin over the whole job (face j of identity g gets level
    ``levels[(g*K + j) % L]``), so every level is equally common in the dataset; configurations
    with that level are drawn from the identity's own random stream.
    """
    rng = rng_for(request.seed, "rig", identity_index)
    k = request.per_identity
    if request.au is not None:
        nominal = np.tile(np.asarray(request.au, dtype=np.float64), (k, 1))
    else:
        levels = request.levels
        nominal = np.stack([sample_configuration(levels[(identity_index * k + j) % len(levels)], rng, prior) for j in range(k)]).astype(np.float64)
    left, right = nominal.copy(), nominal.copy()
    if request.asymmetry > 0:
        # Split the difference around the nominal intensity so PSPI (from the mean) stays exact.
        room = np.minimum(nominal[:, :5], AU_MAX[:5] - nominal[:, :5])
        delta = rng.uniform(-request.asymmetry / 2, request.asymmetry / 2, size=(k, 5))
        delta = np.clip(delta, -room, room)
        left[:, :5] += delta
        right[:, :5] -= delta
    return left, right


def estimate_bytes(identities: int, n_vertices: int, request: RigRequest) -> Estimate:
    """Disk and memory (bytes) of rigging ``identities`` identities of ``n_vertices`` vertices each.

    Disk: float32 /vertices (V,3) and /displacement (V) per face, /sequence/vertices per frame.
    Memory: the identities' neutral vertices, read at once, and the per-face label arrays.
    """
    faces = identities * (1 + request.per_identity)
    per_face = n_vertices * (3 + 1) * 4 + n_vertices * 3 * 4 * request.sequence + 6 * 4 * (3 + request.sequence)
    return Estimate(faces * per_face, identities * n_vertices * 3 * 4 + faces * 6 * 4 * (3 + request.sequence))


def rig_identities(source: Artefact, out: str | Path, request: RigRequest, shard: Shard = WHOLE, force: bool = False, model_mesh: str | None = None,
                   big_ok: bool = False) -> Path:
    """Read identities from ``source`` and write the rig artefact ``out``; return its path.

    Rows per identity: its neutral face (first), then ``request.per_identity`` pain faces.
    """
    request.check()
    prior = read_prior(request.prior) if request.prior else None
    ids = source.read("identity")
    if ids.ndim != 1 or len(ids) == 0 and source.rows() == 0 and not source.has("vertices"):
        raise PainctlError(f"{source.where}: has no identities to rig")
    params = {**request.__dict__, "shard": str(shard), "model_mesh": model_mesh}
    writer = ArtefactWriter(out, "rig", params, inputs=[source], force=force)
    if writer.cached:
        console.info(f"{writer.where} is up to date (cache hit)")
        return writer.path

    from painctl.rigging.deform import DirectRig, deformer_for

    start, stop = shard.bounds(len(ids))
    check_resources(writer.place, *estimate_bytes(stop - start, source.layout().get("vertices", ((0, 0),))[0][1], request), what="this rig", override=big_ok)
    deformer = deformer_for(source, model_mesh)
    k = request.per_identity
    per = 1 + k
    rows = (stop - start) * per
    neutral_vertices = source.read("vertices", slice(start, stop))
    n_vertices = neutral_vertices.shape[1]
    frames = request.sequence

    with writer:
        h5 = writer.h5
        verts = _row_dataset(h5, "vertices", (rows, n_vertices, 3), np.float32)
        disp = _row_dataset(h5, "displacement", (rows, n_vertices), np.float32)
        if frames:
            seq_verts = _row_dataset(h5, "sequence/vertices", (rows, frames, n_vertices, 3), np.float32)
        au_all = np.zeros((rows, 6), np.float32)
        au_l = np.zeros((rows, 6), np.float32)
        au_r = np.zeros((rows, 6), np.float32)
        seq_au = np.zeros((rows, frames, 6), np.float32) if frames else None
        for i in console.track(range(stop - start), description="rigging"):
            g = start + i
            left, right = pain_configurations(request, g, prior)
            neutral = neutral_vertices[i]
            block = np.empty((per, n_vertices, 3), np.float32)
            block[0] = neutral
            block[1:] = deformer.deform(neutral, left, right, identity=i)
            r0 = i * per
            verts[r0 : r0 + per] = block
            disp[r0 : r0 + per] = np.linalg.norm(block - neutral, axis=-1)
            au_l[r0 + 1 : r0 + per] = left
            au_r[r0 + 1 : r0 + per] = right
            au_all[r0 + 1 : r0 + per] = (left + right) / 2
            if frames:
                seq_verts[r0] = np.broadcast_to(neutral, (frames, n_vertices, 3))
                for j in range(k):
                    labels_l, closure = sequence_au(left[j], frames)
                    labels_r, _ = sequence_au(right[j], frames)
                    wl, wr = labels_l.astype(np.float64), labels_r.astype(np.float64)
                    wl[:, 5] = wr[:, 5] = closure
                    seq_verts[r0 + 1 + j] = deformer.deform(neutral, wl, wr, identity=i)
                    seq_au[r0 + 1 + j] = (labels_l + labels_r) / 2
        identity_rows = np.repeat(np.arange(start, stop), per)
        write_dataset(h5, "identity", np.repeat(ids[start:stop], per))
        write_dataset(h5, "is_neutral", np.tile(np.r_[True, np.zeros(k, bool)], stop - start))
        write_dataset(h5, "neutral_row", (identity_rows * per).astype(np.int64))
        write_dataset(h5, "au", au_all, attrs={"names": list(AU_NAMES)})
        write_dataset(h5, "pspi", pspi(au_all))
        if request.asymmetry > 0:
            write_dataset(h5, "au_left", au_l, attrs={"names": list(AU_NAMES)})
            write_dataset(h5, "au_right", au_r, attrs={"names": list(AU_NAMES)})
        if frames:
            write_dataset(h5, "sequence/au", seq_au, attrs={"names": list(AU_NAMES)})
            write_dataset(h5, "sequence/pspi", pspi(seq_au))
        for name in CARRIED:
            if source.has(name):
                values = source.read(name, slice(start, stop))
                ds = write_dataset(h5, name, np.repeat(values, per, axis=0))
                _copy_attrs(source, name, ds)
        deformer.write_topology(h5, source)
        _copy_attrs(source, "/", h5)
        h5.attrs["rig"] = deformer.description
        # /neutral_row is global (so shards merge into exactly one run); this says where we start.
        h5.attrs[FIRST_ROW_ATTR] = start * per
    if isinstance(deformer, DirectRig) and deformer.contact is not None and deformer.contact.outcomes:
        done = deformer.contact.outcomes
        console.info(f"closing eyes (faces and sequence frames): lids of {done['predicted']} from the lid corrective, "
                     f"{done['solved']} from the full contact solve, {done['open']} not touching")
    # Last: the one line saying what the stage wrote and where.
    console.info(f"rigged {console.plural(stop - start, 'identity', 'identities')} into {console.plural(rows, 'face')} ({writer.where})")
    return writer.path


def local_neutral_rows(rig: Artefact) -> np.ndarray:
    """Return (M,) int64 indices into ``rig``'s own rows of each row's neutral face.

    /neutral_row holds global rows (those of the unsharded run); a shard, or a merge of later
    shards, starts at the global row in its ``first_row`` attribute.
    """
    first = int(rig.attrs().get(FIRST_ROW_ATTR, 0))
    rows = rig.read("neutral_row").astype(np.int64) - first
    if len(rows) and (rows.min() < 0 or rows.max() >= rig.rows()):
        raise PainctlError(f"{rig.where}: /neutral_row points outside the artefact's rows (first_row {first})")
    return rows


def _copy_attrs(source: Artefact, name: str, target) -> None:
    with source.h5() as f:
        for key, value in f[name].attrs.items():
            if key != ROWS_ATTR:
                target.attrs[key] = value


def _row_dataset(h5: h5py.File, name: str, shape: tuple[int, ...], dtype) -> h5py.Dataset:
    row_bytes = int(np.prod(shape[1:])) * np.dtype(dtype).itemsize
    chunks = (max(1, min(shape[0], (1 << 20) // max(row_bytes, 1))),) + shape[1:] if shape[0] else None
    ds = h5.create_dataset(name, shape=shape, dtype=dtype, chunks=chunks)
    ds.attrs[ROWS_ATTR] = 1
    return ds
