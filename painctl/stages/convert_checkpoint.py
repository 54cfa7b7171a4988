"""`painctl convert-checkpoint`: the authors' released ViTPain (a PyTorch Lightning .ckpt, Hugging Face
``xinlei55555/ViTPain``) written as a painctl checkpoint directory (config.json, model.safetensors,
training.json), through the runner's directory output: built in a hidden sibling and renamed into
place, an existing OUT refused without ``force`` and replaced only if painctl wrote it.

The file is read and the model built in ``load`` (:func:`painctl.vitpain.convert.load_lightning_checkpoint`
with ``torch.load(weights_only=True)``, then :func:`painctl.vitpain.convert.convert_lightning`), so a
file that is refused, truncated or not the authors' model fails before any output is started.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from painctl.artefact.stage import Context, Directory, Parameters, Stage, run
from painctl.errors import PainctlError
from painctl.vitpain.config import check_int

PathLike = str | os.PathLike

#: Peak memory of a conversion per byte of the checkpoint file (the file mapped, the merged weights,
#: the built model and the safetensors bytes of its weights), and what the libraries take besides:
#: measured on 2026-12-01, 1.73 GB peak RSS converting a 315 MB synthetic checkpoint (width 512,
#: 12 layers, two encoders), 0.39 GB of it the imports: 4.3 bytes per byte of the file.
MEMORY_PER_FILE_BYTE = 4.5
LIBRARY_MEMORY_BYTES = 512 << 20


@dataclass(frozen=True)
class ConvertParams(Parameters):
    """convert-checkpoint's parameters: ``ckpt`` the authors' Lightning checkpoint file, ``image_size``
    the input side in pixels the converted model runs at (theirs: 224)."""

    ckpt: str
    image_size: int = 224

    def check(self) -> None:
        check_int("image_size", self.image_size, 16)


def _file(ctx: Context) -> Path:
    path = Path(ctx.params.ckpt)
    if not path.is_file():
        raise PainctlError(f"{path}: no such checkpoint file")
    return path


def _estimate(ctx: Context) -> dict:
    # The output holds each weight of the model once as float32, as a float32 file does (Lightning
    # keeps float32 weights under mixed precision) with LoRA and its optimizer state besides: the
    # file's size bounds the output's (312.8 MB written from the 315.3 MB synthetic file above).
    size = _file(ctx).stat().st_size
    return {"disk_bytes": size, "memory_bytes": int(MEMORY_PER_FILE_BYTE * size) + LIBRARY_MEMORY_BYTES, "what": "this conversion"}


def _load(ctx: Context):
    from painctl.vitpain.convert import convert_lightning, load_lightning_checkpoint

    path = _file(ctx)
    return convert_lightning(load_lightning_checkpoint(path), path, image_size=ctx.params.image_size)


def _write(ctx: Context) -> str:
    from painctl.vitpain.checkpoint import write_checkpoint

    converted = ctx.models
    write_checkpoint(converted.model, converted.model_config, ctx.dir, converted.extra)
    return f"{converted.summary} to {ctx.path}"


#: convert-checkpoint: the checkpoint file is a parameter (it is not an artefact); OUT is a checkpoint
#: directory, never cached (a rerun is refused without force).
CONVERT_CHECKPOINT = Stage("convert-checkpoint", ConvertParams, _write, load=_load, estimate=_estimate,
                           output=Directory(what="ViTPain checkpoint"))


def convert_checkpoint(ckpt: PathLike, out: PathLike, *, image_size: int = 224, force: bool = False, big_ok: bool = False) -> Path:
    """Convert the authors' Lightning ViTPain checkpoint ``ckpt`` into the painctl checkpoint directory
    ``out`` (config.json, model.safetensors, training.json) for an ``image_size`` pixel input; return
    ``out``'s path, which :func:`painctl.stages.predict.predict` and ``evaluate(checkpoint=...)`` take.

    No code from the file runs (``torch.load(weights_only=True)``); LoRA is merged into the DINOv3
    weights and training.json records that the model was trained with the authors' forward pass.
    An existing ``out`` is replaced only with ``force`` (and only if painctl wrote it); ``big_ok``
    skips the disk and memory estimate.
    """
    return run(CONVERT_CHECKPOINT, out, ConvertParams(ckpt=os.fspath(ckpt), image_size=image_size), force=force, big_ok=big_ok)


__all__ = ["convert_checkpoint", "CONVERT_CHECKPOINT", "ConvertParams"]
