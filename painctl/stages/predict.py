"""`painctl predict`: score face images with a ViTPain checkpoint against neutral references of the same
person, and optionally write the scores as a CSV file (replaced only with ``force`` and only if painctl
wrote it)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

from painctl import console
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


def csv_output(path: PathLike, force: bool = False):
    """The atomic file output of a predictions CSV at ``path``, checked now (its directory writable; an
    existing file replaced only with ``force`` and only if painctl wrote it), so a CSV that cannot be
    written fails before any image is scored."""
    from painctl.artefact.store import FileOutput

    return FileOutput(Path(path), force, ours=is_predictions_csv, what="CSV file")


def write_csv(rows: list[dict], target) -> None:
    """Write ``rows`` (from :meth:`Predictions.records`) as CSV into ``target`` (from :func:`csv_output`)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with target as tmp:
        tmp.write_text(buf.getvalue())


def predict(checkpoint, images: PathLike | Sequence[PathLike], neutrals: PathLike | Sequence[PathLike] = (), *, shots: int = 1,
            crop: bool = False, batch_size: int = 32, forward: str = "model", seed: int = 0, csv: PathLike | None = None,
            force: bool = False) -> Predictions:
    """Score face ``images`` (files, or directories of them) with ``checkpoint`` (a checkpoint or run
    directory, or a loaded ViTPain) against ``neutrals`` (neutral images of the same person, or
    directories), averaging over ``shots`` of them; ``crop`` finds and crops the face first.

    Returns :class:`~painctl.vitpain.inference.Predictions` (``keys`` the image paths, ``pspi`` (N,)
    0-16, ``prob`` (N, 3) P(PSPI >= 1, 2, 3), ``au`` (N, 6), ``shots`` (N,)); ``.records()`` gives the
    CSV's rows. ``csv`` also writes them to that file (an existing one only with ``force``).
    ``forward="authors"`` runs a checkpoint converted from the authors' release with their forward pass.
    """
    from painctl.vitpain.authors import set_forward
    from painctl.vitpain.checkpoint import load_checkpoint
    from painctl.vitpain.inference import predict_images

    check_int("shots", shots, 1)
    check_int("batch_size", batch_size, 1)
    if forward not in FORWARDS:
        raise BadValue(f"forward must be one of {', '.join(FORWARDS)}, got {forward!r}")
    images = [images] if isinstance(images, (str, os.PathLike)) else list(images)
    if not images:
        raise BadValue("images must name at least one image file or directory")
    neutrals = [neutrals] if isinstance(neutrals, (str, os.PathLike)) else list(neutrals)
    target = None if csv is None else csv_output(csv, force)  # before any image is scored
    model = load_checkpoint(checkpoint)[0] if isinstance(checkpoint, (str, os.PathLike)) else checkpoint
    set_forward(model, forward, checkpoint)
    pred = predict_images(model, images, neutrals, shots=shots, crop=crop, batch_size=batch_size, seed=seed)
    if target is not None:
        write_csv(pred.records(), target)
        console.info(f"wrote {console.plural(len(pred), 'prediction')} to {csv}")
    return pred


__all__ = ["predict", "write_csv", "csv_output", "is_predictions_csv"]
