"""painctl's stages as Python functions: each takes its inputs (artefact paths or opened artefacts)
and keyword parameters, writes its artefact and returns it opened.

    import painctl
    heads = painctl.sample_mesh("heads/", n=4, balance="age,gender,ethnicity", seed=1)
    pain = painctl.rig(heads, "pain/", pspi=8)
    views = painctl.render_views(pain, "views/", size=224)
    heat = painctl.heatmap(views, "heat/")
    print(painctl.open("heat/").rows())

Parameters are named and checked as the commands' options are (``pspi`` is ``--pspi``); a bad value
raises :class:`painctl.errors.BadValue` (a :class:`painctl.errors.PainctlError`) with one sentence that
names the parameter as it is spelled here (``per_identity must be at least 1, got 0``); the command
line names the flag instead (``--per-identity must be ...``). Rerunning with the same inputs and
parameters is a cache hit; another parameter into an existing OUT needs ``force=True``.
An output or a run estimated not to fit on the disk or in memory is refused unless ``big_ok=True``
(the commands' ``--i-know-it-is-big``); like ``force``, it is not recorded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from painctl.artefact import Artefact, open_artefact
from painctl.artefact.shard import WHOLE, Shard, parse_shard
from painctl.errors import BadValue

PathLike = str | os.PathLike
Input = PathLike | Artefact


def open(path: PathLike, stage: str | Sequence[str] | None = None) -> Artefact:  # noqa: A001 - painctl.open, as h5py.File / PIL.Image.open
    """Open the artefact at ``path`` (any stage, or only ``stage``) and return it, validated."""
    return open_artefact(path, stage=stage)


def _opened(art: Input, stage=None, require=None) -> Artefact:
    return art if isinstance(art, Artefact) else open_artefact(art, stage=stage, require=require)


def _path(art: Input) -> str:
    return str(art.path) if isinstance(art, Artefact) else str(art)


def _shard(shard: str | Shard | None) -> Shard:
    if shard is None:
        return WHOLE
    return shard if isinstance(shard, Shard) else parse_shard(str(shard))


def sample_mesh(out: PathLike, n: int, *, model: str = "anny", balance: str | None = None,
                age_groups: str = "young:18-40,elderly:65-90", ethnicities: str | None = None, seed: int = 0,
                shard: str | Shard | None = None, export: str | None = None, force: bool = False, big_ok: bool = False) -> Artefact:
    """Sample ``n`` identities into the mesh artefact ``out`` (see painctl-sample-mesh(1)); return it."""
    from painctl.stages.sample_mesh import sample_mesh as run

    return open_artefact(run(out, n, model=model, balance=balance, age_groups=age_groups, ethnicities=ethnicities,
                             seed=seed, shard=_shard(shard), export=export, force=force, big_ok=big_ok))


def render_neutral(heads: Input, out: PathLike, *, backend: str = "shaded", size: int = 512, texture_size: int = 1024,
                   model: str | None = None, prior_model: str | None = None, steps: int = 50, lights: str = "studio",
                   renderer: str = "moderngl", seed: int = 0, shard: str | Shard | None = None, force: bool = False,
                   big_ok: bool = False) -> Artefact:
    """Render every identity of ``heads`` frontally (depth and neutral face) into ``out``; return it."""
    from painctl.stages.render_neutral import render_neutral as run

    return open_artefact(run(heads, out, backend=backend, size=size, seed=seed, shard=_shard(shard), force=force, big_ok=big_ok, model=model,
                             prior_model=prior_model, steps=steps, texture_size=texture_size, renderer=renderer, lights=lights))


def texture(neutral: Input, out: PathLike, *, size: int = 1024, backend: str = "project", shard: str | Shard | None = None,
            force: bool = False, big_ok: bool = False) -> Artefact:
    """Bake every identity's neutral photo of ``neutral`` into a UV texture and textured OBJ in ``out``; return it."""
    from painctl.stages.texture import texture_artefact as run

    return open_artefact(run(neutral, out, size=size, backend=backend, shard=_shard(shard), force=force, big_ok=big_ok))


def rig(heads: Input | None, out: PathLike, *, pspi: int | str | Sequence[int] | None = None, au: str | Sequence[float] | None = None,
        per_identity: int = 1, prior: PathLike | None = None, asymmetry: float = 0.0, sequence: int = 0, seed: int = 0,
        model_mesh: PathLike | None = None, jobs: int | None = None, shard: str | Shard | None = None, force: bool = False,
        big_ok: bool = False) -> Artefact:
    """Make every identity of ``heads`` a neutral face plus pain faces into ``out``; return it.

    ``pspi`` is a level (8), levels ([1, 4, 8]) or a spec ("1-16"); ``au`` fixed intensities as a spec
    ("AU4=3,AU43=1") or six numbers (AU4, AU6, AU7, AU9, AU10, AU43). Give exactly one.
    ``model_mesh`` rigs a mesh file (OBJ, PLY, ...) instead; then ``heads`` is None. ``jobs``
    worker processes rig the identities (default: every core that the available memory holds a
    worker for, each with 64 identities or more); the bytes do not depend on it.
    """
    from painctl.stages.rig import RigRequest, rig_identities

    request = RigRequest.of(pspi=pspi, au=au, per_identity=per_identity, prior=prior, asymmetry=asymmetry, sequence=sequence,
                            seed=seed, model_mesh=model_mesh)
    request.check()
    if model_mesh is not None:
        from painctl.io.load_mesh import mesh_file_artefact

        heads = mesh_file_artefact(model_mesh)
    return open_artefact(rig_identities(heads, out, request, shard=_shard(shard), force=force, big_ok=big_ok, jobs=jobs))


def render_views(pain: Input, out: PathLike, *, texture: Input | None = None, views: str = "0/0,-30/0,30/0", size: int = 224,
                 background: str = "room", camera_model: str = "photo", pose_jitter: float = 4.0, lighting: str = "room",
                 maps: bool = True, renderer: str = "moderngl", without: str | Sequence[str] | None = None,
                 inpaint_model: str | None = None, inpaint_steps: int = 25, jobs: int | None = None, seed: int = 0,
                 shard: str | Shard | None = None, force: bool = False, big_ok: bool = False) -> Artefact:
    """Render every identity of the rig artefact ``pain`` (neutral and pain faces) in every view into ``out``; return it.

    ``views`` is "yaw/pitch,..." in degrees; ``size`` pixels; ``without`` the appearance parts to
    leave out (names or "a,b"); ``texture`` a texture artefact (default: the one ``pain`` was rigged
    from, if any; "none" for the plain albedo); ``jobs`` worker processes (default: every core that
    the available memory holds a worker for). See painctl-render-views(1) for the scene options.
    """
    from painctl.stages.render_views import RIG_REQUIRE, ViewsRequest, render_views as run, texture_for

    request = ViewsRequest.of(views=views, size=size, background=background, camera_model=camera_model, pose_jitter=pose_jitter,
                              lighting=lighting, maps=maps, renderer=renderer, seed=seed, inpaint_model=inpaint_model,
                              inpaint_steps=inpaint_steps, without=without)
    request.check()
    if jobs is not None and jobs < 1:
        raise BadValue("jobs", f"must be at least 1, got {jobs}")
    rig_art = _opened(pain, stage="rig", require=RIG_REQUIRE)
    return open_artefact(run(rig_art, out, request, texture=texture_for(rig_art, texture), shard=_shard(shard), force=force, big_ok=big_ok, jobs=jobs))


def heatmap(views: Input, out: PathLike, *, rig: Input | None = None, force: bool = False, big_ok: bool = False) -> Artefact:
    """Write per-image and per-AU displacement heatmaps of the render-views artefact ``views`` into ``out``; return it.

    ``rig`` is the rig artefact ``views`` was rendered from (default: the one its manifest records).
    """
    from painctl.stages.heatmap import heatmap as run

    return open_artefact(run(views, out, rig=rig, force=force, big_ok=big_ok))


def export(art: Input, out: PathLike, *, format: str = "3dpain", prefix: str = "flame_sample",  # noqa: A002
           force: bool = False, big_ok: bool = False) -> Path:
    """Export a render-views or heatmap artefact as a 3D-Pain tree at ``out``; return the tree's path."""
    from painctl.stages.export import ExportParams, export_3dpain

    ExportParams(format=format, prefix=prefix).check()
    return export_3dpain(art, out, force=force, big_ok=big_ok, prefix=prefix)


def merge(out: PathLike, shards: Sequence[Input], *, force: bool = False) -> Artefact:
    """Join the ``shards`` (artefacts of --shard K/N runs, in order) into ``out`` without copying; return it."""
    from painctl.stages.merge import merge as run

    return open_artefact(run(out, list(shards), force=force))


def contact_sheet(art: Input, *, view: str | None = None, max_rows: int = 8, tile: int = 160):
    """Return the contact sheet (a PIL image: identities by neutral, PSPI levels and heatmap) of ``art``."""
    from painctl.plots.contact_sheet import contact_sheet as draw

    return draw(_opened(art), view=view, max_rows=max_rows, tile=tile)


# ------------------------------------------------------ ViTPain: train, evaluate, predict, convert
# These write checkpoints, reports and CSV files rather than artefacts. Their keywords are those of
# painctl-train(1), painctl-eval(1), painctl-predict(1) and painctl-convert-checkpoint(1), named as
# in ModelConfig and TrainConfig.

def train(data: Input | Sequence[Input], out: PathLike, *, backbone: str = "tiny", reference: bool = True, input: str = "rgb",  # noqa: A002
          teacher: PathLike | None = None, distill_weight: float = 1.0, init: PathLike | None = None, val_fraction: float = 0.2,
          split_csv: PathLike | None = None, shots: int = 1, epochs: int = 10, batch_size: int = 32, lr_heads: float = 1e-4,
          lr_lora: float | None = None, weight_decay: float = 0.1, au_weight: float | None = None, weighted_sampling: bool | None = None,
          image_size: int | None = None, lora_r: int = 8, lora_alpha: int = 16, lora_targets: str | Sequence[str] = ("q_proj", "v_proj"),
          num_workers: int = 0, amp: bool = True, augment: bool = True, seed: int = 0, force: bool = False, big_ok: bool = False) -> Path:
    """Train ViTPain on ``data`` (render-views/heatmap artefacts, 3D-Pain or UNBC-McMaster trees; one or
    a list) into the run directory ``out``; return the path of the selected checkpoint, ``out/best``.

    Pass that path to :func:`predict`, :func:`evaluate` (``checkpoint=``) or another run's ``init``;
    ``painctl.vitpain.checkpoint.load_checkpoint(path)`` loads the model. See painctl-train(1).
    """
    from painctl.stages.train import train as run

    paths = [_path(data)] if isinstance(data, (str, os.PathLike, Artefact)) else [_path(d) for d in data]
    return run(paths, out, backbone=backbone, reference=reference, input=input, teacher=teacher, distill_weight=distill_weight, init=init,
               val_fraction=val_fraction, split_csv=split_csv, shots=shots, epochs=epochs, batch_size=batch_size, lr_heads=lr_heads,
               lr_lora=lr_lora, weight_decay=weight_decay, au_weight=au_weight, weighted_sampling=weighted_sampling, image_size=image_size,
               lora_r=lora_r, lora_alpha=lora_alpha, lora_targets=lora_targets, num_workers=num_workers, amp=amp, augment=augment, seed=seed,
               force=force, big_ok=big_ok)


def evaluate(data: Input, out: PathLike, *, folds: int = 5, folds_file: PathLike | None = None, split_csv: PathLike | None = None,
             checkpoint: PathLike | None = None, forward: str | None = None, calibration: Input | None = None, shots: int = 1,
             backbone: str = "tiny", reference: bool = True, init: PathLike | None = None, val_fraction: float = 0.2, epochs: int = 10,
             batch_size: int = 32, lr_heads: float = 1e-4, lr_lora: float | None = None, weight_decay: float = 0.1,
             au_weight: float | None = None, weighted_sampling: bool | None = None, image_size: int | None = None, lora_r: int = 8,
             lora_alpha: int = 16, lora_targets: str | Sequence[str] = ("q_proj", "v_proj"), num_workers: int = 0, amp: bool = True,
             augment: bool = True, seed: int = 0, force: bool = False) -> dict:
    """Cross-validate ViTPain on ``data`` by subject (``folds``, or ``folds_file``, or one ``split_csv``;
    with ``checkpoint`` nothing is trained) and write the report into ``out``; return the report.

    ``report["summary"][metric]`` holds mean, std and the 95% CI across folds (metrics ``pcc``,
    ``mae``, ``auroc_1``, ``f1_1``, ...), ``report["pooled"]`` the metrics over all test frames,
    ``report["folds"]`` each fold's subjects and thresholds. This is `painctl eval` (``eval`` would
    shadow Python's builtin); see painctl-eval(1).
    """
    from painctl.stages.eval import evaluate as run

    return run(_path(data), out, folds=folds, folds_file=folds_file, split_csv=split_csv, checkpoint=checkpoint, forward=forward,
               calibration=None if calibration is None else _path(calibration), shots=shots, backbone=backbone, reference=reference,
               init=init, val_fraction=val_fraction, epochs=epochs, batch_size=batch_size, lr_heads=lr_heads, lr_lora=lr_lora,
               weight_decay=weight_decay, au_weight=au_weight, weighted_sampling=weighted_sampling, image_size=image_size, lora_r=lora_r,
               lora_alpha=lora_alpha, lora_targets=lora_targets, num_workers=num_workers, amp=amp, augment=augment, seed=seed, force=force)


def predict(checkpoint, images: PathLike | Sequence[PathLike], neutrals: PathLike | Sequence[PathLike] = (), *, shots: int = 1,
            crop: bool = False, batch_size: int = 32, forward: str = "model", seed: int = 0, csv: PathLike | None = None,
            force: bool = False):
    """Score face ``images`` (files or directories) with ``checkpoint`` (a path from :func:`train`, or a
    loaded ViTPain) against ``neutrals`` of the same person; return the
    :class:`~painctl.vitpain.inference.Predictions`: arrays ``pspi`` (N,) 0-16, ``prob`` (N, 3)
    P(PSPI >= 1, 2, 3), ``au`` (N, 6), ``keys`` the image paths; ``.records()`` gives one dict per
    image. ``csv`` also writes them as painctl predict's CSV. See painctl-predict(1).
    """
    from painctl.stages.predict import predict as run

    return run(checkpoint, images, neutrals, shots=shots, crop=crop, batch_size=batch_size, forward=forward, seed=seed, csv=csv, force=force)


def convert_checkpoint(ckpt: PathLike, out: PathLike, *, image_size: int = 224, force: bool = False, big_ok: bool = False) -> Path:
    """Convert the authors' released ViTPain (their PyTorch Lightning ``ckpt``, read without running
    code from it) into the painctl checkpoint directory ``out`` for ``image_size`` pixel inputs; return
    ``out``'s path, for :func:`predict` and :func:`evaluate` (``checkpoint=``, with ``forward="authors"``
    to run their forward pass). See painctl-convert-checkpoint(1).
    """
    from painctl.stages.convert_checkpoint import convert_checkpoint as run

    return run(ckpt, out, image_size=image_size, force=force, big_ok=big_ok)
