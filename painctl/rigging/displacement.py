"""How far the rig moves skin: per-vertex displacement of each AU alone, and its mean and spread
over many faces (per AU, per PSPI level), pooled exactly across shards."""

from __future__ import annotations

import numpy as np


def per_au_displacement(deformer, neutral: np.ndarray, au_left: np.ndarray, au_right: np.ndarray, identity: int = 0) -> np.ndarray:
    """Return (6,V) float32: distance (metres) each vertex moves with each AU alone at its (left, right) intensity.

    ``identity`` names the face ``neutral`` (V,3) belongs to, for deformers that cache per identity
    (the rig row of its neutral face).
    """
    return faces_per_au_displacement(deformer, neutral, np.asarray(au_left)[None], np.asarray(au_right)[None], identity)[0]


def faces_per_au_displacement(deformer, neutral: np.ndarray, au_left: np.ndarray, au_right: np.ndarray, identity: int = 0) -> np.ndarray:
    """Return (R,6,V) float32: :func:`per_au_displacement` of each of R faces of one identity.

    ``au_left``/``au_right`` (R,6) are the faces' per-side intensities on the one ``neutral`` (V,3).
    Each distinct (AU, left, right) is rigged once, all in one deformer call (the deformers rig
    every face on its own, so the bytes are those of one call per face); an AU at 0 on both sides
    moves nothing.
    """
    au_left, au_right = np.asarray(au_left, np.float64), np.asarray(au_right, np.float64)
    neutral = np.asarray(neutral)
    out = np.zeros((len(au_left), 6, len(neutral)), np.float32)
    configs: dict[tuple[int, float, float], list[tuple[int, int]]] = {}
    for r in range(len(au_left)):
        for j in range(6):
            if au_left[r, j] != 0 or au_right[r, j] != 0:
                configs.setdefault((j, float(au_left[r, j]), float(au_right[r, j])), []).append((r, j))
    if not configs:
        return out
    left, right = np.zeros((len(configs), 6)), np.zeros((len(configs), 6))
    for k, (j, lo, hi) in enumerate(configs):
        left[k, j], right[k, j] = lo, hi
    moved = deformer.deform(neutral.astype(np.float32), left, right, identity=identity)
    distance = np.linalg.norm(moved - neutral[None], axis=-1).astype(np.float32)
    for k, places in enumerate(configs.values()):
        for r, j in places:
            out[r, j] = distance[k]
    return out


class DisplacementStats:
    """Running per-vertex mean and spread of displacement over pain faces, added one face at a time.

    ``rows`` (N,) are the faces' rig rows and ``au`` (N,6) their intensities; faces may be added in
    any order, but are summed in the order of ``rows`` (held back until their turn), so the result's
    bytes do not depend on the order the caller meets them in.
    """

    def __init__(self, rows: np.ndarray, au: np.ndarray, n_vertices: int):
        from painctl.facs import pspi as pspi_of

        self._order = [int(r) for r in rows]
        self._au = {int(r): np.asarray(a, np.float64) for r, a in zip(rows, au)}
        self._next = 0
        self._done: set[int] = set()
        self._pending: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._pspi = pspi_of
        self.levels = np.unique(np.round(pspi_of(np.asarray(au, np.float64)), 3)) if len(self._order) else np.zeros(0)
        self.au_sum = np.zeros((6, n_vertices)); self.au_sq = np.zeros((6, n_vertices)); self.au_count = np.zeros(6, np.int64)
        self.p_sum = np.zeros((len(self.levels), n_vertices)); self.p_sq = np.zeros_like(self.p_sum)
        self.p_count = np.zeros(len(self.levels), np.int64)

    def wants(self, row: int) -> bool:
        """Whether face ``row`` is one of ``rows`` and not yet added."""
        row = int(row)
        return row in self._au and row not in self._pending and row not in self._done

    def add(self, row: int, alone: np.ndarray, total: np.ndarray) -> None:
        """Add face ``row``: ``alone`` (6,V) each AU alone and ``total`` (V,) the whole expression (metres)."""
        self._pending[int(row)] = (alone, total)
        while self._next < len(self._order) and self._order[self._next] in self._pending:
            row = self._order[self._next]
            alone, total = self._pending.pop(row)
            self._next += 1
            self._done.add(row)
            au = self._au[row]
            alone = np.asarray(alone).astype(np.float64)
            active = au > 0
            self.au_sum[active] += alone[active]; self.au_sq[active] += alone[active] ** 2; self.au_count[active] += 1
            total = np.asarray(total).astype(np.float64)
            k = int(np.searchsorted(self.levels, round(float(self._pspi(au)), 3)))
            self.p_sum[k] += total; self.p_sq[k] += total ** 2; self.p_count[k] += 1

    def result(self) -> dict[str, np.ndarray]:
        """Return the stats (keys as :func:`displacement_stats`); every face of ``rows`` must have been added."""
        if self._next != len(self._order):
            raise ValueError(f"displacement stats: {len(self._order) - self._next} faces were never added")

        def finish(s, sq, c):
            c = np.maximum(c, 1)[:, None]
            mean = s / c
            return mean.astype(np.float32), np.sqrt(np.maximum(sq / c - mean ** 2, 0)).astype(np.float32)

        au_mean, au_std = finish(self.au_sum, self.au_sq, self.au_count)
        p_mean, p_std = finish(self.p_sum, self.p_sq, self.p_count)
        return {"au_mean": au_mean, "au_std": au_std, "au_count": self.au_count, "pspi_levels": self.levels.astype(np.float32),
                "pspi_mean": p_mean, "pspi_std": p_std, "pspi_count": self.p_count}


def displacement_stats(rig, deformer, rows: np.ndarray, au_left: np.ndarray, au_right: np.ndarray, neutral_row: np.ndarray) -> dict[str, np.ndarray]:
    """Return per-vertex mean and standard deviation of displacement (metres) over the pain ``rows``.

    ``rig`` reads the rig's rows (/vertices, /au, /displacement: an opened rig artefact);
    ``neutral_row`` (M,) gives each row's neutral face among them.
    Keys: ``au_mean``/``au_std`` (6,V) of each AU alone over the faces where it is active (count in
    ``au_count`` (6,)); ``pspi_levels`` (L,), ``pspi_mean``/``pspi_std`` (L,V) of the whole
    expression per PSPI level (count in ``pspi_count``).
    """
    rows = np.asarray(rows, np.int64)
    stats = DisplacementStats(rows, rig.read("au")[rows] if len(rows) else np.zeros((0, 6)), rig.shapes()["vertices"][0][1])
    for neutral in np.unique(np.asarray(neutral_row)[rows]):
        mine = rows[np.asarray(neutral_row)[rows] == neutral]
        alone = faces_per_au_displacement(deformer, rig.read("vertices", int(neutral)), au_left[mine], au_right[mine], identity=int(neutral))
        for row, a in zip(mine, alone):
            stats.add(int(row), a, rig.read("displacement", int(row)))
    return stats.result()


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
