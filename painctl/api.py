"""painctl's stages as Python functions: each takes its inputs (artefact paths or opened artefacts)
and keyword parameters, writes its artefact and returns it opened.

    import painctl
    heads = painctl.sample_mesh("heads/", n=4, balance="age,gender,ethnicity", seed=1)
    pain = painctl.rig(heads, "pain/", pspi=8)
    views = painctl.render_views(pain, "views/", size=224)
    heat = painctl.heatmap(views, "heat/")
    print(painctl.open("heat/").rows())

Parameters are named and checked as the commands' options are (``pspi`` is ``--pspi``); a bad value
raises :class:`painctl.errors.PainctlError` with one sentence. Rerunning with the same inputs and
parameters is a cache hit; another parameter into an existing OUT needs ``force=True``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from painctl.artefact import Artefact, open_artefact
from painctl.artefact.shard import WHOLE, Shard, parse_shard
from painctl.errors import PainctlError

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
                shard: str | Shard | None = None, export: str | None = None, force: bool = False) -> Artefact:
    """Sample ``n`` identities into the mesh artefact ``out`` (see painctl-sample-mesh(1)); return it."""
    from painctl.stages.sample_mesh import sample_mesh as run

    return open_artefact(run(out, n, model=model, balance=balance, age_groups=age_groups, ethnicities=ethnicities,
                             seed=seed, shard=_shard(shard), export=export, force=force))


def render_neutral(heads: Input, out: PathLike, *, backend: str = "shaded", size: int = 512, texture_size: int = 1024,
                   model: str | None = None, prior_model: str | None = None, steps: int = 50, lights: str = "studio",
                   renderer: str = "moderngl", seed: int = 0, shard: str | Shard | None = None, force: bool = False) -> Artefact:
    """Render every identity of ``heads`` frontally (depth and neutral face) into ``out``; return it."""
    from painctl.stages.render_neutral import render_neutral as run

    return open_artefact(run(_path(heads), out, backend=backend, size=size, seed=seed, shard=_shard(shard), force=force, model=model,
                             prior_model=prior_model, steps=steps, texture_size=texture_size, renderer=renderer, lights=lights))


def texture(neutral: Input, out: PathLike, *, size: int = 1024, backend: str = "project", shard: str | Shard | None = None,
            force: bool = False) -> Artefact:
    """Bake every identity's neutral photo of ``neutral`` into a UV texture and textured OBJ in ``out``; return it."""
    from painctl.stages.texture import texture_artefact as run

    return open_artefact(run(_path(neutral), out, size=size, backend=backend, shard=_shard(shard), force=force))


def rig(heads: Input, out: PathLike, *, pspi: int | str | Sequence[int] | None = None, au: str | Sequence[float] | None = None,
        per_identity: int = 1, prior: PathLike | None = None, asymmetry: float = 0.0, sequence: int = 0, seed: int = 0,
        shard: str | Shard | None = None, force: bool = False) -> Artefact:
    """Make every identity of ``heads`` a neutral face plus pain faces into ``out``; return it.

    ``pspi`` is a level (8), levels ([1, 4, 8]) or a spec ("1-16"); ``au`` fixed intensities as a spec
    ("AU4=3,AU43=1") or six numbers (AU4, AU6, AU7, AU9, AU10, AU43). Give exactly one.
    """
    from painctl.facs import parse_au_spec, parse_pspi_levels
    from painctl.stages.rig import RigRequest, rig_identities

    if (pspi is None) == (au is None):
        raise PainctlError("give exactly one of pspi (levels) or au (fixed intensities)")
    levels = None
    if pspi is not None:
        levels = tuple(parse_pspi_levels(str(pspi) if isinstance(pspi, (int, str)) else ",".join(str(int(x)) for x in pspi)))
    fixed = None
    if au is not None:
        fixed = tuple(float(x) for x in (parse_au_spec(au) if isinstance(au, str) else au))
        if len(fixed) != 6:
            raise PainctlError(f"au must hold 6 intensities (AU4, AU6, AU7, AU9, AU10, AU43), got {len(fixed)}")
    request = RigRequest(levels=levels, au=fixed, per_identity=per_identity, prior=None if prior is None else str(prior),
                         asymmetry=asymmetry, sequence=sequence, seed=seed)
    request.check()
    source = _opened(heads)
    if not source.has("vertices") or not source.has("identity"):
        raise PainctlError(f"{source.where}: has no identities to rig (needs /vertices and /identity, e.g. from sample-mesh)")
    return open_artefact(rig_identities(source, out, request, shard=_shard(shard), force=force))


def render_views(pain: Input, out: PathLike, *, texture: Input | None = None, views: str = "0/0,-30/0,30/0", size: int = 224,
                 background: str = "room", camera_model: str = "photo", pose_jitter: float = 4.0, lighting: str = "room",
                 maps: bool = True, renderer: str = "moderngl", without: str | Sequence[str] | None = None,
                 inpaint_model: str | None = None, inpaint_steps: int = 25, jobs: int | None = None, seed: int = 0,
                 shard: str | Shard | None = None, force: bool = False) -> Artefact:
    """Render every identity of the rig artefact ``pain`` (neutral and pain faces) in every view into ``out``; return it.

    ``views`` is "yaw/pitch,..." in degrees; ``size`` pixels; ``without`` the appearance parts to
    leave out (names or "a,b"); ``texture`` a texture artefact (default: the one ``pain`` was rigged
    from, if any; "none" for the plain albedo). See painctl-render-views(1) for the scene options.
    """
    from painctl.appearance import parse_without
    from painctl.stages.render_views import RIG_REQUIRE, ViewsRequest, parse_views, render_views as run, texture_for

    names = parse_without(without if without is None or isinstance(without, str) else ",".join(without))
    request = ViewsRequest(views=parse_views(views), size=size, background=background, camera_model=camera_model, pose_jitter=pose_jitter,
                           lighting=lighting, maps=maps, renderer=renderer, seed=seed, inpaint_model=inpaint_model,
                           inpaint_steps=inpaint_steps, without=names)
    request.check()
    if jobs is not None and jobs < 1:
        raise PainctlError(f"jobs must be at least 1, got {jobs}")
    rig_art = _opened(pain, stage="rig", require=RIG_REQUIRE)
    tex = texture if isinstance(texture, Artefact) else texture_for(rig_art, None if texture is None else str(texture))
    return open_artefact(run(rig_art, out, request, texture=tex, shard=_shard(shard), force=force, jobs=jobs))


def heatmap(views: Input, out: PathLike, *, rig: Input | None = None, force: bool = False) -> Artefact:
    """Write per-image and per-AU displacement heatmaps of the render-views artefact ``views`` into ``out``; return it."""
    from painctl.stages.heatmap import VIEWS_REQUIRE, heatmap as run, rig_of_views

    views_art = _opened(views, stage="render-views", require=VIEWS_REQUIRE)
    rig_art = rig_of_views(views_art, None) if rig is None else _opened(rig, stage="rig")
    return open_artefact(run(views_art, out, rig=rig_art, force=force))


def export(art: Input, out: PathLike, *, format: str = "3dpain", prefix: str = "flame_sample", force: bool = False) -> Path:  # noqa: A002
    """Export a render-views or heatmap artefact as a 3D-Pain tree at ``out``; return the tree's path."""
    from painctl.stages.export import REQUIRE, export_3dpain

    if format != "3dpain":
        raise PainctlError(f"format must be 3dpain, got {format!r}")
    return export_3dpain(_opened(art, stage=("render-views", "heatmap"), require=REQUIRE), out, force=force, prefix=prefix)


def merge(out: PathLike, shards: Sequence[Input], *, force: bool = False) -> Artefact:
    """Join the ``shards`` (artefacts of --shard K/N runs, in order) into ``out`` without copying; return it."""
    from painctl.stages.merge import merge as run

    return open_artefact(run(out, [_path(s) for s in shards], force=force))


def contact_sheet(art: Input, *, view: str | None = None, max_rows: int = 8, tile: int = 160):
    """Return the contact sheet (a PIL image: identities by neutral, PSPI levels and heatmap) of ``art``."""
    from painctl.plots.contact_sheet import contact_sheet as draw

    return draw(_opened(art), view=view, max_rows=max_rows, tile=tile)
