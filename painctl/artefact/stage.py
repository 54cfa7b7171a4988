"""The stage layer: a stage is a declaration and a body; :func:`run` does everything else.

A stage module declares what is particular to it::

    @dataclass(frozen=True)
    class SmoothParams(Parameters):
        iterations: int = 3                       # the fields are the manifest's params

        def check(self) -> None:
            if self.iterations < 1:
                raise BadValue("iterations", f"must be at least 1, got {self.iterations}")

    def body(ctx: Context) -> str:
        heads = ctx.inputs["heads"]
        for i in ctx.track(range(ctx.start, ctx.stop), description="smoothing"):
            ...                                  # write into ctx.h5 / ctx.dir
        return f"smoothed {ctx.stop - ctx.start} meshes into {ctx.where}"

    SMOOTH = Stage("smooth", SmoothParams, body,
                   inputs=(Input("heads", stages=("sample-mesh",), require={"vertices": "N,V,3:f"}),),
                   items=lambda inputs, params: inputs["heads"].rows())

and :func:`run` validates the parameters, opens and checks the inputs, decides the cache hit (before
``load`` builds any model), takes this shard's part of the items, checks the ``estimate`` against the
disk and memory, writes atomically through :class:`~painctl.artefact.store.ArtefactWriter` (or
:class:`~painctl.artefact.store.DirectoryOutput` for a plain directory), and prints the body's summary.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from painctl import console
from painctl.artefact.resources import check_resources
from painctl.artefact.schema import check_datasets
from painctl.artefact.shard import WHOLE, Shard
from painctl.artefact.store import Artefact, ArtefactWriter, DirectoryOutput, open_artefact
from painctl.errors import ArtefactError, BadValue
from painctl.seeding import rng_for


class Parameters:
    """Base of a stage's frozen parameter dataclass: its fields are what the manifest records.

    ``check`` raises :class:`~painctl.errors.BadValue` naming the field; ``manifest`` returns the
    params to record (and compare for a cache hit): the fields, unless a stage records a derived form.
    """

    def check(self) -> None:
        """Raise BadValue(field, why) for a value the stage does not accept."""

    def manifest(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The params recorded in the manifest; ``inputs`` are the opened inputs (name -> Artefact or None)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class Input:
    """An input a stage reads: ``name`` (its key in ``ctx.inputs``), the ``stages`` whose artefacts it
    accepts (None: any), the datasets it ``require``\\ s (see :mod:`painctl.artefact.schema`),
    ``check(art)`` for anything more, ``optional`` (None allowed), ``many`` (a sequence of
    artefacts) and ``resolve(value, opened)``: how a value (None included) becomes the artefact,
    given the inputs declared before it (heatmap's rig defaults to the one its views record)."""

    name: str
    stages: tuple[str, ...] | None = None
    require: Mapping[str, str] = field(default_factory=dict)
    check: Callable[[Artefact], None] | None = None
    optional: bool = False
    many: bool = False
    resolve: Callable[[Any, Mapping[str, Any]], Artefact | None] | None = None

    def open(self, value: str | os.PathLike | Artefact) -> Artefact:
        """Open ``value`` (a path, or an artefact opened already) and check it against this input."""
        if isinstance(value, Artefact):
            art = value
            if self.stages is not None and art.stage not in self.stages:
                raise ArtefactError(f"{art.where}: is a {art.stage!r} artefact, expected {' or '.join(map(repr, self.stages))}")
            if self.require:
                check_datasets(art.layout(), self.require, art.where)
        else:
            art = open_artefact(value, stage=self.stages, require=self.require or None)
        if self.check is not None:
            self.check(art)
        return art


@dataclass(frozen=True)
class Stage:
    """A stage's declaration.

    ``name``: the stage recorded in the manifest (the command's name). ``params``: its
    :class:`Parameters` dataclass. ``body(ctx) -> str`` does the work inside the open writer and
    returns the one summary line. ``inputs``: what it reads, in the order the manifest records
    them. ``items(inputs, params) -> int``: how many items the whole job has (``--shard`` takes a
    contiguous part of them); None for a stage that does not shard. ``load(ctx)``: models and
    other costly things, built only when there is work (after the cache check) and before the
    output is started; its result is ``ctx.models``. ``estimate(ctx) -> dict`` the keywords of
    :func:`~painctl.artefact.resources.check_resources` (``disk_bytes``, ``memory_bytes``,
    ``what``), checked after ``load``, before anything is written. ``output``: "artefact" (data.h5
    and a manifest, cached) or "directory" (a plain directory in another layout, never cached).
    ``output_stage(inputs)``: the stage written, when it is not ``name`` (merge writes its shards').
    """

    name: str
    params: type
    body: Callable[["Context"], str]
    inputs: tuple[Input, ...] = ()
    items: Callable[[Mapping[str, Any], Any], int] | None = None
    load: Callable[["Context"], Any] | None = None
    estimate: Callable[["Context"], Mapping[str, Any] | None] | None = None
    output: str = "artefact"
    output_stage: Callable[[Mapping[str, Any]], str] | None = None


@dataclass
class Context:
    """What a body works with: the checked ``params``, the opened ``inputs`` (name -> Artefact, None
    or a list), the ``shard`` and this shard's items ``start``..``stop`` (of ``total``),
    ``models`` from the stage's ``load``, ``options`` that are not parameters (worker counts),
    and the output: ``path`` (OUT, '-' when streamed), ``where`` (how messages name it), ``writer``, ``dir`` (the temporary
    directory being built) and ``h5`` (its open data.h5, artefacts only). ``rng`` needs a
    ``seed`` parameter."""

    stage: Stage
    params: Any
    inputs: dict[str, Any]
    shard: Shard
    path: Path
    options: dict[str, Any]
    total: int = 0
    start: int = 0
    stop: int = 0
    models: Any = None
    writer: Any = None
    dir: Path | None = None
    h5: Any = None

    @property
    def where(self) -> str:
        """How the summary names the output: its path, or ``stdout`` when it is streamed (never a temporary)."""
        return self.writer.where if self.writer is not None else str(self.path)

    @property
    def count(self) -> int:
        """Items of this shard (``stop - start``)."""
        return self.stop - self.start

    def rng(self, *item: int, stream: str | None = None):
        """The random generator of ``item`` (global indices) of this stage: ``rng_for(seed, stage[/stream], *item)``."""
        return rng_for(self.params.seed, self.stage.name if stream is None else f"{self.stage.name}/{stream}", *item)

    def track(self, iterable: Iterable, total: int | None = None, description: str | None = None):
        """Iterate with a progress bar on stderr (unless quiet)."""
        return console.track(iterable, total=total, description=description or self.stage.name)


def open_inputs(stage: Stage, given: Mapping[str, Any]) -> dict[str, Any]:
    """Open and check each declared input of ``stage`` from ``given`` (name -> path, Artefact, None or a sequence)."""
    unknown = set(given) - {i.name for i in stage.inputs}
    if unknown:
        raise TypeError(f"stage {stage.name} has no input {sorted(unknown)[0]!r}")
    opened: dict[str, Any] = {}
    for spec in stage.inputs:
        value = given.get(spec.name)
        if spec.resolve is not None:
            value = spec.resolve(value, opened)
        if value is None:
            if not spec.optional:
                raise TypeError(f"stage {stage.name} needs its input {spec.name!r}")
            opened[spec.name] = None
        elif spec.many:
            opened[spec.name] = [spec.open(v) for v in value]
        else:
            opened[spec.name] = spec.open(value)
    return opened


def _flat(stage: Stage, inputs: Mapping[str, Any]) -> list[Artefact]:
    arts: list[Artefact] = []
    for spec in stage.inputs:
        value = inputs[spec.name]
        if value is not None:
            arts.extend(value if spec.many else [value])
    return arts


def run(stage: Stage, out: str | os.PathLike, params: Any, inputs: Mapping[str, Any] | None = None, *,
        shard: Shard | None = None, force: bool = False, big_ok: bool = False, **options: Any) -> Path:
    """Run ``stage`` with ``params`` on ``inputs`` (name -> path or opened artefact) into ``out``; return OUT's path.

    In order: ``params.check()``; the inputs opened and checked; the cache check (same stage,
    params and inputs already at OUT: nothing more is done); this ``shard``'s part of
    ``stage.items``; ``stage.load``; ``stage.estimate`` against disk and memory (``big_ok`` skips
    it); the body inside the atomic writer; its summary line. ``options`` (not parameters: worker
    counts, the renderer backend) reach the body as ``ctx.options``.
    """
    shard = WHOLE if shard is None else shard
    if not isinstance(params, stage.params):
        raise TypeError(f"stage {stage.name} takes {stage.params.__name__}, not {type(params).__name__}")
    params.check()
    if stage.items is None and shard != WHOLE:
        raise BadValue("shard", f"does not apply to {stage.name} (it does not split its work)")
    opened = open_inputs(stage, inputs or {})
    arts = _flat(stage, opened)
    ctx = Context(stage, params, opened, shard, Path(out), dict(options))
    if stage.output == "directory":
        writer = DirectoryOutput(out, force, inputs=arts, what=stage.name)
    else:
        record = params.manifest(opened)
        if stage.items is not None:
            record["shard"] = str(shard)
        writer = ArtefactWriter(out, stage.output_stage(opened) if stage.output_stage else stage.name, record, inputs=arts, force=force)
        if writer.cached:  # decided before any model is built: a cache hit does no work
            console.info(f"{writer.where} is up to date (cache hit)")
            return writer.path
    ctx.writer, ctx.path = writer, writer.path
    if stage.items is not None:
        ctx.total = int(stage.items(opened, params))
        ctx.start, ctx.stop = shard.bounds(ctx.total)
    if stage.load is not None:
        ctx.models = stage.load(ctx)
    if stage.estimate is not None:
        need = stage.estimate(ctx)
        if need:
            check_resources(writer.place, **need, override=big_ok)
    with writer as built:
        if stage.output == "directory":
            ctx.dir = built
        else:
            ctx.dir, ctx.h5 = writer.dir, writer.h5
        summary = stage.body(ctx)
    if summary:
        console.info(summary)
    return writer.path

