"""Soft coverage for cut-out surfaces (hair shells, brow and lash cards) in a rendered image.

The renderer cuts hair out texel by texel instead of blending it (so depth, triangle ids and
barycentrics stay exact): each pixel shows a strand or what is behind it, never a share of both.
Where strands are finer than a pixel (eyelashes and brow hairs at 224 px, the tips of scalp and
beard hair) that point sampling turns a fringe that should cover half of its pixels into a
pattern of solid black pixels and bare ones: lashes drawn as a heavy liner, brows as dotted
black bands, ragged specks along the hair's outline. A camera integrates over each pixel's
area instead. This resolves the cut-out pixels as a coverage: the hair's colour and its
coverage are both filtered with a Gaussian of about a pixel's footprint, and laid over what the
hair hides, estimated at each hair pixel from the surface around it (a normalised convolution of
the pixels that show no hair). Dense hair (coverage near 1) keeps its colour; isolated strands
and specks become partial, as in a photograph. Only the colour changes: the render's ids, depth
and barycentrics, and so the segmentation and heatmaps, keep the exact cut-out pixels.
"""

from __future__ import annotations

import numpy as np

#: The standard deviation (pixels) of the filter that turns cut-out pixels into coverage: about
#: the footprint of one pixel (a box of one pixel has a standard deviation of 0.29 pixels; a
#: camera's pixel and lens spread a little wider).
COVERAGE_SIGMA_PX = 0.7
#: The standard deviation (pixels) of the surround the hidden surface is estimated from.
FILL_SIGMA_PX = 2.0


def cutout_meshes(meshes) -> np.ndarray:
    """Return (M,) bool: which of ``meshes`` (renderer Meshes drawn together) are cut out of an
    alpha texture (hair shells and strand cards, or an RGBA texture with an alpha cut-off)."""
    out = []
    for m in meshes:
        rgba = m.texture is not None and np.ndim(m.texture) == 3 and np.shape(m.texture)[2] == 4
        out.append(bool(m.strand_tangents is not None or (rgba and m.alpha_cutoff > 0)))
    return np.array(out, bool)


def soften_cutouts(rgb: np.ndarray, cutout: np.ndarray, sigma_px: float = COVERAGE_SIGMA_PX, fill_px: float = FILL_SIGMA_PX) -> np.ndarray:
    """Return ``rgb`` (H,W,3) float 0-1 with the ``cutout`` (H,W) bool pixels (those showing a
    cut-out surface) resolved as soft coverage (see the module docstring); a new float32 array.

    Per pixel: ``under * (1 - A) + C``, where ``A`` is the cut-out mask filtered with a Gaussian
    of ``sigma_px`` pixels, ``C`` the cut-out pixels' colour filtered the same way, and ``under``
    the pixel's own colour where it shows no hair, else the mean colour of the hair-free pixels
    around it (Gaussian of ``fill_px``). Pixels further than a few sigma from any cut-out pixel
    are returned unchanged."""
    from scipy.ndimage import gaussian_filter

    out = np.array(rgb, np.float32, copy=True)
    cutout = np.asarray(cutout, bool)
    if not cutout.any():
        return out
    # Only a box round the hair is filtered: everything further off is unchanged.
    margin = int(np.ceil(3.0 * max(sigma_px, fill_px))) + 1
    rows, cols = np.flatnonzero(cutout.any(axis=1)), np.flatnonzero(cutout.any(axis=0))
    box = np.s_[max(rows[0] - margin, 0):rows[-1] + margin + 1, max(cols[0] - margin, 0):cols[-1] + margin + 1]
    image, mask = out[box], cutout[box].astype(np.float32)

    def blur(a: np.ndarray, sigma: float) -> np.ndarray:
        return gaussian_filter(a, sigma=(sigma, sigma, 0) if a.ndim == 3 else sigma, mode="nearest", truncate=3.0)

    bare = 1.0 - mask
    weight = blur(bare, fill_px)
    around = blur(image * bare[..., None], fill_px) / np.maximum(weight, 1e-6)[..., None]
    # Inside a mass of hair no bare pixel is near: what it hides there is the hair itself.
    around = np.where((weight > 1e-3)[..., None], around, image)
    under = np.where(mask[..., None] > 0, around, image)
    coverage = blur(mask, sigma_px)
    colour = blur(image * mask[..., None], sigma_px)
    out[box] = under * (1.0 - coverage[..., None]) + colour
    return out
