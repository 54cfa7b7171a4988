"""Soft coverage for cut-out surfaces (hair shells, brow and lash cards) in a rendered image.

The renderer cuts hair out texel by texel instead of blending it (so depth, triangle ids and
barycentrics stay exact): each pixel shows a strand or what is behind it, never a share of both.
Where strands are finer than a pixel (eyelashes and brow hairs at 224 px, the tips of scalp and
beard hair) that point sampling turns a fringe that should cover half of its pixels into a
pattern of solid black pixels and bare ones: lashes drawn as a heavy liner, brows as dotted
black bands, ragged specks along the hair's outline. A camera integrates over each pixel's
area instead. This resolves the cut-out pixels as a coverage: the hair's colour and its
coverage are both filtered with a kernel of about a pixel's footprint (:data:`COVERAGE_SIGMA_PX`),
and laid over what the hair hides, estimated at each hair pixel from the surface around it (the
mean of the pixels in a small box that show no hair, :data:`FILL_BOX_PX`). Dense hair (coverage near 1) keeps its colour; isolated strands
and specks become partial, as in a photograph. Only the colour changes: the render's ids, depth
and barycentrics, and so the segmentation and heatmaps, keep the exact cut-out pixels.
"""

from __future__ import annotations

import numpy as np

#: The standard deviation (pixels) of the filter that turns cut-out pixels into coverage: a
#: pixel's footprint (a box of one pixel has a standard deviation of 0.29 pixels) widened by the
#: lens. At 0.5 alternating one-pixel strands kept 0.35 of their contrast (0.1 at 0.7) and the
#: brows at 224 px still read as dotted bands. Applied as a 3-tap binomial-like kernel per axis
#: (weights w, 1 - 2w, w with 2w = sigma squared): the few-pixel filter costs a few array sums.
COVERAGE_SIGMA_PX = 0.7
#: The width (pixels) of the box the hidden surface is estimated from.
FILL_BOX_PX = 5


def cutout_meshes(meshes) -> np.ndarray:
    """Return (M,) bool: which of ``meshes`` (renderer Meshes drawn together) are cut out of an
    alpha texture (hair shells and strand cards, or an RGBA texture with an alpha cut-off)."""
    out = []
    for m in meshes:
        rgba = m.texture is not None and np.ndim(m.texture) == 3 and np.shape(m.texture)[2] == 4
        out.append(bool(m.strand_tangents is not None or (rgba and m.alpha_cutoff > 0)))
    return np.array(out, bool)


def cutout_pixels(triangle: np.ndarray, meshes, cutout: np.ndarray | None = None) -> np.ndarray:
    """Return (H,W) bool: the pixels of a render of ``meshes`` (its ``triangle`` (H,W) ids, -1 off
    them) that show a cut-out mesh (``cutout``: :func:`cutout_meshes` of them, if already known)."""
    from painctl.renderer.mesh import face_offsets, mesh_index

    cutout = cutout_meshes(meshes) if cutout is None else np.asarray(cutout, bool)
    shown = mesh_index(triangle, face_offsets(meshes))
    return (shown >= 0) & cutout[np.maximum(shown, 0)]


def soften_cutouts(rgb: np.ndarray, cutout: np.ndarray, sigma_px: float = COVERAGE_SIGMA_PX, fill_px: int = FILL_BOX_PX) -> np.ndarray:
    """Return ``rgb`` (H,W,3) float 0-1 with the ``cutout`` (H,W) bool pixels (those showing a
    cut-out surface) resolved as soft coverage (see the module docstring); a new float32 array.

    Per pixel: ``under * (1 - A) + C``, where ``A`` is the cut-out mask filtered with a kernel of
    standard deviation ``sigma_px`` pixels (at most 0.7: three taps), ``C`` the cut-out pixels'
    colour filtered the same way, and ``under`` the pixel's own colour where it shows no hair,
    else the mean colour of the hair-free pixels in the ``fill_px`` box round it. Pixels further
    than ``fill_px`` from any cut-out pixel are returned unchanged."""
    from scipy.ndimage import uniform_filter

    out = np.array(rgb, np.float32, copy=True)
    cutout = np.asarray(cutout, bool)
    if not cutout.any():
        return out
    # Only a box round the hair is filtered: everything further off is unchanged.
    margin = int(fill_px) + 1
    rows, cols = np.flatnonzero(cutout.any(axis=1)), np.flatnonzero(cutout.any(axis=0))
    box = np.s_[max(rows[0] - margin, 0):rows[-1] + margin + 1, max(cols[0] - margin, 0):cols[-1] + margin + 1]
    image, mask = out[box], cutout[box].astype(np.float32)[..., None]
    # Colour and weight side by side (H,W,4): one filter pass for both.
    bare = np.concatenate([image * (1.0 - mask), 1.0 - mask], axis=2)
    bare = uniform_filter(bare, size=(fill_px, fill_px, 1), mode="nearest")
    weight = bare[..., 3:]
    around = bare[..., :3] / np.maximum(weight, 1e-6)
    # Inside a mass of hair no bare pixel is near: what it hides there is the hair itself.
    under = np.where((mask > 0) & (weight > 1e-3), around, image)
    hair = _three_tap(np.concatenate([image * mask, mask], axis=2), min(float(sigma_px), 0.7))
    out[box] = under * (1.0 - hair[..., 3:]) + hair[..., :3]
    return out


def _three_tap(a: np.ndarray, sigma: float) -> np.ndarray:
    """Filter ``a`` (H,W,C) along its first two axes with the kernel (w, 1 - 2w, w), 2w = ``sigma`` squared (edges repeated)."""
    w = np.float32(0.5 * sigma * sigma)
    # Rows: each sample takes w of its neighbours above and below (an edge row, of itself).
    b = a * (np.float32(1.0) - 2 * w)
    b[1:] += w * a[:-1]
    b[:-1] += w * a[1:]
    b[0] += w * a[0]
    b[-1] += w * a[-1]
    # Then columns, the same.
    out = b * (np.float32(1.0) - 2 * w)
    out[:, 1:] += w * b[:, :-1]
    out[:, :-1] += w * b[:, 1:]
    out[:, 0] += w * b[:, 0]
    out[:, -1] += w * b[:, -1]
    return out
