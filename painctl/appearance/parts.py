"""What a rendered person is made of beyond the rigged head: parts drawn with it in every frame.

A *part* is built once per identity from what the identity is (its neutral head, face regions,
age, gender, ancestry and the seed) and then, frame by frame, follows the rigged head: hair, brows
and lashes bound to the skin, teeth behind the lips, a body under the neck. A part may add meshes
to the frame (:meth:`Part.meshes`) and may dress the head mesh itself (:meth:`Part.dress`: texture
detail such as expression wrinkles). Its :meth:`Part.record` says what was drawn (style, colour)
for the output's data.h5, so a dataset's appearance can be balanced and audited like its
demographics.

Builders are registered in :data:`BUILDERS` (``@register(name)``); :mod:`painctl.appearance.builtin`
imports the built-in part modules in draw order, and render-views builds every registered part
unless the user leaves it out (``--without NAMES``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np



@dataclass(frozen=True)
class Identity:
    """One identity as part builders see it.

    ``index`` is its global identity index and ``seed`` the run's seed: every random draw of a part
    comes from ``rng_for(seed, "<part name>", index)``, so shards agree with a whole run.
    ``neutral`` (V,3) float32 metres (Y up, face towards +Z, as every painctl mesh artefact) and ``faces`` (F,3) are the
    identity's neutral head; ``regions`` and ``landmarks`` come from its face model (empty when
    unknown); ``uv``/``uv_faces`` are the head's texture layout when it has one; ``age_years``,
    ``gender`` (``male``/``female``) and ``ethnicity`` are None when the rig does not carry them.
    """

    index: int
    seed: int
    neutral: np.ndarray
    faces: np.ndarray
    regions: dict[str, np.ndarray] = field(default_factory=dict)
    landmarks: dict[str, int] = field(default_factory=dict)
    uv: np.ndarray | None = None
    uv_faces: np.ndarray | None = None
    age_years: float | None = None
    gender: str | None = None
    ethnicity: str | None = None
    phenotype: np.ndarray | None = None
    #: The lights the head's texture was baked under (its shading is in the texture); None when untextured.
    texture_lights: list | None = None
    #: The lighting the identity is rendered under (painctl.appearance.lighting: SceneLighting or
    #: StudioLighting, anything with ``irradiance(normals (K,3)) -> (K,3)``); parts that bake
    #: shading detail into the texture (wrinkles) shade it under this. None: the studio rig.
    lighting: object | None = None


class Part:
    """A part of a rendered person; subclasses override what they need.

    ``name`` names the part (``--without`` takes it); ``label`` is its class in the segmentation
    map (hair, brows, lashes, eyes, teeth, mouth, clothing, skin, ...).
    """

    name: str = "part"
    label: str = "skin"

    def meshes(self, vertices: np.ndarray, au: np.ndarray) -> list:
        """Return the renderer Meshes this part adds for one frame of the head.

        ``vertices`` (V,3) float32 metres is the rigged head of that frame as the parts dressed it
        (:meth:`dress` may move vertices: the eyelids part opens the lids); ``au`` (6,) its labels
        (AU4, AU6, AU7, AU9, AU10, AU43; FACS 0-5, AU43 0-1).
        """
        return []

    def dress(self, head, vertices: np.ndarray, au: np.ndarray):
        """Return the head's renderer Mesh for this frame, changed by this part (default: unchanged)."""
        return head

    def record(self) -> dict:
        """Return what this part drew for the identity (JSON-serialisable: style, colour, sizes)."""
        return {}

    def skin_cover(self, triangle: np.ndarray, barycentric: np.ndarray) -> np.ndarray | None:
        """Return (K,) 0-1 how far the hair this part paints into the skin covers the head at K
        surface points, given as head ``triangle`` ids (K,) and ``barycentric`` weights (K,3) on
        the neutral head; for the segmentation, where a skin pixel over one half takes the part's
        ``label`` (a brow or beard is the region its hairs grow from, not only the strands drawn
        over it). None where the part paints nothing into the skin."""
        return None


#: Part builders in draw order: name -> builder(Identity) -> Part (or None when the part does not
#: apply to this identity, e.g. a beard on a woman or hair on a mesh with no scalp region).
BUILDERS: dict[str, Callable[[Identity], Part | None]] = {}


def register(name: str):
    """Decorator registering ``builder(identity) -> Part | None`` under ``name`` in :data:`BUILDERS`."""

    def wrap(builder):
        BUILDERS[name] = builder
        return builder

    return wrap
