"""painctl's own multi-view renders (stage ``render-views``) and heatmaps (stage ``heatmap``) as frames.

Row datasets read: ``/image`` (PNG path relative to the artefact), ``/identity``, ``/view``,
``/au`` (N, 6), ``/pspi`` (N,), ``/is_neutral`` (N,), and the heatmap image path ``/heatmap_png``
(heatmap stage) or a string ``/heatmap`` where present, and the face's ``/landmarks`` (N, K, 2
pixels) where present: a frame with landmarks is cut out around them (see
:func:`painctl.datasets.images.load_face_image`), so the face fills the model's input at one scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from painctl.datasets.frames import Frame
from painctl.errors import ArtefactError

STAGES = ("render-views", "heatmap")
REQUIRE = {"image": "N:S", "identity": "N:iuS", "view": "N:iuS", "au": "N,6:f", "pspi": "N:f", "is_neutral": "N:biu"}


def is_artefact(path: Path) -> bool:
    """True when ``path`` looks like a painctl artefact directory (it has manifest.json)."""
    return (path / "manifest.json").is_file()


def _subject(identity) -> str:
    # Integer identities become zero-padded names so subjects sort in identity order.
    if isinstance(identity, (int, np.integer)):
        return f"identity-{int(identity):06d}"
    return str(identity)


def load_artefact_frames(path: str | Path) -> list[Frame]:
    """Read a render-views or heatmap artefact at ``path`` into :class:`Frame` records (one per row).

    ``subject`` is the identity, ``view`` the camera name, ``key`` the image path inside the
    artefact. Raises ArtefactError when the artefact is of another stage or lacks a dataset.
    """
    from painctl.artefact import open_artefact

    art = open_artefact(path, stage=STAGES, require=REQUIRE)
    images = art.read("image")
    identity = art.read("identity")
    view = art.read("view")
    au = art.read("au").astype(np.float32)
    pspi = art.read("pspi").astype(np.float32)
    neutral = art.read("is_neutral").astype(bool)
    heatmap = None
    if art.has("heatmap_png"):
        heatmap = art.read("heatmap_png")
    elif art.has("heatmap") and art.shapes()["heatmap"][1] == "S":
        heatmap = art.read("heatmap")
    landmarks = art.read("landmarks").astype(np.float32) if art.has("landmarks") else None
    if np.any(~np.isfinite(pspi)):
        raise ArtefactError(f"{art.path}: /pspi holds non-finite values")
    # A merged artefact's files live in its shards.
    roots = [art.path.resolve()] + [(art.path / shard).resolve() for shard in art.manifest.get("shards", [])]
    frames = []
    for i in range(len(images)):
        image = art.resolve(str(images[i]))
        if not any(image.is_relative_to(root) for root in roots):
            raise ArtefactError(f"{art.path}: /image row {i} points outside the artefact ({images[i]!r})")
        frames.append(
            Frame(
                image=image,
                subject=_subject(identity[i]),
                pspi=float(pspi[i]),
                au=au[i].copy(),
                view=str(view[i]),
                is_neutral=bool(neutral[i]),
                landmarks=None if landmarks is None else landmarks[i].copy(),
                heatmap=art.resolve(str(heatmap[i])) if heatmap is not None and str(heatmap[i]) else None,
                key=str(images[i]),
            )
        )
    if not frames:
        raise ArtefactError(f"{art.path}: the artefact has no rows")
    return frames
