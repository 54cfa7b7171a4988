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

from painctl.errors import PainctlError

FACTORS = ("age", "gender", "ethnicity")
GENDERS = ("female", "male")
DEFAULT_AGE_GROUPS = "young:18-40,elderly:65-90"
#: A stream index no identity index reaches: the balance deal draws from it.
BALANCE_STREAM = 1 << 48


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
            raise PainctlError(f"--age-groups: {part!r} is not NAME:LOW-HIGH (for example young:18-40)")
        name, low, high = match.group(1), float(match.group(2)), float(match.group(3))
        if not low <= high:
            raise PainctlError(f"--age-groups: {part!r} has LOW above HIGH")
        if low < 0 or high > 110:
            raise PainctlError(f"--age-groups: {part!r} lies outside 0-110 years")
        groups.append(AgeGroup(name, low, high))
    if not groups:
        raise PainctlError("--age-groups needs at least one NAME:LOW-HIGH group")
    names = [g.name for g in groups]
    if len(set(names)) != len(names):
        raise PainctlError(f"--age-groups: group names repeat: {', '.join(names)}")
    return tuple(groups)


def parse_balance(text: str | None) -> tuple[str, ...]:
    """Parse ``"age,gender,ethnicity"`` (any subset, any order) into factor names in canonical order."""
    if not text:
        return ()
    names = [p.strip().lower() for p in str(text).split(",") if p.strip()]
    unknown = [n for n in names if n not in FACTORS]
    if unknown:
        raise PainctlError(f"--balance: unknown factor {unknown[0]!r}; choose from {', '.join(FACTORS)}")
    return tuple(f for f in FACTORS if f in names)


def parse_groups(text: str, available: Sequence[str], what: str) -> tuple[str, ...]:
    """Parse a comma list of group names, each one of ``available``; ``mixed`` expands to every
    ``mixed:...`` group available. Returns them de-duplicated in the given order."""
    chosen: list[str] = []
    for name in (p.strip().lower() for p in str(text).split(",")):
        if not name:
            continue
        expanded = [a for a in available if a.startswith("mixed:")] if name == "mixed" else [name]
        for item in expanded:
            if item not in available:
                raise PainctlError(f"{what}: {item!r} is not a group this face model can express; choose from {', '.join(available)}")
            if item not in chosen:
                chosen.append(item)
    if not chosen:
        raise PainctlError(f"{what} needs at least one group")
    return tuple(chosen)


def balanced_cells(total: int, cell_count: int, seed: int) -> np.ndarray:
    """Deal ``total`` items to ``cell_count`` cells: returns (total,) int64 cell indices.

    Every cell gets ``total // cell_count`` items and a seed-chosen ``total % cell_count`` cells
    get one more; the order is a seeded permutation so cells are spread over the index range
    (any contiguous shard sees a mix). Depends only on (total, cell_count, seed).
    """
    if total < 0 or cell_count < 1:
        raise ValueError("balanced_cells needs total >= 0 and cell_count >= 1")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, BALANCE_STREAM]))
    sizes = np.full(cell_count, total // cell_count)
    sizes[rng.permutation(cell_count)[: total % cell_count]] += 1
    return rng.permutation(np.repeat(np.arange(cell_count), sizes))


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
        cells = list(itertools.product(*(self.groups(f) for f in self.balance)))
        index = balanced_cells(total, len(cells), seed)
        table = np.array(cells, dtype=object).reshape(len(cells), len(self.balance))
        return {f: table[index, k].astype(str) for k, f in enumerate(self.balance)}


def cell_counts(labels: dict[str, np.ndarray], factors: Sequence[str]) -> dict[tuple[str, ...], int]:
    """Count identities per cell of ``factors`` from their (N,) label arrays."""
    counts: dict[tuple[str, ...], int] = {}
    for row in zip(*(labels[f] for f in factors)):
        key = tuple(str(v) for v in row)
        counts[key] = counts.get(key, 0) + 1
    return counts
