"""How far the rig moves skin: per-vertex displacement of each AU alone, and its mean and spread
over many faces (per AU, per PSPI level), pooled exactly across shards."""

from __future__ import annotations

import numpy as np


def per_au_displacement(deformer, neutral: np.ndarray, au_left: np.ndarray, au_right: np.ndarray) -> np.ndarray:
    """Return (6,V) float32: distance (metres) each vertex moves with each AU alone at its (left, right) intensity."""
    eye = np.eye(6)
    left, right = eye * np.asarray(au_left)[None], eye * np.asarray(au_right)[None]
    moved = deformer.deform(np.asarray(neutral, np.float32), left, right)
    return np.linalg.norm(moved - neutral[None], axis=-1).astype(np.float32)


def displacement_stats(rig, deformer, rows: np.ndarray, au_left: np.ndarray, au_right: np.ndarray, neutral_row: np.ndarray) -> dict[str, np.ndarray]:
    """Return per-vertex mean and standard deviation of displacement (metres) over the pain ``rows``.

    ``rig`` reads the rig's rows (/vertices, /au, /displacement: an opened rig artefact);
    ``neutral_row`` (M,) gives each row's neutral face among them.
    Keys: ``au_mean``/``au_std`` (6,V) of each AU alone over the faces where it is active (count in
    ``au_count`` (6,)); ``pspi_levels`` (L,), ``pspi_mean``/``pspi_std`` (L,V) of the whole
    expression per PSPI level (count in ``pspi_count``).
    """
    from painctl.facs import pspi as pspi_of

    n_vertices = rig.shapes()["vertices"][0][1]
    au = rig.read("au").astype(np.float64)
    au_sum = np.zeros((6, n_vertices)); au_sq = np.zeros((6, n_vertices)); au_count = np.zeros(6, np.int64)
    levels = np.unique(np.round(pspi_of(au[rows]), 3)) if len(rows) else np.zeros(0)
    p_sum = np.zeros((len(levels), n_vertices)); p_sq = np.zeros_like(p_sum); p_count = np.zeros(len(levels), np.int64)
    for row in rows:
        alone = per_au_displacement(deformer, rig.read("vertices", neutral_row[row]), au_left[row], au_right[row]).astype(np.float64)
        active = au[row] > 0
        au_sum[active] += alone[active]; au_sq[active] += alone[active] ** 2; au_count[active] += 1
        total = rig.read("displacement", row).astype(np.float64)
        k = int(np.searchsorted(levels, round(float(pspi_of(au[row])), 3)))
        p_sum[k] += total; p_sq[k] += total ** 2; p_count[k] += 1

    def finish(s, sq, c):
        c = np.maximum(c, 1)[:, None]
        mean = s / c
        return mean.astype(np.float32), np.sqrt(np.maximum(sq / c - mean ** 2, 0)).astype(np.float32)

    au_mean, au_std = finish(au_sum, au_sq, au_count)
    p_mean, p_std = finish(p_sum, p_sq, p_count)
    return {"au_mean": au_mean, "au_std": au_std, "au_count": au_count, "pspi_levels": levels.astype(np.float32),
            "pspi_mean": p_mean, "pspi_std": p_std, "pspi_count": p_count}


def pool_stats(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Combine :func:`displacement_stats` results of disjoint sets of faces (shards) into the stats
    of their union: count-weighted means, and spreads from the pooled second moments."""
    levels = np.unique(np.concatenate([p["pspi_levels"] for p in parts])) if parts else np.zeros(0, np.float32)

    def pool(groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        count = sum(c.astype(np.int64) for c, _, _ in groups)
        first = sum(c[:, None] * m.astype(np.float64) for c, m, _ in groups)
        second = sum(c[:, None] * (s.astype(np.float64) ** 2 + m.astype(np.float64) ** 2) for c, m, s in groups)
        n = np.maximum(count, 1)[:, None]
        mean = first / n
        return mean.astype(np.float32), np.sqrt(np.maximum(second / n - mean ** 2, 0)).astype(np.float32), count

    au_mean, au_std, au_count = pool([(p["au_count"], p["au_mean"], p["au_std"]) for p in parts])
    n_vertices = parts[0]["au_mean"].shape[1]
    spread = []
    for p in parts:  # each shard's levels placed on the union's
        index = np.searchsorted(levels, p["pspi_levels"])
        count = np.zeros(len(levels), np.int64); count[index] = p["pspi_count"]
        mean = np.zeros((len(levels), n_vertices), np.float32); mean[index] = p["pspi_mean"]
        std = np.zeros_like(mean); std[index] = p["pspi_std"]
        spread.append((count, mean, std))
    p_mean, p_std, p_count = pool(spread)
    return {"au_mean": au_mean, "au_std": au_std, "au_count": au_count, "pspi_levels": levels.astype(np.float32),
            "pspi_mean": p_mean, "pspi_std": p_std, "pspi_count": p_count}
