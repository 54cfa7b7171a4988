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

and :func:`run` validates the parameters, opens and checks the inputs, refuses an OUT it must not
replace and decides the cache hit, takes this shard's part of the items, checks the ``estimate``
against the disk and memory, then (only then) runs ``load``, writes atomically and prints the body's
summary. What OUT is comes from the declaration's ``output`` kind: :data:`ARTEFACT` (data.h5 and a
manifest, cached), :class:`Directory` (a plain directory in another layout: an export, an eval
report), :class:`SingleFile` (one file: a CSV, a PNG; cached by a stamp it carries) or
:class:`RunDirectory` (a training run's checkpoint directory, filled in place step by step and
resumed by the body).
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
from painctl.artefact.locks import OutputLock
from painctl.artefact.store import Artefact, ArtefactWriter, DirectoryOutput, FileOutput, check_output_place, open_artefact
from painctl.errors import ArtefactError, BadValue, PainctlError
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


# ------------------------------------------------------------------------------ output kinds
# Each kind's ``writer(ctx, force)`` returns an object with ``path``, ``where``, ``place`` (the
# directory the disk check measures), ``cached`` (OUT already holds this result) and a ``with``
# block that yields where the body writes and puts it in place only when the body succeeds.


@dataclass(frozen=True)
class ArtefactOutput:
    """OUT is an artefact (data.h5 and manifest.json, or '-' streamed): cached by stage, params and inputs."""

    def check_name(self, out: Any) -> None:
        """Refuse a name of OUT this kind cannot write (before any input is read)."""

    def writer(self, ctx: "Context", force: bool) -> ArtefactWriter:
        """The :class:`~painctl.artefact.store.ArtefactWriter` of ``ctx``'s OUT (its refusals raise now)."""
        stage, opened = ctx.stage, ctx.inputs
        record = ctx.params.manifest(opened)
        if stage.items is not None:
            record["shard"] = str(ctx.shard)
        name = stage.output_stage(opened) if stage.output_stage else stage.name
        return ArtefactWriter(ctx.path, name, record, inputs=_flat(stage, opened), force=force)


#: The default output kind: an artefact.
ARTEFACT = ArtefactOutput()


@dataclass(frozen=True)
class Directory:
    """OUT is a plain directory in another layout (an export, an eval report), never cached: built in a
    hidden sibling and renamed into place; replaced only with ``force`` and only if painctl wrote it.
    ``what`` names it in messages and in its marker file (default: the stage's name)."""

    what: str | None = None

    def check_name(self, out: Any) -> None:
        """Refuse a name of OUT this kind cannot write (before any input is read)."""

    def writer(self, ctx: "Context", force: bool) -> DirectoryOutput:
        """The :class:`~painctl.artefact.store.DirectoryOutput` of ``ctx``'s OUT (its refusals raise now)."""
        return DirectoryOutput(ctx.path, force, inputs=_flat(ctx.stage, ctx.inputs), what=self.what or ctx.stage.name)


@dataclass(frozen=True)
class SingleFile:
    """OUT is one file (a CSV, a PNG), written to a hidden sibling and renamed into place.

    ``ours(path)``: whether an existing file is one painctl wrote (only such a file is replaced, and
    only with ``force``). ``stamp(ctx) -> str``: what the file records of its making; an existing file
    carrying the same stamp (``read_stamp(path)``) is a cache hit. ``check(out)`` refuses a bad name
    before any input is read. ``optional``: OUT may be None (nothing is written; the body's result is
    all there is, as for predict without --csv)."""

    what: str = "file"
    ours: Callable[[Path], bool] = lambda path: False
    stamp: Callable[["Context"], str] | None = None
    read_stamp: Callable[[Path], str | None] | None = None
    check: Callable[[Any], None] | None = None
    optional: bool = False

    def check_name(self, out: Any) -> None:
        """Refuse a name of OUT this kind cannot write (before any input is read)."""
        if out is not None and self.check is not None:
            self.check(out)

    def writer(self, ctx: "Context", force: bool) -> "_FileWriter":
        """The writer of ``ctx``'s OUT: a cache hit when the file there carries this run's stamp."""
        return _FileWriter(self, ctx, force)


class _FileWriter:
    def __init__(self, kind: SingleFile, ctx: "Context", force: bool):
        path = ctx.path
        self.path, self.where, self.place = path, str(path), Path(os.path.abspath(path)).parent
        self.stamp = kind.stamp(ctx) if kind.stamp is not None else None
        exists = (path.exists() or path.is_symlink()) and not path.is_dir()
        self.cached = bool(self.stamp is not None and not force and exists and kind.read_stamp is not None
                           and kind.read_stamp(path) == self.stamp)
        self._output = None if self.cached else FileOutput(path, force, ours=kind.ours, what=kind.what)

    def __enter__(self) -> Path:
        assert self._output is not None
        return self._output.__enter__()

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._output is not None
        self._output.__exit__(exc_type, exc, tb)


@dataclass(frozen=True)
class RunDirectory:
    """OUT is a directory the body fills in place, one atomic step at a time (a training run: each
    epoch's checkpoint swapped in whole), so an interrupted run resumes from what it holds. The
    runner checks the place and holds the lock; whether OUT's content may be resumed, continued or
    must be refused (without ``force``) is the body's call, since only it knows what a step means.
    An OUT created by this run and still empty when the body fails is removed. Under a multi-process
    launch only rank 0 takes the lock (the others write nothing)."""

    what: str = "run"

    def check_name(self, out: Any) -> None:
        """Refuse a name of OUT this kind cannot write (before any input is read)."""

    def writer(self, ctx: "Context", force: bool) -> "RunWriter":
        """The writer of ``ctx``'s OUT (its place checked now; never a cache hit: the body decides)."""
        return RunWriter(ctx.path, self.what)


class RunWriter:
    """The ``with`` block of a :class:`RunDirectory`: lock OUT, create it, remove it again if the body
    fails before writing anything. Usable on its own (``with RunWriter(out, "training run") as d: ...``).
    A file or a link at OUT is refused, force or not."""

    cached = False

    def __init__(self, out: str | os.PathLike, what: str = "run"):
        self.path = Path(out)
        self.where, self.place = str(self.path), Path(os.path.abspath(self.path)).parent
        self.main = int(os.environ.get("RANK", "0")) == 0  # under accelerate/torchrun only rank 0 writes
        if self.main:
            check_output_place(self.path)
            if self.path.is_symlink() or (self.path.exists() and not self.path.is_dir()):
                raise PainctlError(f"{self.path}: is a file, not a {what}; painctl will not replace it, with or without {{force=True}}",
                                   params=("force=True",))
            OutputLock.check(self.path)
        self._lock: OutputLock | None = None
        self._existed = True

    def __enter__(self) -> Path:
        if self.main:
            self._lock = OutputLock(self.path)
            self._existed = self.path.exists()
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                self._lock.release()
                raise PainctlError(f"{self.path}: cannot be created ({exc.strerror})") from None
        return self.path

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is not None and not self._existed and self.path.is_dir() and not self.path.is_symlink() \
                    and not any(self.path.iterdir()):
                self.path.rmdir()  # failed before the first step: leave no empty OUT behind
        finally:
            if self._lock is not None:
                self._lock.release()


_KINDS = {"artefact": ARTEFACT, "directory": Directory()}


@dataclass(frozen=True)
class Stage:
    """A stage's declaration.

    ``name``: the stage recorded in the manifest (the command's name). ``params``: its
    :class:`Parameters` dataclass. ``body(ctx) -> str`` does the work inside the open writer and
    returns the one summary line (or ""), leaving anything a caller needs back in ``ctx.result``.
    ``inputs``: what it reads, in the order the manifest records them. ``items(inputs, params) ->
    int``: how many items the whole job has (``--shard`` takes a contiguous part of them); None for
    a stage that does not shard. ``estimate(ctx) -> dict`` the keywords of
    :func:`~painctl.artefact.resources.check_resources` (``disk_bytes``, ``memory_bytes``, ``what``,
    ``device``), checked after the cache check and BEFORE ``load``: it reads only the inputs and
    parameters (cheap metadata such as a face model's vertex count), never ``ctx.models``.
    ``load(ctx)``: models and other costly things, built only when there is work and it fits, before
    the output is started; its result is ``ctx.models``. ``output``: the kind of OUT,
    :data:`ARTEFACT` (also "artefact"), :class:`Directory` (also "directory"), :class:`SingleFile` or
    :class:`RunDirectory`. ``output_stage(inputs)``: the stage written, when it is not ``name``
    (merge writes its shards').
    """

    name: str
    params: type
    body: Callable[["Context"], str]
    inputs: tuple[Input, ...] = ()
    items: Callable[[Mapping[str, Any], Any], int] | None = None
    load: Callable[["Context"], Any] | None = None
    estimate: Callable[["Context"], Mapping[str, Any] | None] | None = None
    output: Any = "artefact"
    output_stage: Callable[[Mapping[str, Any]], str] | None = None

    @property
    def output_kind(self) -> Any:
        """The output kind object (``output`` with "artefact" and "directory" spelled out)."""
        return _KINDS[self.output] if isinstance(self.output, str) else self.output


@dataclass
class Context:
    """What a body works with: the checked ``params``, the opened ``inputs`` (name -> Artefact, None
    or a list), the ``shard`` and this shard's items ``start``..``stop`` (of ``total``),
    ``models`` from the stage's ``load``, ``options`` that are not parameters (worker counts),
    ``force`` (a body that resumes in place, as train, decides with it what OUT may hold),
    and the output: ``path`` (OUT, '-' when streamed, None for an optional file not asked for),
    ``where`` (how messages name it), ``writer``, ``dir`` (the directory being built: a temporary,
    or a run directory itself), ``file`` (the temporary a :class:`SingleFile` is written to) and
    ``h5`` (its open data.h5, artefacts only). The body leaves what :func:`run` returns in
    ``result`` (default: OUT's path). ``rng`` needs a ``seed`` parameter."""

    stage: Stage
    params: Any
    inputs: dict[str, Any]
    shard: Shard
    path: Path
    options: dict[str, Any]
    force: bool = False
    total: int = 0
    start: int = 0
    stop: int = 0
    models: Any = None
    writer: Any = None
    dir: Path | None = None
    file: Path | None = None
    h5: Any = None
    result: Any = None

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


def run(stage: Stage, out: str | os.PathLike | None, params: Any, inputs: Mapping[str, Any] | None = None, *,
        shard: Shard | None = None, force: bool = False, big_ok: bool = False, **options: Any) -> Any:
    """Run ``stage`` with ``params`` on ``inputs`` (name -> path or opened artefact) into ``out``;
    return what the body left in ``ctx.result``, else OUT's path.

    In order: ``params.check()`` and OUT's name; the inputs opened and checked; OUT refused if it
    must not be replaced, or found to hold this very result already (a cache hit: nothing more is
    done); this ``shard``'s part of ``stage.items``; ``stage.estimate`` against disk and memory
    (``big_ok`` skips it); ``stage.load``; the body inside the atomic writer; its summary line.
    ``options`` (not parameters: worker counts, the renderer backend) reach the body as ``ctx.options``.
    """
    shard = WHOLE if shard is None else shard
    kind = stage.output_kind
    if not isinstance(params, stage.params):
        raise TypeError(f"stage {stage.name} takes {stage.params.__name__}, not {type(params).__name__}")
    params.check()
    if stage.items is None and shard != WHOLE:
        raise BadValue("shard", f"does not apply to {stage.name} (it does not split its work)")
    if out is None and not getattr(kind, "optional", False):
        raise TypeError(f"stage {stage.name} needs an OUT")
    kind.check_name(out)
    opened = open_inputs(stage, inputs or {})
    ctx = Context(stage, params, opened, shard, None if out is None else Path(out), dict(options), force=force)
    writer = None if out is None else kind.writer(ctx, force)
    if writer is not None:
        if getattr(writer, "cached", False):  # decided before any model is built: a cache hit does no work
            console.info(f"{writer.where} is up to date (cache hit)")
            return writer.path
        ctx.writer, ctx.path = writer, writer.path
    if stage.items is not None:
        ctx.total = int(stage.items(opened, params))
        ctx.start, ctx.stop = shard.bounds(ctx.total)
    if stage.estimate is not None:
        need = stage.estimate(ctx)  # before load: a refused estimate never pays for a model
        if need:
            check_resources(writer.place if writer is not None else Path.cwd(), **need, override=big_ok)
    if stage.load is not None:
        ctx.models = stage.load(ctx)
    if writer is None:
        summary = stage.body(ctx)
    else:
        with writer as built:
            if isinstance(writer, ArtefactWriter):
                ctx.dir, ctx.h5 = writer.dir, writer.h5
            elif isinstance(kind, SingleFile):
                ctx.file = built
            else:
                ctx.dir = built
            summary = stage.body(ctx)
    if summary:
        console.info(summary)
    return ctx.result if ctx.result is not None else ctx.path
