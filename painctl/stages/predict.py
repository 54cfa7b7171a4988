"""`painctl predict`: score face images with a ViTPain checkpoint against neutral references of the same
person, and optionally write the scores as a CSV file (the runner's single-file output: replaced only
with ``force`` and only if painctl wrote it)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from painctl import console
from painctl.artefact.stage import Context, Parameters, SingleFile, Stage, run
from painctl.errors import BadValue
from painctl.vitpain.authors import FORWARDS
from painctl.vitpain.config import check_int
from painctl.vitpain.inference import PROB_COLUMNS, Predictions

PathLike = str | os.PathLike


def is_predictions_csv(path: Path) -> bool:
    """True when ``path`` starts with the header painctl's predictions CSV has (so painctl may replace it)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline().startswith("image,pspi," + ",".join(PROB_COLUMNS))
    except (OSError, UnicodeDecodeError):
        return False


def csv_rows(rows: list[dict]) -> str:
    """The CSV text of ``rows`` (from :meth:`Predictions.records`): a header, then one line per image."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


@dataclass(frozen=True)
class PredictParams(Parameters):
    """predict's parameters (see :func:`predict`); ``checkpoint`` is a path or a loaded ViTPain."""

    checkpoint: Any
    images: tuple[str, ...]
    neutrals: tuple[str, ...] = ()
    shots: int = 1
    crop: bool = False
    batch_size: int = 32
    forward: str = "model"
    seed: int = 0

    def check(self) -> None:
        check_int("shots", self.shots, 1)
        check_int("batch_size", self.batch_size, 1)
        if self.forward not in FORWARDS:
            raise BadValue("forward", f"must be one of {', '.join(FORWARDS)}, got {self.forward!r}")
        if not self.images:
            raise BadValue("images", "must name at least one image file or directory")


def _load(ctx: Context):
    # After the CSV's place is checked: a CSV that cannot be written fails before the model loads.
    from painctl.vitpain.authors import set_forward
    from painctl.vitpain.checkpoint import load_checkpoint

    checkpoint = ctx.params.checkpoint
    model = load_checkpoint(checkpoint)[0] if isinstance(checkpoint, (str, os.PathLike)) else checkpoint
    set_forward(model, ctx.params.forward, checkpoint)
    return model


def _predict(ctx: Context) -> str:
    from painctl.vitpain.inference import predict_images

    p = ctx.params
    ctx.result = pred = predict_images(ctx.models, list(p.images), list(p.neutrals), shots=p.shots, crop=p.crop, batch_size=p.batch_size,
                                       seed=p.seed)
    if ctx.file is None:
        return ""
    ctx.file.write_text(csv_rows(pred.records()))
    return f"wrote {console.plural(len(pred), 'prediction')} to {ctx.path}"


#: predict: no artefact inputs (images are files); OUT is the optional CSV, replaced only if painctl wrote it.
PREDICT = Stage("predict", PredictParams, _predict, load=_load,
                output=SingleFile(what="CSV file", ours=is_predictions_csv, optional=True))


def predict(checkpoint, images: PathLike | Sequence[PathLike], neutrals: PathLike | Sequence[PathLike] = (), *, shots: int = 1,
            crop: bool = False, batch_size: int = 32, forward: str = "model", seed: int = 0, csv: PathLike | None = None,
            force: bool = False) -> Predictions:
    """Score face ``images`` (files, or directories of them) with ``checkpoint`` (a checkpoint or run
    directory, or a loaded ViTPain) against ``neutrals`` (neutral images of the same person, or
    directories), averaging over ``shots`` of them; ``crop`` finds and crops the face first.

    Returns :class:`~painctl.vitpain.inference.Predictions` (``keys`` the image paths, ``pspi`` (N,)
    0-16, ``prob`` (N, 3) P(PSPI >= 1, 2, 3), ``au`` (N, 6), ``shots`` (N,)); ``.records()`` gives the
    CSV's rows. ``csv`` also writes them to that file (an existing one only with ``force``, and only
    if painctl wrote it). ``forward="authors"`` runs a checkpoint converted from the authors' release
    with their forward pass.
    """
    images = [images] if isinstance(images, (str, os.PathLike)) else list(images)
    neutrals = [neutrals] if isinstance(neutrals, (str, os.PathLike)) else list(neutrals)
    params = PredictParams(checkpoint=checkpoint, images=tuple(os.fspath(i) for i in images), neutrals=tuple(os.fspath(n) for n in neutrals),
                           shots=shots, crop=crop, batch_size=batch_size, forward=forward, seed=seed)
    return run(PREDICT, csv, params, force=force)


__all__ = ["predict", "csv_rows", "is_predictions_csv", "PREDICT", "PredictParams"]
