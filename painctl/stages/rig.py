"""The rig stage: every identity's neutral face plus K pain faces at exact PSPI levels (or AUs).

Models with ARKit expression targets (anny) are rigged directly: the AU table of
:mod:`painctl.rigging.aumap` gives face-unit weights and their (linear) offsets are added to the
identity's neutral vertices. Any other mesh is rigged by deformation transfer
(:mod:`painctl.rigging.transfer`) from the built-in anny rig.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from painctl import console
from painctl.artefact import ROWS_ATTR, Artefact, copy_attrs, create_rows, write_dataset
from painctl.artefact.resources import Estimate
from painctl.artefact.stage import Context, Input, Parameters, Stage, run
from painctl.errors import BadValue, PainctlError
from painctl.facs import AU_MAX, AU_NAMES, parse_au_spec, parse_pspi_levels, pspi
from painctl.rigging.configs import read_prior, sample_configuration
from painctl.rigging.sequence import sequence_au
from painctl.seeding import rng_for
from painctl.artefact.shard import WHOLE, Shard

#: Root attribute of a rig artefact: the global row of its first row (0 unless it is a shard).
FIRST_ROW_ATTR = "first_row"

#: Identity datasets copied from IN, one value per output row.
CARRIED = ("age_years", "age_group", "gender", "ethnicity", "phenotype")


@dataclass(frozen=True)
class RigRequest(Parameters):
    """rig's parameters: PSPI ``levels`` or one fixed ``au`` (6,) (exactly one), ``per_identity``
    pain faces each, a ``prior`` CSV of configuration weights, left/right ``asymmetry`` (FACS
    levels), ``sequence`` frames of an onset-apex-offset trajectory (0: none), ``seed`` and the
    ``model_mesh`` file rigged instead of an artefact's identities. Build from options with :meth:`of`."""

    levels: tuple[int, ...] | None = None
    au: tuple[float, ...] | None = None
    per_identity: int = 1
    prior: str | None = None
    asymmetry: float = 0.0
    sequence: int = 0
    seed: int = 0
    model_mesh: str | None = None

    @classmethod
    def of(cls, pspi: int | str | Sequence[int] | None = None, au: str | Sequence[float] | None = None, **rest) -> "RigRequest":
        """Parse ``pspi`` (8, [1, 4, 8] or "1-16") or ``au`` ("AU4=3,AU43=1" or six intensities) and
        take the other parameters as they are."""
        if (pspi is None) == (au is None):
            raise BadValue(("pspi", "au"), "give exactly one of {pspi} (levels) or {au} (fixed intensities)")
        levels = fixed = None
        if pspi is not None:
            levels = tuple(parse_pspi_levels(str(pspi) if isinstance(pspi, (int, str)) else ",".join(str(int(x)) for x in pspi)))
        if au is not None:
            fixed = tuple(float(x) for x in (parse_au_spec(au) if isinstance(au, str) else au))
            if len(fixed) != 6:
                raise BadValue("au", f"must hold 6 intensities (AU4, AU6, AU7, AU9, AU10, AU43), got {len(fixed)}")
        for key in ("prior", "model_mesh"):
            if rest.get(key) is not None:
                rest[key] = str(rest[key])
        return cls(levels=levels, au=fixed, **rest)

    def check(self) -> None:
        if (self.levels is None) == (self.au is None):
            raise BadValue(("pspi", "au"), "give exactly one of {pspi} (levels) or {au} (fixed intensities)")
        if self.per_identity < 1:
            raise BadValue("per_identity", f"must be at least 1, got {self.per_identity}")
        if not 0 <= self.asymmetry <= 5:
            raise BadValue("asymmetry", f"must be between 0 and 5 FACS levels, got {self.asymmetry:g}")
        if self.sequence and self.sequence < 3:
            raise BadValue("sequence", f"needs at least 3 frames (onset, apex, offset), got {self.sequence}")


def _identities_to_rig(source: Artefact) -> None:
    if source.stage in ("rig", "render-views", "heatmap"):
        # Rigging rigged faces would make pain faces new neutrals and duplicate identities.
        raise PainctlError(f"{source.where}: is a {source.stage!r} artefact; rig needs the identities of a "
                           f"'sample-mesh' artefact (or 'render-neutral', 'texture')")
    if not source.has("vertices") or not source.has("identity") or source.read("identity").ndim != 1:
        raise PainctlError(f"{source.where}: has no identities to rig (needs /vertices and /identity, e.g. from sample-mesh)")


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


def _load(ctx: Context):
    from painctl.rigging.deform import deformer_for

    request = ctx.params
    prior = read_prior(request.prior) if request.prior else None
    return deformer_for(ctx.inputs["heads"], request.model_mesh), prior


def estimate_bytes(identities: int, n_vertices: int, request: RigRequest, jobs: int = 1) -> Estimate:
    """Disk and memory (bytes) of rigging ``identities`` identities of ``n_vertices`` vertices each
    over ``jobs`` processes (:func:`rig_jobs`).

    Disk: float32 /vertices (V,3) and /displacement (V) per face, /sequence/vertices per frame.
    Memory: the identities' neutral vertices, read at once, the per-face label arrays and, when
    ``jobs`` > 1, each worker's own copy of torch and the rig (:data:`WORKER_BYTES`).
    """
    faces = identities * (1 + request.per_identity)
    per_face = n_vertices * (3 + 1) * 4 + n_vertices * 3 * 4 * request.sequence + 6 * 4 * (3 + request.sequence)
    workers = jobs * WORKER_BYTES if jobs > 1 else 0
    return Estimate(faces * per_face, identities * n_vertices * 3 * 4 + faces * 6 * 4 * (3 + request.sequence) + workers)


def _estimate(ctx: Context) -> dict:
    jobs = rig_jobs(ctx.count, ctx.options.get("jobs"))
    disk, memory = estimate_bytes(ctx.count, ctx.inputs["heads"].layout().get("vertices", ((0, 0),))[0][1], ctx.params, jobs)
    return {"disk_bytes": disk, "memory_bytes": memory, "what": f"this rig on {jobs} processes" if jobs > 1 else "this rig"}


@dataclass
class RiggedIdentity:
    """One identity's rig output: ``faces`` (1+K, V, 3) float32 (its neutral first), per-side AU
    intensities ``left`` and ``right`` (K, 6), and with a sequence its ``frames`` (K, F, V, 3)
    float32 and their labels ``frame_au`` (K, F, 6)."""

    faces: np.ndarray
    left: np.ndarray
    right: np.ndarray
    frames: np.ndarray | None = None
    frame_au: np.ndarray | None = None


def rig_identity(deformer, request: RigRequest, prior: np.ndarray | None, identity_index: int, neutral: np.ndarray) -> RiggedIdentity:
    """Rig one identity: ``identity_index`` is its global row in the heads artefact (it seeds its
    configurations), ``neutral`` its (V, 3) vertices in metres."""
    left, right = pain_configurations(request, identity_index, prior)
    faces = np.empty((1 + request.per_identity, *neutral.shape), np.float32)
    faces[0] = neutral
    faces[1:] = deformer.deform(neutral, left, right, identity=identity_index)
    if not request.sequence:
        return RiggedIdentity(faces, left, right)
    frames = np.empty((request.per_identity, request.sequence, *neutral.shape), np.float32)
    frame_au = np.empty((request.per_identity, request.sequence, 6), np.float32)
    for j in range(request.per_identity):
        labels_l, closure = sequence_au(left[j], request.sequence)
        labels_r, _ = sequence_au(right[j], request.sequence)
        wl, wr = labels_l.astype(np.float64), labels_r.astype(np.float64)
        wl[:, 5] = wr[:, 5] = closure
        frames[j] = deformer.deform(neutral, wl, wr, identity=identity_index)
        frame_au[j] = (labels_l + labels_r) / 2
    return RiggedIdentity(faces, left, right, frames, frame_au)


#: Identities each rig worker should have before a default --jobs starts another: a worker loads
#: torch, anny and the rig's contact regions before its first identity, so a small job stays in one process.
IDENTITIES_PER_WORKER = 64
#: Peak resident memory (bytes) of one rig worker: torch, anny's head and the rig's contact regions,
#: loaded in each spawned process (560 MiB measured on anny's heads, rigging 12 identities x 11 faces
#: with --jobs 2; the main process held as much again).
WORKER_BYTES = 600 * 2**20
#: Most identities handed to a worker at a time.
CHUNK = 16


def rig_jobs(identities: int, jobs: int | None) -> int:
    """Return the worker processes for ``identities``: ``jobs`` (at most one per identity), or by
    default every core this process may use that the memory available now holds a worker for
    (:data:`WORKER_BYTES`), each with at least :data:`IDENTITIES_PER_WORKER`."""
    from painctl.artefact.resources import default_jobs

    if jobs is None:
        return max(1, min(default_jobs(WORKER_BYTES), identities // IDENTITIES_PER_WORKER))
    return max(1, min(jobs, identities))


_WORKER: dict = {}


def _init_worker(heads: str, request: RigRequest, prior: np.ndarray | None) -> None:
    from painctl.artefact import open_artefact
    from painctl.rigging.deform import deformer_for

    # Held for the worker's life: one BLAS thread, as in the stage's own process.
    _WORKER["blas"] = threadpool_limits(1, user_api="blas")
    _WORKER["rig"] = (deformer_for(open_artefact(heads), request.model_mesh), request, prior)


def _rig_chunk(task: tuple[int, np.ndarray]) -> tuple[list[RiggedIdentity], dict]:
    """Rig the identities ``task`` holds (global row of the first, (N, V, 3) neutral vertices) in
    a worker; return them and what the lid contact did for them."""
    from painctl.rigging.deform import DirectRig

    deformer, request, prior = _WORKER["rig"]
    first, neutrals = task
    done = [rig_identity(deformer, request, prior, first + i, neutral) for i, neutral in enumerate(neutrals)]
    counts = {}
    if isinstance(deformer, DirectRig) and deformer.contact is not None:
        contact = deformer.contact
        counts = {"outcomes": dict(contact.outcomes), "eye_outcomes": dict(contact.eye_outcomes)}
        contact.outcomes.clear()
        contact.eye_outcomes.clear()
    return done, counts


def rigged_identities(ctx: Context, neutrals: np.ndarray, jobs: int):
    """Yield a :class:`RiggedIdentity` for each of ``neutrals`` (N, V, 3), global rows from
    ``ctx.start``, in order, over ``jobs`` worker processes (the stage's own process when 1)."""
    from painctl.rigging.deform import DirectRig

    deformer, prior = ctx.models
    request = ctx.params
    if jobs <= 1:
        # One BLAS thread: the faces' sums do not depend on the machine's core count, and on a shared
        # machine BLAS's spinning threads made a small matrix product ten times slower.
        with threadpool_limits(1, user_api="blas"):
            for i in ctx.track(range(len(neutrals)), description="rigging"):
                yield rig_identity(deformer, request, prior, ctx.start + i, neutrals[i])
        return
    import multiprocessing
    from contextlib import closing

    from painctl.artefact.signals import quiet_map

    # Four tasks a worker at least, so the last ones do not wait on one slow chunk.
    chunk = max(1, min(CHUNK, -(-len(neutrals) // (4 * jobs))))
    tasks = [(ctx.start + i, neutrals[i : i + chunk]) for i in range(0, len(neutrals), chunk)]
    heads = str(ctx.inputs["heads"].path)
    results = quiet_map(multiprocessing.get_context("spawn"), min(jobs, len(tasks)), _init_worker, (heads, request, prior),
                        _rig_chunk, tasks, "rig")
    contact = deformer.contact if isinstance(deformer, DirectRig) else None

    def each():
        for done, counts in results:
            if contact is not None:  # the stage's closing line counts every worker's eyes
                contact.outcomes.update(counts.get("outcomes", {}))
                contact.eye_outcomes.update(counts.get("eye_outcomes", {}))
            yield from done

    with closing(results):  # stops the workers at once if this generator is closed early
        yield from ctx.track(each(), total=len(neutrals), description="rigging")


def _rig(ctx: Context) -> str:
    from painctl.rigging.deform import DirectRig

    source, request, h5 = ctx.inputs["heads"], ctx.params, ctx.h5
    deformer, prior = ctx.models
    ids = source.read("identity")
    start, stop = ctx.start, ctx.stop
    k = request.per_identity
    per = 1 + k
    rows = (stop - start) * per
    neutral_vertices = source.read("vertices", slice(start, stop))
    n_vertices = neutral_vertices.shape[1]
    frames = request.sequence

    verts = create_rows(h5, "vertices", (rows, n_vertices, 3), np.float32)
    disp = create_rows(h5, "displacement", (rows, n_vertices), np.float32)
    if frames:
        seq_verts = create_rows(h5, "sequence/vertices", (rows, frames, n_vertices, 3), np.float32)
    au_all = np.zeros((rows, 6), np.float32)
    au_l = np.zeros((rows, 6), np.float32)
    au_r = np.zeros((rows, 6), np.float32)
    seq_au = np.zeros((rows, frames, 6), np.float32) if frames else None
    jobs = rig_jobs(stop - start, ctx.options.get("jobs"))
    for i, one in enumerate(rigged_identities(ctx, neutral_vertices, jobs)):
        r0 = i * per
        verts[r0 : r0 + per] = one.faces
        disp[r0 : r0 + per] = np.linalg.norm(one.faces - one.faces[0], axis=-1)
        au_l[r0 + 1 : r0 + per] = one.left
        au_r[r0 + 1 : r0 + per] = one.right
        au_all[r0 + 1 : r0 + per] = (one.left + one.right) / 2
        if frames:
            seq_verts[r0] = np.broadcast_to(one.faces[0], (frames, n_vertices, 3))
            seq_verts[r0 + 1 : r0 + per] = one.frames
            seq_au[r0 + 1 : r0 + per] = one.frame_au
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
    with source.h5() as f:
        for name in CARRIED:
            if name in f:
                values = source.read(name, slice(start, stop))
                ds = write_dataset(h5, name, np.repeat(values, per, axis=0))
                copy_attrs(f[name], ds, skip=(ROWS_ATTR,))
    deformer.write_topology(h5, source)
    with source.h5() as f:
        copy_attrs(f, h5, skip=(ROWS_ATTR,))
    h5.attrs["rig"] = deformer.description
    # /neutral_row is global (so shards merge into exactly one run); this says where we start.
    h5.attrs[FIRST_ROW_ATTR] = start * per
    if isinstance(deformer, DirectRig) and deformer.contact is not None and deformer.contact.outcomes:
        done, eyes = deformer.contact.outcomes, deformer.contact.eye_outcomes
        console.info(f"closing eyes (faces and sequence frames): lids of {done['predicted']} from the lid corrective, "
                     f"{done['solved']} from the full contact solve ({eyes['solved']} of their {2 * done['solved']} eyes), "
                     f"{done['open']} not touching")
    return f"rigged {console.plural(stop - start, 'identity', 'identities')} into {console.plural(rows, 'face')} ({ctx.where})"


#: rig: one input of identities; the items are its identities; the deformer (and prior) load after the cache check.
RIG = Stage("rig", RigRequest, _rig, inputs=(Input("heads", check=_identities_to_rig),),
            items=lambda inputs, params: len(inputs["heads"].read("identity")), load=_load, estimate=_estimate)


def rig_identities(source: Artefact | str | Path, out: str | Path, request: RigRequest, shard: Shard = WHOLE, force: bool = False,
                   big_ok: bool = False, jobs: int | None = None) -> Path:
    """Read identities from ``source`` (an artefact or its path) and write the rig artefact ``out``; return its path.

    Rows per identity: its neutral face (first), then ``request.per_identity`` pain faces, the same
    bytes whatever ``jobs`` (worker processes; default: every core, each with at least
    :data:`IDENTITIES_PER_WORKER` identities). A rig estimated not to fit on the disk or in memory
    is refused unless ``big_ok``.
    """
    if jobs is not None and jobs < 1:
        raise BadValue("jobs", f"must be at least 1, got {jobs}")
    return run(RIG, out, request, {"heads": source}, shard=shard, force=force, big_ok=big_ok, jobs=jobs)


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
