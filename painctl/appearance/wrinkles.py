"""Expression wrinkles driven by the AU labels, as production face rigs use wrinkle maps.

A rig's wrinkle maps hold normal and albedo detail per expression and blend each in with the
weight its expression has in the frame. Here each map is a height field on the identity's neutral
skin (metres; furrows negative, bulges positive), built once per identity:

    AU4   glabellar furrows: two near-vertical corrugator lines between the brows and a procerus
          line across the nasal root, with the bulge of skin the frowning brows push between them
    AU6   crow's feet fanning out from each outer eye corner, and the cheek bulge under the eye
    AU7   the lower-lid bulge (the pretarsal roll) with the crease beneath it
    AU9   nasal-bridge wrinkles (the oblique "bunny lines" on the sides of the nose)
    AU9/AU10  a deeper nasolabial fold, the cheek bulging over it (weight max(AU9, AU10))

Each frame blends the maps with weight intensity/5 (FACS 0-5) and bakes their shading into the
head's texture: the textured head is drawn unlit (its texture holds the light of the neutral photo
it was baked from, and render-views relights it per vertex by the ratio of the scene's irradiance
to the photo's), so the perturbed normals are lit under the lighting the frame is rendered with
(the identity's room: key, fill and image-based light; or the studio rig) and the ratio to the
unperturbed shading under that same lighting, with the occlusion a furrow casts, multiplies the
albedo. Per-vertex relighting cannot see texel-sized furrows, so without this they would keep the
studio rig's shading in a room. The geometry, and so the heatmaps, are the rig's own: only the
texture changes. Untextured heads (vertex colours) are left as they are.

The per-identity variation (depth, line count and spacing, and an age factor: creases deepen with
age) is drawn from the identity's seed and recorded.
"""

from __future__ import annotations

import numpy as np

from painctl.appearance.parts import Identity, Part, register

#: This part's random stream (see painctl.seeding.rng_for); shared with the skin detail.
STREAM = 14600
#: The maps, in order, and which AU columns (AU4, AU6, AU7, AU9, AU10, AU43) weight each (the max
#: of the listed columns, over 5).
MAPS = (("glabella", (0,)), ("crows_feet", (1,)), ("lower_lid", (2,)), ("nasal_bridge", (3,)), ("nasolabial", (3, 4)))
#: Finite-difference step (metres) for the height fields' surface gradients.
STEP = 2e-4
#: A furrow this deep (metres) darkens its floor by OCCLUSION (the light it hides from itself).
OCCLUSION_DEPTH = 8e-4
OCCLUSION = 0.25


# The maps are evaluated on tens of thousands of texels, several times each (the gradients):
# the helpers below work in place, each step the same operation in the same order as the
# expression in its comment, so the numbers are those of the plain expression.

def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    # t = clip((x - edge0) / (edge1 - edge0), 0, 1); t * t * (3 - 2 * t)
    t = np.subtract(x, edge0)
    t /= edge1 - edge0
    np.clip(t, 0.0, 1.0, out=t)
    rest = np.multiply(t, 2)
    np.subtract(3, rest, out=rest)
    out = np.multiply(t, t, out=t)
    out *= rest
    return out


def _window(x: np.ndarray, lo: float, hi: float, soft: float) -> np.ndarray:
    # smoothstep(lo - soft, lo + soft, x) * (1 - smoothstep(hi - soft, hi + soft, x))
    out = _smoothstep(lo - soft, lo + soft, x)
    upper = _smoothstep(hi - soft, hi + soft, x)
    np.subtract(1, upper, out=upper)
    out *= upper
    return out


def _crease(distance: np.ndarray, width: float) -> np.ndarray:
    """A furrow's cross-section: 1 at its floor, falling off over ``width`` metres."""
    # exp(-((distance / width) ** 2))
    d = np.divide(distance, width)
    d *= d
    np.negative(d, out=d)
    return np.exp(d, out=d)


class WrinkleFields:
    """The height fields of one identity's wrinkle maps at surface points (K,3) metres (painctl frame)."""

    def __init__(self, landmarks: dict[str, np.ndarray], rng: np.random.Generator, age_years: float) -> None:
        self.lm = landmarks
        age = np.clip((age_years - 25.0) / 50.0, 0.0, 1.0)
        #: Overall crease depth: deeper with age, varying between people.
        self.depth = float(np.clip((0.7 + 0.6 * age) * rng.lognormal(0.0, 0.2), 0.4, 1.8))
        self.glabella_lines = int(rng.integers(1, 3))  # one or two furrows each side
        self.glabella_gap = float(rng.uniform(0.0035, 0.0055))
        self.crows_lines = int(rng.integers(3, 6))
        self.crows_phase = float(rng.uniform(-0.15, 0.15))
        self.bunny_lines = int(rng.integers(2, 4))

    def record(self) -> dict:
        return {"depth": round(self.depth, 3), "glabella_lines": self.glabella_lines, "crows_feet_lines": self.crows_lines, "nasal_bridge_lines": self.bunny_lines}

    def __call__(self, name: str, p: np.ndarray) -> np.ndarray:
        return getattr(self, name)(p) * self.depth

    def glabella(self, p: np.ndarray) -> np.ndarray:
        lm = self.lm
        brow_y = (lm["left_brow"][1] + lm["right_brow"][1]) / 2
        inner_y = (lm["left_eye_inner"][1] + lm["right_eye_inner"][1]) / 2
        inner_x = (abs(lm["left_eye_inner"][0]) + abs(lm["right_eye_inner"][0])) / 2
        x, y = p[:, 0], p[:, 1]
        h = np.zeros(len(p))
        span = _window(y, inner_y + 0.004, brow_y + 0.007, 0.003)
        for k in range(self.glabella_lines):
            # Corrugator lines: near vertical, leaning in toward the nasal root as they go down.
            offset = self.glabella_gap + 0.003 * k
            lean = 0.15 * (y - brow_y)
            h -= 0.0010 * (1.0 - 0.4 * k) * span * _crease(np.abs(x) - offset - lean, 0.0014)
        # The frowning brows bunch the skin over their inner heads into two bulges ...
        for sign in (1.0, -1.0):
            h += 0.0012 * np.exp(-(((x - sign * (inner_x + 0.002)) / 0.007) ** 2 + ((y - brow_y + 0.001) / 0.005) ** 2))
        # ... and the procerus draws a horizontal line across the nasal root.
        h -= 0.0005 * _crease(y - (inner_y + 0.003), 0.001) * _window(x, -0.007, 0.007, 0.002)
        return h

    def crows_feet(self, p: np.ndarray) -> np.ndarray:
        h = np.zeros(len(p))
        for side in ("left", "right"):
            outer = self.lm[f"{side}_eye_outer"]
            sign = 1.0 if outer[0] > 0 else -1.0
            d = p - outer
            lateral = sign * d[:, 0]
            r = np.hypot(d[:, 0], d[:, 1])
            angle = np.arctan2(d[:, 1], np.maximum(lateral, 1e-6))
            fan = _window(r, 0.008, 0.02, 0.003) * (lateral > 0) * _window(angle, -0.8, 0.7, 0.15)
            # Lines radiate from the corner, evenly spread in angle across the fan.
            spacing = 1.5 / self.crows_lines
            phase = (angle - self.crows_phase) / spacing
            h -= 0.0004 * fan * _crease((phase - np.round(phase)) * spacing * r, 0.0009)
            # The cheek bulge: orbicularis oculi lifts the cheek below and beside the eye.
            lower = self.lm[f"{side}_lower_lid"]
            cheek = np.array([lower[0] + sign * 0.008, lower[1] - 0.016, lower[2]])
            h += 0.0025 * np.exp(-(((p[:, 0] - cheek[0]) / 0.016) ** 2 + ((p[:, 1] - cheek[1]) / 0.011) ** 2))
        return h

    def lower_lid(self, p: np.ndarray) -> np.ndarray:
        h = np.zeros(len(p))
        for side in ("left", "right"):
            inner, outer, lower = (self.lm[f"{side}_{k}"] for k in ("eye_inner", "eye_outer", "lower_lid"))
            x0, x1 = sorted((inner[0], outer[0]))
            across = _window(p[:, 0], x0 + 0.002, x1 - 0.001, 0.003)
            # The lid margin's height along the eye, as a parabola through the corners and the lowest point.
            t = (p[:, 0] - lower[0]) / max((x1 - x0) / 2, 1e-3)
            margin_y = lower[1] + 0.5 * ((inner[1] + outer[1]) / 2 - lower[1]) * t**2
            below = margin_y - p[:, 1]
            near = p[:, 2] > lower[2] - 0.012
            h += across * near * (0.0007 * np.exp(-(((below - 0.0028) / 0.0016) ** 2)) - 0.00045 * _crease(below - 0.0058, 0.0007))
        return h

    def nasal_bridge(self, p: np.ndarray) -> np.ndarray:
        lm = self.lm
        inner_y = (lm["left_eye_inner"][1] + lm["right_eye_inner"][1]) / 2
        tip = lm["nose_tip"]
        x, y = p[:, 0], p[:, 1]
        h = np.zeros(len(p))
        # Oblique lines on each side of the bridge, running down and out from the nasal root.
        for k in range(self.bunny_lines):
            y0 = inner_y - 0.003 - 0.0035 * k
            along = y - (y0 - 0.45 * (np.abs(x) - 0.002))
            span = _window(np.abs(x), 0.0015, 0.012, 0.002) * (y > tip[1] + 0.012)
            h -= 0.0005 * span * _crease(along, 0.0007) * (1.0 - 0.2 * k)
        # The sneer also gathers skin across the root of the nose.
        h -= 0.0003 * _crease(y - (inner_y + 0.001), 0.001) * _window(x, -0.007, 0.007, 0.002)
        return h

    def nasolabial(self, p: np.ndarray) -> np.ndarray:
        lm = self.lm
        tip = lm["nose_tip"]
        h = np.zeros(len(p))
        for side in ("left", "right"):
            corner = lm[f"mouth_{side}"]
            sign = 1.0 if corner[0] > 0 else -1.0
            wing = tip + np.array([sign * 0.017, -0.008, -0.018])
            end = corner + np.array([sign * 0.008, -0.008, 0.0])
            ab = end - wing
            t = np.clip(((p - wing) @ ab) / float(ab @ ab), 0.0, 1.0)
            closest = wing + t[:, None] * ab
            offset = p - closest
            lateral = sign * offset[:, 0]  # + on the cheek side of the fold
            distance = np.linalg.norm(offset[:, :2], axis=1)
            fade = _smoothstep(0.0, 0.15, t) * (1 - _smoothstep(0.8, 1.0, t)) * (p[:, 2] > corner[2] - 0.025)
            # The crease, with the cheek bulging over it from the side.
            h += fade * (-0.0012 * _crease(distance, 0.0024) + 0.0018 * (lateral > 0) * np.exp(-(((lateral - 0.006) / 0.005) ** 2)))
        return h


def _tangents(normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit tangents (K,3) orthogonal to unit ``normals`` (K,3) and each other."""
    up = np.where(np.abs(normals[:, 1:2]) < 0.9, np.array([[0.0, 1.0, 0.0]]), np.array([[1.0, 0.0, 0.0]]))
    t1 = np.cross(up, normals)
    t1 /= np.linalg.norm(t1, axis=1, keepdims=True)
    return t1, np.cross(normals, t1)


class Wrinkles(Part):
    """AU-driven wrinkle maps baked into the head's texture each frame."""

    name = "wrinkles"
    label = "skin"

    def __init__(self, identity: Identity) -> None:
        from painctl.seeding import rng_for

        rng = rng_for(identity.seed, STREAM, identity.index)
        self.identity = identity
        neutral = np.asarray(identity.neutral, np.float64)
        landmarks = {k: neutral[i] for k, i in identity.landmarks.items()}
        age = 35.0 if identity.age_years is None or not np.isfinite(identity.age_years) else float(identity.age_years)
        self.fields = WrinkleFields(landmarks, rng, age)
        self._maps: dict | None = None

    def record(self) -> dict:
        return self.fields.record()

    def weights(self, au: np.ndarray) -> np.ndarray:
        """Return (len(MAPS),) blend weights in [0, 1] of one frame's AU labels (FACS 0-5)."""
        au = np.asarray(au, np.float64)
        return np.array([np.clip(max(au[c] for c in cols) / 5.0, 0.0, 1.0) for _, cols in MAPS])

    def dress(self, head, vertices: np.ndarray, au: np.ndarray):
        if not head.textured:
            return head
        w = self.weights(au)
        if not np.any(w > 0):
            return head
        maps = self._prepare(head)
        from dataclasses import replace

        texture = bake(head.texture, maps, w)
        return replace(head, texture=texture)

    def _prepare(self, head) -> dict:
        shape = head.texture.shape[:2]
        if self._maps is None or self._maps["shape"] != shape or self._maps["uv_id"] != id(head.uv):
            self._maps = wrinkle_maps(self.fields, self.identity, head.uv, head.uv_faces, shape, lighting=self.identity.lighting)
            self._maps["uv_id"] = id(head.uv)
        return self._maps


def wrinkle_maps(fields: WrinkleFields, identity: Identity, uv: np.ndarray, uv_faces: np.ndarray, shape: tuple[int, int], lights=None,
                 lighting=None) -> dict:
    """Evaluate every map on the texels of the face that any map touches.

    Returns a dict with ``rows``, ``cols`` (K,) texel indices, ``normals`` (K,3) unit neutral
    normals, per map ``height`` (M,K) metres and ``gradient`` (M,K,3) surface gradients, the
    ``lighting`` the shading is baked under (``lighting`` if given: anything with
    ``irradiance(normals)``, e.g. a room's SceneLighting; else the directional ``lights``, default
    the studio rig), and ``shape``.
    """
    from painctl.appearance.paint import texels_on
    from painctl.appearance.uv import uv_texels
    from painctl.renderer import studio_lights

    if shape[0] != shape[1]:
        raise ValueError(f"wrinkle maps need a square texture, got {shape}")
    texels = uv_texels(uv, uv_faces, shape[0])
    neutral = np.asarray(identity.neutral, np.float64)
    faces = np.asarray(identity.faces)
    on_face = np.zeros(len(neutral), bool)
    on_face[np.asarray(identity.regions.get("face", np.arange(len(neutral))))] = True
    # A cheap first pass at the vertices: faces no map reaches at any corner are skipped.
    reached = np.zeros(len(neutral), bool)
    for name, _ in MAPS:
        reached |= np.abs(fields(name, neutral)) > 1e-12
    keep = on_face[faces].all(1) & reached[faces].any(1)
    on = texels_on(texels, faces, neutral, keep)
    rows, cols, points, normals = on.rows, on.cols, on.points, on.normals
    # Only texels some map reaches (its height above a nanometre) get gradients and are baked.
    heights = np.array([fields(name, points) for name, _ in MAPS])
    touched = (np.abs(heights) > 1e-9).any(0)
    points, normals, heights = points[touched], normals[touched], heights[:, touched]
    t1, t2 = _tangents(normals)
    # The four points of the central differences, the same for every map.
    steps = [(points + STEP * t, points - STEP * t) for t in (t1, t2)]
    gradients = []
    for name, _ in MAPS:
        (a1, b1), (a2, b2) = steps
        g = ((fields(name, a1) - fields(name, b1)) / (2 * STEP))[:, None] * t1
        g += ((fields(name, a2) - fields(name, b2)) / (2 * STEP))[:, None] * t2
        gradients.append(g)
    if lighting is None:
        from painctl.appearance.lighting import studio_lighting

        lighting = studio_lighting(lights or studio_lights())
    return {"rows": rows[touched], "cols": cols[touched], "normals": normals, "height": heights.astype(np.float32),
            "gradient": np.array(gradients, np.float32), "lighting": lighting, "shape": tuple(shape)}


def bake(texture: np.ndarray, maps: dict, weights: np.ndarray) -> np.ndarray:
    """Return a copy of ``texture`` (H,W,3) sRGB with the maps blended by ``weights`` (M,) baked in:
    albedo times the shading ratio of the perturbed to the neutral normals under ``maps['lighting']``,
    times the furrows' occlusion."""
    from painctl.renderer.colour import linear_to_srgb, srgb_to_linear

    w = np.asarray(weights, np.float32)
    # One BLAS thread: the same sums on any machine (a threaded sgemv splits them by core count),
    # and a small product is cheaper on one core than handed round several.
    with _one_blas_thread():
        height = np.tensordot(w, maps["height"], axes=1)
        gradient = np.tensordot(w, maps["gradient"], axes=1)
    n = maps["normals"]
    # A height field h on a surface tilts its normal by minus h's surface gradient.
    bent = n - gradient
    bent /= np.linalg.norm(bent, axis=1, keepdims=True)
    lighting = maps["lighting"]
    # The unperturbed shading and the texels' linear albedo are the same every frame of an
    # identity: kept in ``maps`` (the albedo per texture, which the caller does not change).
    if "neutral_irradiance" not in maps:
        maps["neutral_irradiance"] = np.maximum(lighting.irradiance(n), 1e-6)
    ratio = lighting.irradiance(bent) / maps["neutral_irradiance"]
    occlusion = 1.0 - OCCLUSION * np.clip(-height / OCCLUSION_DEPTH, 0.0, 1.0)
    out = np.array(texture, np.float32, copy=True)
    rows, cols = maps["rows"], maps["cols"]
    albedo = maps.get("albedo")
    if albedo is None or albedo[0] is not texture:
        albedo = maps["albedo"] = (texture, srgb_to_linear(out[rows, cols, :3]))
    linear = albedo[1] * np.clip(ratio, 0.2, 2.0) * occlusion[:, None]
    if out.shape[2] == 3:
        # The texels as rows of the flattened (H*W,3) texture: one index array, not two with a slice.
        if maps.get("flat") is None or maps["flat"][0] != out.shape:
            maps["flat"] = (out.shape, rows * out.shape[1] + cols)
        out.reshape(-1, 3)[maps["flat"][1]] = linear_to_srgb(linear)
    else:
        out[rows, cols, :3] = linear_to_srgb(linear)
    return out


_CONTROLLER: list = []


def _one_blas_thread():
    """A context limiting BLAS to one thread. The libraries are found once per process: a fresh
    threadpoolctl.threadpool_limits walks every loaded library, on each frame's bake."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


@register("wrinkles")
def build_wrinkles(identity: Identity) -> Part | None:
    """Wrinkle maps for a head whose face model names the landmarks they are placed by (else None)."""
    needed = ("left_brow", "right_brow", "left_eye_inner", "right_eye_inner", "left_eye_outer", "right_eye_outer",
              "left_lower_lid", "right_lower_lid", "nose_tip", "mouth_left", "mouth_right")
    if not all(k in identity.landmarks for k in needed) or identity.uv is None:
        return None
    return Wrinkles(identity)
