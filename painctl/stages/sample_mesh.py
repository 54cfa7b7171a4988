"""Sample N face identities with demographic labels and write them as a ``sample-mesh`` artefact.

Every identity's randomness comes from ``rng_for(seed, "sample-mesh", global_index)`` and the demographic balance
is dealt over the whole N before a shard takes its slice, so ``--shard K/N`` parts merge into
exactly the rows of a single run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from painctl import console
from painctl.artefact import create_rows, write_dataset
from painctl.artefact.shard import WHOLE, Shard
from painctl.artefact.stage import Context, Parameters, Stage, run
from painctl.errors import BadValue, PainctlError
from painctl.facemodels import FaceModel, canonical_spec, load_face_model, model_class, vertex_count
from painctl.facemodels.demographics import DEFAULT_AGE_GROUPS, GENDERS, Demographics, parse_age_groups, parse_balance, parse_groups
from painctl.seeding import rng_for

STAGE = "sample-mesh"
#: Identities per forward pass and per HDF5 write: bounds memory for any N.
BATCH = 256
#: Labels stored for demographics a model does not control (FLAME).
UNKNOWN = "unknown"


@dataclass
class Identities:
    """A batch of sampled identities: ids, demographics and (N, P) phenotype parameters."""

    identity: np.ndarray  # (N,) str, e.g. "id000042" (the global index)
    age_years: np.ndarray  # (N,) float32, NaN where the model has no age
    age_group: np.ndarray  # (N,) str
    gender: np.ndarray  # (N,) str
    ethnicity: np.ndarray  # (N,) str
    phenotype: np.ndarray  # (N, P) float32


def identity_id(index: int) -> str:
    """The identity id of global index ``index`` ("id000042")."""
    return f"id{index:06d}"


def make_demographics(model: FaceModel | type[FaceModel], balance: str | None, age_groups: str, ethnicities: str | None) -> Demographics:
    """Parse the demographic options for ``model`` (an instance or its class); PainctlError if it
    cannot control what is asked."""
    factors = parse_balance(balance)
    model.capabilities.require(model.name, demographics=factors)
    # A model without age control records no groups, so its canonical parameters give "" back here.
    groups = parse_age_groups(age_groups) if age_groups or "age" in model.capabilities.demographics else ()
    if "age" in model.capabilities.demographics:
        eth = model.ethnicity_groups[:3] if ethnicities is None else parse_groups(ethnicities, model.ethnicity_groups, "ethnicities")
        return Demographics(groups, GENDERS, tuple(eth), factors)
    if ethnicities is not None:
        raise BadValue("ethnicities", f": face model {model.name} has no ethnicity control")
    return Demographics((), (), (), factors)


def sample_identities(model: FaceModel, demo: Demographics, total: int, seed: int, start: int = 0, stop: int | None = None) -> Identities:
    """Draw identities ``start``..``stop`` of a job of ``total`` (balance dealt over all ``total``)."""
    stop = total if stop is None else stop
    if not model.capabilities.identity_sampling:
        raise PainctlError(f"face model {model.name} cannot sample identities")
    dealt = demo.assign(total, seed)
    ids, ages, age_groups, genders, eths, phenos = [], [], [], [], [], []
    controls = model.capabilities.demographics
    for index in range(start, stop):
        rng = rng_for(seed, "sample-mesh", index)
        # Fixed draws first, whichever factors are balanced, so the stream stays aligned.
        u_group = rng.random(3)
        if "age" in controls:
            group = _pick(dealt, "age", index, demo.groups("age"), u_group[0])
            low, high = demo.age_range(group)
            years = float(np.float32(low + (high - low) * rng.random()))
            gender = _pick(dealt, "gender", index, demo.genders, u_group[1])
            eth = _pick(dealt, "ethnicity", index, demo.ethnicities, u_group[2])
            pheno = model.sample_phenotype(rng, years, gender, eth)
        else:
            years, group, gender, eth = float("nan"), UNKNOWN, UNKNOWN, UNKNOWN
            pheno = model.sample_phenotype(rng)
        ids.append(identity_id(index))
        ages.append(years)
        age_groups.append(group)
        genders.append(gender)
        eths.append(eth)
        phenos.append(pheno)
    width = len(model.phenotype_names)
    return Identities(
        identity=np.array(ids, dtype=str),
        age_years=np.array(ages, dtype=np.float32),
        age_group=np.array(age_groups, dtype=str),
        gender=np.array(genders, dtype=str),
        ethnicity=np.array(eths, dtype=str),
        phenotype=np.array(phenos, dtype=np.float32).reshape(-1, width),
    )


def _pick(dealt: dict[str, np.ndarray], factor: str, index: int, groups: tuple[str, ...], u: float) -> str:
    if factor in dealt:
        return str(dealt[factor][index])
    return groups[min(int(u * len(groups)), len(groups) - 1)]


@dataclass(frozen=True)
class SampleMeshParams(Parameters):
    """sample-mesh's parameters, canonical (as the manifest records them): ``n`` identities of the
    whole job, face ``model`` spec, balanced factors, age groups ("young:18-40"), ethnicity groups,
    ``seed``, ``export`` mesh format or None. Build from options with :meth:`of`."""

    n: int
    model: str = "anny"
    balance: tuple[str, ...] = ()
    age_groups: tuple[str, ...] = ()
    ethnicities: tuple[str, ...] = ()
    seed: int = 0
    export: str | None = None

    @classmethod
    def of(cls, n: int, model: str = "anny", balance: str | None = None, age_groups: str = DEFAULT_AGE_GROUPS,
           ethnicities: str | None = None, seed: int = 0, export: str | None = None) -> "SampleMeshParams":
        """Parse and check the options as given (``balance`` "age,gender", ...) into canonical parameters."""
        if n <= 0:
            raise BadValue("n", f"must be a positive number of identities, got {n}")
        spec = canonical_spec(model)
        demo = make_demographics(model_class(spec), balance, age_groups, ethnicities)
        return cls(n=int(n), model=spec, balance=tuple(demo.balance), age_groups=tuple(str(g) for g in demo.age_groups),
                   ethnicities=tuple(demo.ethnicities), seed=int(seed), export=export)

    def check(self) -> None:
        from painctl.io.export_mesh import FORMATS

        if self.n <= 0:
            raise BadValue("n", f"must be a positive number of identities, got {self.n}")
        if self.export is not None and self.export not in FORMATS:
            raise BadValue("export", f"must be one of {', '.join(FORMATS)}, got {self.export!r}")

    def demographics(self) -> Demographics:
        """The Demographics these parameters deal identities over."""
        return make_demographics(model_class(self.model), ",".join(self.balance), ",".join(self.age_groups),
                                 ",".join(self.ethnicities) if self.ethnicities else None)

    def manifest(self, inputs) -> dict:
        params = super().manifest(inputs)
        if self.model.startswith("flame:"):
            from painctl.facemodels.flame import file_digest

            path = self.model[len("flame:"):]
            params["model_digest"] = file_digest(path) if os.path.isfile(path) else None
        return params


def _estimate(ctx: Context) -> dict:
    # float32 vertices dominate the artefact: refuse at once what the disk cannot hold (before the model is built).
    return {"disk_bytes": ctx.count * vertex_count(ctx.params.model) * 3 * 4, "what": f"sample-mesh of {ctx.count} identities"}


def _sample(ctx: Context) -> str:
    from painctl.io.export_mesh import write_mesh

    face_model, params, h5 = ctx.models, ctx.params, ctx.h5
    demo = params.demographics()
    rows, export = ctx.count, params.export
    people = sample_identities(face_model, demo, params.n, params.seed, ctx.start, ctx.stop)
    _write_attrs(h5, face_model)
    write_dataset(h5, "faces", face_model.faces.astype(np.int32), rows=False)
    if face_model.uv is not None and face_model.uv_faces is not None:
        write_dataset(h5, "uv", face_model.uv.astype(np.float32), rows=False)
        write_dataset(h5, "uv_faces", face_model.uv_faces.astype(np.int32), rows=False)
    vertices = create_rows(h5, "vertices", (rows, face_model.vertex_count, 3), np.float32)
    vertices.attrs["units"] = "m"
    vertices.attrs["frame"] = "+Y up, face toward +Z, right-handed"
    mesh_dir = ctx.dir / "meshes"
    if export:
        mesh_dir.mkdir()
    batches = range(0, rows, BATCH)
    for lo in ctx.track(batches, total=len(batches), description="sampling meshes"):
        hi = min(lo + BATCH, rows)
        verts = face_model.neutral(people.phenotype[lo:hi])
        vertices[lo:hi] = verts
        if export:
            for k in range(hi - lo):
                write_mesh(mesh_dir / f"{people.identity[lo + k]}.{export}", verts[k], face_model.faces,
                           face_model.uv, face_model.uv_faces, export)
    write_dataset(h5, "identity", people.identity)
    write_dataset(h5, "age_years", people.age_years, attrs={"units": "years"})
    write_dataset(h5, "age_group", people.age_group)
    write_dataset(h5, "gender", people.gender)
    write_dataset(h5, "ethnicity", people.ethnicity)
    write_dataset(h5, "phenotype", people.phenotype, attrs={"names": np.array(face_model.phenotype_names, dtype="S")})
    if export:
        write_dataset(h5, "mesh_file", np.array([f"meshes/{i}.{export}" for i in people.identity]))
    print_summary(people, demo)
    return f"wrote {console.plural(len(people.identity), 'identity', 'identities')} to {ctx.where}"


#: sample-mesh: no inputs; the items are the job's ``n`` identities; the face model is built only when there is work.
SAMPLE_MESH = Stage(STAGE, SampleMeshParams, _sample, items=lambda inputs, params: params.n,
                    load=lambda ctx: load_face_model(ctx.params.model), estimate=_estimate)


def sample_mesh(out: str | os.PathLike, n: int, model: str = "anny", balance: str | None = None,
                age_groups: str = DEFAULT_AGE_GROUPS, ethnicities: str | None = None, seed: int = 0,
                shard: Shard = WHOLE, export: str | None = None, force: bool = False, big_ok: bool = False) -> Path:
    """Sample ``n`` identities (this shard's part) and write the sample-mesh artefact ``out``.

    Datasets: /vertices (N, V, 3) float32 metres, /faces (F, 3) int32, /uv (T, 2) and /uv_faces
    (F, 3) where the model has them, /identity, /age_years, /age_group, /gender, /ethnicity (N,),
    /phenotype (N, P) float32 with attribute ``names``; with ``export`` also /mesh_file (N,) paths
    of meshes/<identity>.<export>. Returns the artefact's path ('-' streams it to stdout).
    """
    params = SampleMeshParams.of(n, model=model, balance=balance, age_groups=age_groups, ethnicities=ethnicities,
                                 seed=seed, export=export)
    return run(SAMPLE_MESH, out, params, shard=shard, force=force, big_ok=big_ok)


def _write_attrs(h5, model: FaceModel) -> None:
    h5.attrs["face_model"] = model.name
    h5.attrs["face_model_version"] = model.version
    if model.name == "flame":
        h5.attrs["face_model_path"] = model.spec[len("flame:"):]
    h5.attrs["phenotype_names"] = np.array(model.phenotype_names, dtype="S")
    h5.attrs["expression_names"] = np.array(model.expression_names, dtype="S")


def print_summary(people: Identities, demo: Demographics) -> None:
    """Print a table of identity counts per demographic cell on stderr (unless quiet)."""
    if console.verbosity < 0:
        return
    from rich.table import Table

    from painctl.facemodels.demographics import cell_counts

    labels = {"age": people.age_group, "gender": people.gender, "ethnicity": people.ethnicity}
    counts = cell_counts(labels, ("age", "gender", "ethnicity"))
    title = console.plural(len(people.identity), "identity", "identities") + (f", balanced over {', '.join(demo.balance)}" if demo.balance else "")
    table = Table("age group", "gender", "ethnicity", "count", title=title, title_justify="left")
    for (age, gender, eth), count in sorted(counts.items()):
        table.add_row(age, gender, eth, str(count))
    console.stderr().print(table)
