"""Per-pixel maps beside each image: segmentation, depth and normals, from one render's buffers.

Every map is aligned pixel for pixel with the RGB image (the camera model's blur, noise and JPEG
never move a pixel). Segmentation labels come from what each pixel shows: a part's ``label``
(hair, brows, lashes, teeth, clothing, ...) or, on the head, the face-model region of the
triangle (eyeballs, lips, mouth interior, skin); background where nothing was drawn. A part that
draws several classes (a neck in skin and a garment in clothing) sets ``label`` on each of its
renderer meshes (``mesh.label = "clothing"``), which then wins over the part's own.
"""

from __future__ import annotations

import numpy as np

#: Segmentation classes: index = the pixel value in the palette PNG (data.h5 attrs hold the list).
LABELS = ("background", "skin", "brows", "eyes", "lips", "teeth", "mouth", "hair", "clothing", "lashes", "beard", "other")
#: Palette colours (sRGB 0-255) of :data:`LABELS` in the PNGs, for people looking at them.
PALETTE = (
    (0, 0, 0), (224, 172, 140), (90, 50, 20), (255, 255, 255), (200, 40, 60), (250, 240, 170),
    (80, 0, 30), (150, 90, 30), (40, 110, 200), (20, 20, 20), (110, 70, 40), (0, 200, 0),
)
#: Other names parts may give their ``label``, and the class they count as.
ALIASES = {"eyebrows": "brows", "brow": "brows", "eyelashes": "lashes", "eye": "eyes", "sclera": "eyes", "iris": "eyes",
           "mouth_interior": "mouth", "tongue": "mouth", "gums": "mouth", "garment": "clothing", "neck": "skin", "body": "skin",
           "stubble": "beard", "facial_hair": "beard", "lip": "lips"}
#: Depth PNG unit: metres per step of the 16-bit value (0.1 mm; 0 is the background, so 6.55 m at most).
DEPTH_SCALE_M = 1e-4


def label_id(label: str) -> int:
    """Return the segmentation class index of a part's ``label`` (unknown labels are ``other``)."""
    name = ALIASES.get(str(label), str(label))
    return LABELS.index(name) if name in LABELS else LABELS.index("other")


def lip_vertices(vertices: np.ndarray, regions: dict[str, np.ndarray]) -> np.ndarray:
    """Return the ids of skin vertices on the lips (the vermilion): inside the edge of the red the
    skin texture paints (:func:`painctl.appearance.lips.vermilion_excess`, at age 0)."""
    skin = regions.get("skin")
    if regions.get("lip_margin") is None or skin is None or len(regions["lip_margin"]) == 0:
        return np.zeros(0, np.int64)
    from painctl.appearance.lips import vermilion_excess

    skin = np.asarray(skin)
    return skin[vermilion_excess(np.asarray(vertices)[skin], vertices, regions) < 0]


def head_triangle_labels(vertices: np.ndarray, faces: np.ndarray, regions: dict[str, np.ndarray]) -> np.ndarray:
    """Return (F,) uint8 segmentation class of each head triangle from the face model's regions.

    A triangle takes the class most of its corners have: eyeballs (``left_eye``, ``right_eye``)
    are eyes; the mouth cavity and tongue are mouth; the lips (:func:`lip_vertices`) lips;
    everything else skin. ``vertices`` (V,3) is the neutral head in metres.
    """
    n = len(vertices)
    per_vertex = np.full(n, LABELS.index("skin"), np.uint8)

    def mark(ids, name):
        if ids is not None and len(ids):
            ids = np.asarray(ids)
            per_vertex[ids[ids < n]] = LABELS.index(name)

    mark(regions.get("mouth_cavity"), "mouth")
    mark(regions.get("tongue"), "mouth")
    mark(lip_vertices(vertices, regions), "lips")
    mark(regions.get("left_eye"), "eyes")
    mark(regions.get("right_eye"), "eyes")
    corners = per_vertex[np.asarray(faces)]
    # Majority of three corners; with three different classes, the first corner's.
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    return np.where((b == c) & (a != b), b, a).astype(np.uint8)


def lip_weights(vertices: np.ndarray, regions: dict[str, np.ndarray]) -> np.ndarray:
    """Return (V,) float32: 1 on the lips' vertices (:func:`lip_vertices`), 0 elsewhere."""
    weights = np.zeros(len(vertices), np.float32)
    weights[lip_vertices(vertices, regions)] = 1.0
    return weights


def refine_lips(labels: np.ndarray, triangle: np.ndarray, barycentric: np.ndarray, faces: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Return ``labels`` (H,W) with the lips' outline drawn within triangles: a head pixel (its
    triangle id below ``len(faces)``) labelled skin or lips becomes lips where the lip ``weights``
    (V,), interpolated with the pixel's ``barycentric`` (H,W,3), exceed one half, skin elsewhere."""
    skin, lips = LABELS.index("skin"), LABELS.index("lips")
    head = (triangle >= 0) & (triangle < len(faces))
    candidate = head & ((labels == skin) | (labels == lips))
    corners = faces[triangle[candidate]]
    inside = np.einsum("kc,kc->k", barycentric[candidate], weights[corners]) > 0.5
    out = labels.copy()
    out[candidate] = np.where(inside, lips, skin)
    return out


def refine_skin(labels: np.ndarray, triangle: np.ndarray, barycentric: np.ndarray, n_faces: int, parts) -> np.ndarray:
    """Return ``labels`` (H,W) with the head pixels (triangle id below ``n_faces``) labelled skin set
    to a part's label where the hair it paints into the skin (:meth:`Part.skin_cover
    <painctl.appearance.parts.Part.skin_cover>` at the pixel's ``triangle`` and ``barycentric``
    (H,W,3)) covers over one half: a brow's or beard's bed, not only the strands over it. ``parts``
    are taken in order; a pixel one of them labels is no longer skin for the next."""
    out = labels.copy()
    candidate = (triangle >= 0) & (triangle < n_faces) & (labels == LABELS.index("skin"))
    for part in parts:
        cover = part.skin_cover(triangle[candidate], barycentric[candidate]) if candidate.any() else None
        if cover is not None:
            rows, cols = np.nonzero(candidate)
            inside = cover > 0.5
            out[rows[inside], cols[inside]] = label_id(part.label)
            candidate[rows[inside], cols[inside]] = False
    return out


def segmentation(triangle: np.ndarray, triangle_labels: np.ndarray) -> np.ndarray:
    """Return the (H,W) uint8 segmentation of a render: ``triangle_labels`` (T,) is the class of
    every triangle id of the frame (all meshes, in draw order); background (-1) is 0."""
    table = np.concatenate([np.zeros(1, np.uint8), np.asarray(triangle_labels, np.uint8)])
    return table[np.asarray(triangle) + 1]


def depth_code(depth: np.ndarray, scale_m: float = DEPTH_SCALE_M) -> np.ndarray:
    """Return (H,W) uint16 depth (metres along the view axis, +inf on background) in steps of
    ``scale_m``, 0 on the background and clipped to 1..65535 on the mesh."""
    covered = np.isfinite(depth)
    codes = np.zeros(depth.shape, np.uint16)
    codes[covered] = np.clip(np.rint(depth[covered] / scale_m), 1, 65535).astype(np.uint16)
    return codes


def normal_code(triangle: np.ndarray, barycentric: np.ndarray, normals: np.ndarray, faces: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Return (H,W,3) uint8 camera-space unit normals as ``round((n + 1) / 2 * 255)``, 0 on the background.

    ``normals`` (V,3) are the frame's vertex normals (all meshes stacked) and ``faces`` (T,3) the
    frame's triangles indexing them, in triangle-id order; ``rotation`` (3,3) is the camera's
    world-to-camera rotation (x right, y up, z toward the viewer). Normals seen from behind
    (inner surfaces) are turned to face the camera, as the shader lights them.
    """
    flat = np.asarray(triangle).reshape(-1)
    pixels = np.flatnonzero(flat >= 0)
    out = np.zeros(triangle.shape + (3,), np.uint8)
    # Rotate the (few thousand) vertex normals rather than the (tens of thousands of) pixels'.
    rotated = np.asarray(normals, np.float32) @ np.asarray(rotation, np.float32).T
    # Corner ids one contiguous row per corner, gathered with take (faster than fancy indexing, same values).
    corners = np.ascontiguousarray(np.take(np.asarray(faces), np.take(flat, pixels), axis=0).T)
    weights = np.take(np.asarray(barycentric).reshape(-1, 3), pixels, axis=0)
    # w0 r0 + w1 r1 + w2 r2, summed in that order, in place.
    n = weights[:, :1] * np.take(rotated, corners[0], axis=0)
    n += weights[:, 1:2] * np.take(rotated, corners[1], axis=0)
    n += weights[:, 2:] * np.take(rotated, corners[2], axis=0)
    # The length as np.linalg.norm sums it (x0^2 + x1^2) + x2^2, without its temporaries.
    length = n[:, :1] * n[:, :1]
    length += n[:, 1:2] * n[:, 1:2]
    length += n[:, 2:] * n[:, 2:]
    np.sqrt(length, out=length)
    n /= np.maximum(length, 1e-8)
    # Turned to the camera: a sign flip, as multiplying by -1 is, without a masked copy.
    np.negative(n, out=n, where=n[:, 2:] < 0)
    n += 1.0
    n *= 127.5
    np.rint(n, out=n)
    np.clip(n, 0, 255, out=n)
    out.reshape(-1, 3)[pixels] = n.astype(np.uint8)
    return out


def save_segmentation(path, labels: np.ndarray) -> None:
    """Save (H,W) uint8 class indices as a palette PNG (pixel value = class, colours :data:`PALETTE`)."""
    from PIL import Image

    img = Image.fromarray(np.asarray(labels, np.uint8))
    # An 8-bit greyscale image given a palette becomes a palette image with the same values.
    img.putpalette([c for colour in PALETTE for c in colour])
    img.save(path, format="PNG", compress_level=1)


def save_depth(path, codes: np.ndarray) -> None:
    """Save (H,W) uint16 depth codes as a 16-bit greyscale PNG."""
    from PIL import Image

    Image.fromarray(codes).save(path, format="PNG", compress_level=1)


def save_normals(path, codes: np.ndarray) -> None:
    """Save (H,W,3) uint8 normal codes as an RGB PNG."""
    from PIL import Image

    Image.fromarray(codes).save(path, format="PNG", compress_level=1)
