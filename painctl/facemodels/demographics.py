"""Demographic groups and exact stratified balance over their cells.

A *factor* is one of ``age``, ``gender``, ``ethnicity``; each has named *groups* (age groups with
year ranges, ``female``/``male``, the ethnicity groups a face model can express). Balancing over a
set of factors deals the N identities to the cells of their product so that cell sizes differ by
at most one, deterministically from the seed and computed over the whole N (so every shard of a
job agrees on it).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from painctl.errors import BadValue

FACTORS = ("age", "gender", "ethnicity")
GENDERS = ("female", "male")
DEFAULT_AGE_GROUPS = "young:18-40,elderly:65-90"
#: A stream index no identity index reaches: the balance deal draws from it.
BALANCE_STREAM = 1 << 48
#: Tries at a deal whose extra items are also balanced within each factor.
ATTEMPTS = 64


@dataclass(frozen=True)
class AgeGroup:
    """A named age range in years, both ends included."""

    name: str
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.name}:{self.low:g}-{self.high:g}"


def parse_age_groups(text: str) -> tuple[AgeGroup, ...]:
    """Parse ``"young:18-40,elderly:65-90"`` into AgeGroups; PainctlError on bad syntax or ranges."""
    groups: list[AgeGroup] = []
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        match = re.fullmatch(r"([A-Za-z][\w.+-]*)\s*:\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)", part)
        if not match:
            raise BadValue("age_groups", f": {part!r} is not NAME:LOW-HIGH (for example young:18-40)")
        name, low, high = match.group(1), float(match.group(2)), float(match.group(3))
        if not low <= high:
            raise BadValue("age_groups", f": {part!r} has LOW above HIGH")
        if low < 0 or high > 110:
            raise BadValue("age_groups", f": {part!r} lies outside 0-110 years")
        groups.append(AgeGroup(name, low, high))
    if not groups:
        raise BadValue("age_groups", "needs at least one NAME:LOW-HIGH group")
    names = [g.name for g in groups]
    if len(set(names)) != len(names):
        raise BadValue("age_groups", f": group names repeat: {', '.join(names)}")
    return tuple(groups)


def parse_balance(text: str | None) -> tuple[str, ...]:
    """Parse ``"age,gender,ethnicity"`` (any subset, any order) into factor names in canonical order."""
    if not text:
        return ()
    names = [p.strip().lower() for p in str(text).split(",") if p.strip()]
    unknown = [n for n in names if n not in FACTORS]
    if unknown:
        raise BadValue("balance", f": unknown factor {unknown[0]!r}; choose from {', '.join(FACTORS)}")
    return tuple(f for f in FACTORS if f in names)


def parse_groups(text: str, available: Sequence[str], what: str) -> tuple[str, ...]:
    """Parse a comma list of group names, each one of ``available``; ``mixed`` expands to every
    ``mixed:...`` group available. Returns them de-duplicated in the given order; ``what`` is the
    parameter named in errors (``ethnicities``)."""
    chosen: list[str] = []
    for name in (p.strip().lower() for p in str(text).split(",")):
        if not name:
            continue
        expanded = [a for a in available if a.startswith("mixed:")] if name == "mixed" else [name]
        for item in expanded:
            if item not in available:
                raise BadValue(what, f": {item!r} is not a group this face model can express; choose from {', '.join(available)}")
            if item not in chosen:
                chosen.append(item)
    if not chosen:
        raise BadValue(what, "needs at least one group")
    return tuple(chosen)


def balanced_cells(total: int, shape: Sequence[int] | int, seed: int) -> np.ndarray:
    """Deal ``total`` items to the cells of a factor grid ``shape`` (e.g. (2, 2, 3)).

    Returns (total,) int64 flat cell indices (C order). Every cell gets ``total // cells`` items;
    the ``total % cells`` extra items go to cells picked so that each factor's groups also stay
    within one of each other where possible (greedy over the groups' extra counts, ties broken
    by the seed). The order is a seeded permutation so cells spread over the index range (any
    contiguous shard sees a mix). Depends only on (total, shape, seed).
    """
    shape = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
    cells = int(np.prod(shape))
    if total < 0 or cells < 1:
        raise ValueError("balanced_cells needs total >= 0 and at least one cell")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, BALANCE_STREAM]))
    coords = np.stack(np.unravel_index(np.arange(cells), shape), axis=1)
    best = None
    for _ in range(ATTEMPTS):  # greedy with seeded tie-breaks; keep the first deal balanced in every factor
        sizes, spread = _deal_extras(total, shape, coords, list(rng.permutation(cells)))
        if best is None or spread < best[1]:
            best = (sizes, spread)
        if spread <= 1:
            break
    sizes = best[0]
    return rng.permutation(np.repeat(np.arange(cells), sizes))


def _deal_extras(total: int, shape: tuple[int, ...], coords: np.ndarray, order: list[int]) -> tuple[np.ndarray, int]:
    """Give ``total % cells`` extra items to cells in ``order``, preferring cells whose groups have the
    fewest extras relative to their fair share; return cell sizes and the worst factor spread."""
    cells = len(coords)
    remainder = total % cells
    sizes = np.full(cells, total // cells)
    extras = [np.zeros(n) for n in shape]
    for _ in range(remainder):
        scores = [max(extras[f][coords[c, f]] * n for f, n in enumerate(shape)) * cells
                  + sum(extras[f][coords[c, f]] * n for f, n in enumerate(shape)) for c in order]
        cell = order.pop(int(np.argmin(scores)))
        sizes[cell] += 1
        for f in range(len(shape)):
            extras[f][coords[cell, f]] += 1
    spread = max((int(e.max() - e.min()) for e in extras), default=0)
    return sizes, spread


@dataclass(frozen=True)
class Demographics:
    """The groups of each factor and which factors are balanced."""

    age_groups: tuple[AgeGroup, ...]
    genders: tuple[str, ...]
    ethnicities: tuple[str, ...]
    balance: tuple[str, ...] = ()

    def groups(self, factor: str) -> tuple[str, ...]:
        """Names of ``factor``'s groups."""
        if factor == "age":
            return tuple(g.name for g in self.age_groups)
        return self.genders if factor == "gender" else self.ethnicities

    def age_range(self, name: str) -> tuple[float, float]:
        """(low, high) years of age group ``name``."""
        group = next(g for g in self.age_groups if g.name == name)
        return group.low, group.high

    def assign(self, total: int, seed: int) -> dict[str, np.ndarray]:
        """Return factor -> (total,) group names for every *balanced* factor, exact over their cells.

        Factors not balanced are left to each identity's own random stream.
        """
        if not self.balance:
            return {}
        groups = [self.groups(f) for f in self.balance]
        cells = list(itertools.product(*groups))
        index = balanced_cells(total, [len(g) for g in groups], seed)
        table = np.array(cells, dtype=object).reshape(len(cells), len(self.balance))
        return {f: table[index, k].astype(str) for k, f in enumerate(self.balance)}


def cell_counts(labels: dict[str, np.ndarray], factors: Sequence[str]) -> dict[tuple[str, ...], int]:
    """Count identities per cell of ``factors`` from their (N,) label arrays."""
    counts: dict[tuple[str, ...], int] = {}
    for row in zip(*(labels[f] for f in factors)):
        key = tuple(str(v) for v in row)
        counts[key] = counts.get(key, 0) + 1
    return counts
