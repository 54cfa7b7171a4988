"""Subject-independent splits: K folds of subjects, fixed folds from a file, inner validation splits.

Splits are always by subject (person or synthetic identity), never by frame, so no face seen in
training is ever tested on.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path

from painctl.errors import PainctlError
from painctl.seeding import rng_for


def _unique(subjects: Iterable[str]) -> list[str]:
    return sorted({str(s) for s in subjects})


def subject_folds(subjects: Iterable[str], k: int, seed: int = 0) -> list[list[str]]:
    """Deal the distinct ``subjects`` into ``k`` folds whose sizes differ by at most one.

    The order is a seeded shuffle (same subjects, k and seed: same folds); each fold is sorted.
    Raises PainctlError when k < 2 or k exceeds the number of subjects.
    """
    pool = _unique(subjects)
    if k < 2:
        raise PainctlError(f"{{folds}} must be at least 2 for cross-validation, got {k}", params=("folds",))
    if k > len(pool):
        raise PainctlError(f"{{folds={k}}} is more than the {len(pool)} subject(s) in the data; use at most {len(pool)}",
                           params=(f"folds={k}",))
    order = rng_for(seed, "splits/inner").permutation(len(pool))
    folds: list[list[str]] = [[] for _ in range(k)]
    for rank, index in enumerate(order):
        folds[rank % k].append(pool[index])
    return [sorted(f) for f in folds]


def inner_split(subjects: Iterable[str], fraction: float = 0.2, seed: int = 0) -> tuple[list[str], list[str]]:
    """Split ``subjects`` into (train, validation) subject lists, ``fraction`` of them for validation.

    At least one subject goes to each side; deterministic for a given seed. Raises PainctlError with
    fewer than two subjects or a fraction outside (0, 1).
    """
    pool = _unique(subjects)
    if not 0 < fraction < 1:
        raise PainctlError(f"the validation fraction must lie between 0 and 1, got {fraction}")
    if len(pool) < 2:
        raise PainctlError(f"an inner validation split needs at least 2 training subjects, got {len(pool)}")
    n_val = min(max(1, int(round(fraction * len(pool)))), len(pool) - 1)
    order = rng_for(seed, "splits/folds").permutation(len(pool))
    val = sorted(pool[i] for i in order[:n_val])
    train = sorted(pool[i] for i in order[n_val:])
    return train, val


def _parse_json(text: str, path: Path) -> list[list[str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PainctlError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(data, dict):
        data = data.get("folds")
    if not isinstance(data, list) or not all(isinstance(f, list) for f in data):
        raise PainctlError(f'{path}: expected {{"folds": [[subject, ...], ...]}} or [[subject, ...], ...]')
    folds = []
    for i, fold in enumerate(data, 1):
        if not all(isinstance(s, (str, int)) and not isinstance(s, bool) for s in fold):
            raise PainctlError(f"{path}: fold {i} holds something other than subject names")
        folds.append([str(s) for s in fold])
    return folds


def _parse_csv(text: str, path: Path) -> list[list[str]]:
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["subject", "fold"]:
        rows = rows[1:]
    by_fold: dict[str, list[str]] = {}
    for lineno, row in enumerate(rows, 1):
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise PainctlError(f"{path}: row {lineno} should be 'subject,fold', got {','.join(row)[:60]!r}")
        by_fold.setdefault(row[1].strip(), []).append(row[0].strip())
    # Numeric fold ids in numeric order (1, 2, ..., 10), others in sorted order.
    keys = sorted(by_fold, key=lambda f: (0, int(f), "") if f.lstrip("-").isdigit() else (1, 0, f))
    return [by_fold[k] for k in keys]


def read_folds_file(path: str | Path, subjects: Iterable[str] | None = None) -> list[list[str]]:
    """Read fixed folds (lists of subject ids) from JSON or CSV.

    JSON: ``{"folds": [[s, ...], ...]}`` or ``[[s, ...], ...]``; CSV: rows ``subject,fold`` (optional
    header). Checks that no subject repeats, that there are at least 2 non-empty folds, and, when
    ``subjects`` (the dataset's) is given, that every listed subject exists; a listed id may also be one
    dash-separated part of a subject name ("ll042" or "042" for "042-ll042") and is returned as that
    subject's full name. Raises PainctlError.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PainctlError(f"{path}: cannot read the folds file ({exc.__class__.__name__})") from None
    stripped = text.lstrip()
    folds = _parse_json(text, path) if stripped.startswith(("{", "[")) else _parse_csv(text, path)
    if len(folds) < 2 or any(not f for f in folds):
        raise PainctlError(f"{path}: needs at least 2 folds, each with at least one subject")
    seen: dict[str, int] = {}
    for i, fold in enumerate(folds, 1):
        for s in fold:
            if s in seen:
                raise PainctlError(f"{path}: subject {s!r} appears in more than one place (folds {seen[s]} and {i})")
            seen[s] = i
    if subjects is not None:
        known = sorted(set(map(str, subjects)))
        folds = [[_match_subject(s, known, path) for s in fold] for fold in folds]
        missing = sorted(s for fold in folds for s in fold if s not in known)
        if missing:
            raise PainctlError(f"{path}: subject(s) not in the data: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
        flat = [s for fold in folds for s in fold]
        if len(set(flat)) != len(flat):
            raise PainctlError(f"{path}: two entries name the same subject of the data")
    return [sorted(f) for f in folds]


def _match_subject(name: str, known: list[str], path: Path) -> str:
    # Published UNBC-McMaster splits name subjects "042-ll042", "ll042" or "042": accept a part of the
    # folder name between dashes when it names exactly one subject.
    if name in known:
        return name
    hits = [s for s in known if name in s.split("-")]
    if len(hits) > 1:
        raise PainctlError(f"{path}: subject {name!r} is ambiguous in the data ({', '.join(hits[:3])})")
    return hits[0] if hits else name


#: Split values of a 3D-Pain split file: the authors' 0/1/2 or the names.
SPLIT_VALUES = {"0": "train", "1": "val", "2": "test", "train": "train", "val": "val", "validation": "val", "test": "test"}
SPLIT_COLUMNS = ("annotation_base_name", "split")


def read_split_csv(path: str | Path) -> dict[str, str]:
    """Read a 3D-Pain split file (the authors' ``uniform_data_70_20_10_split.csv`` or any CSV with the
    header ``annotation_base_name,split``; split 0/1/2 or train/val/test) into base name -> "train",
    "val" or "test". Raises PainctlError naming the file and line for anything else."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise PainctlError(f"{path}: cannot read the split file ({exc.__class__.__name__})") from None
    reader = csv.reader(io.StringIO(text))
    header = [c.strip() for c in next(reader, [])]
    if any(c not in header for c in SPLIT_COLUMNS):
        raise PainctlError(f"{path}: expected a CSV with columns {','.join(SPLIT_COLUMNS)}, got header {','.join(header)[:80]!r}")
    name_col, split_col = (header.index(c) for c in SPLIT_COLUMNS)
    out: dict[str, str] = {}
    for lineno, row in enumerate(reader, 2):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) <= max(name_col, split_col):
            raise PainctlError(f"{path}, line {lineno}: expected {len(header)} columns, got {','.join(row)[:60]!r}")
        base, value = row[name_col].strip(), row[split_col].strip().lower()
        if value not in SPLIT_VALUES or not base:
            raise PainctlError(f"{path}, line {lineno}: split must be 0/1/2 or train/val/test for a base name, got {','.join(row)[:60]!r}")
        split = SPLIT_VALUES[value]
        if out.setdefault(base, split) != split:
            raise PainctlError(f"{path}, line {lineno}: {base} is listed in both {out[base]} and {split}")
    if not out:
        raise PainctlError(f"{path}: the split file lists no base names")
    return out


def split_by_base(frames, path: str | Path) -> tuple[list, list, list]:
    """Split 3D-Pain ``frames`` into (train, validation, test) as the split file at ``path`` says.

    Pain frames go where their base name is listed; neutral frames (never listed) go with their
    identity. An identity listed in two splits is refused (the split would leak faces). Bases of the
    file without images, and pain images whose base the file does not list (left out), are each
    reported in one line.
    """
    from painctl import console
    from painctl.datasets.threedpain import base_of_frame

    path = Path(path)
    table = read_split_csv(path)
    bases = [base_of_frame(f) for f in frames]
    where: dict[str, dict[str, str]] = {}
    for frame, base in zip(frames, bases):
        if not frame.is_neutral and base in table:
            where.setdefault(frame.subject, {}).setdefault(table[base], base)
    straddling = sorted(s for s, parts in where.items() if len(parts) > 1)
    if straddling:
        s = straddling[0]
        detail = ", ".join(f"{b} in {p}" for p, b in sorted(where[s].items()))
        raise PainctlError(
            f"{path}: identity {s} is in more than one split ({detail}){f' (and {len(straddling) - 1} more identities)' if len(straddling) > 1 else ''}; "
            "a split must keep each identity on one side"
        )
    subject_split = {s: next(iter(parts)) for s, parts in where.items()}
    out: dict[str, list] = {"train": [], "val": [], "test": []}
    unlisted: set[str] = set()
    for frame, base in zip(frames, bases):
        split = table.get(base) if not frame.is_neutral else subject_split.get(frame.subject)
        if split is None:
            if not frame.is_neutral:
                unlisted.add(base)
            continue
        out[split].append(frame)
    missing = sorted(set(table) - set(bases))
    if missing:
        console.info(f"note: {len(missing)} of {len(table)} base names in {path} have no images in the data and are left out "
                     f"({', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''})")
    if unlisted:
        names = sorted(unlisted)
        console.info(f"note: {len(names)} pain base(s) of the data are not in {path} and are left out ({', '.join(names[:3])}{' ...' if len(names) > 3 else ''})")
    return out["train"], out["val"], out["test"]
