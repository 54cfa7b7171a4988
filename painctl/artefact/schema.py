"""Dataset specs: the shapes and dtypes a stage promises, checked before any data is used.

A spec is written like ``"N,V,3:f"``: comma-separated dimensions (a number is exact, a name must be
equal wherever that name appears across one check) and, after the colon, the numpy dtype kind
(``f`` float, ``i`` signed int, ``u`` unsigned, ``b`` bool, ``S`` byte string; several letters
mean any of them). A kind may carry an item size in bytes: ``f4`` is float32 only.

Besides what a stage asks for, every artefact is held to :data:`INTRINSIC`: the rules a dataset
of that name always obeys, whoever reads it (``/vertices`` is finite float32 metres, ``/faces``
index existing vertices, ``/image`` names a file inside the artefact, ...). Shapes, dtypes and
index ranges are checked when an artefact is opened; values (finite, in range) when rows are read.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from painctl.errors import ArtefactError

#: Datasets every mesh artefact (sample-mesh and stages that carry identities) holds.
IDENTITY = {
    "vertices": "N,V,3:f4",
    "faces": "F,3:iu",
    "identity": "N:iuS",
    "age_years": "N:fiu",
    "age_group": "N:S",
    "gender": "N:S",
    "ethnicity": "N:S",
    "phenotype": "N,P:f",
}


@dataclass(frozen=True)
class Rule:
    """What a dataset of one name always is: its spec, value bounds, the dataset it indexes, or files.

    ``index_of`` names the dataset whose first axis this one's values index (0 <= value < length);
    ``paths`` marks byte strings naming files relative to the artefact (empty means none).
    """

    spec: str
    finite: bool = False
    low: float | None = None
    high: float | None = None
    index_of: str | None = None
    paths: bool = False


#: Rules applied to any dataset of these names in any artefact (top-level names only).
INTRINSIC: dict[str, Rule] = {
    "vertices": Rule("N,V,3:f4", finite=True),
    "faces": Rule("F,3:iu", index_of="vertices@1"),
    "uv": Rule("T,2:f", finite=True),
    "uv_faces": Rule("G,3:iu", index_of="uv"),
    "displacement": Rule("N,V:f", finite=True),
    "au": Rule("N,6:f", finite=True, low=0.0, high=5.0),
    "au_left": Rule("N,6:f", finite=True, low=0.0, high=5.0),
    "au_right": Rule("N,6:f", finite=True, low=0.0, high=5.0),
    "pspi": Rule("N:f", finite=True, low=0.0, high=16.0),
    "is_neutral": Rule("N:biu"),
    "identity": Rule("N:iuS"),
    "yaw": Rule("N:f", finite=True, low=-180.0, high=180.0),
    "pitch": Rule("N:f", finite=True, low=-90.0, high=90.0),
    "image": Rule("N:S", paths=True),
    "depth_png": Rule("N:S", paths=True),
    "albedo": Rule("N:S", paths=True),
    "texture": Rule("N:S", paths=True),
    "mesh": Rule("N:S", paths=True),
    "heatmap_png": Rule("N:S", paths=True),
}

_KIND = re.compile(r"([a-zA-Z]+?)(\d*)$")


def _kind_ok(dtype, kinds: str) -> bool:
    """True when ``dtype`` (a numpy dtype or a kind letter) is one of ``kinds`` ("f4", "iu", ...)."""
    match = _KIND.match(kinds)
    letters, size = (match.group(1), match.group(2)) if match else (kinds, "")
    if isinstance(dtype, str):  # only a kind letter is known
        return dtype in letters
    dtype = np.dtype(dtype)
    return dtype.kind in letters and (not size or dtype.itemsize == int(size))


def check_datasets(shapes: Mapping[str, tuple], specs: Mapping[str, str], where: str) -> dict[str, int]:
    """Check ``shapes`` (name -> (shape, dtype or dtype kind)) against ``specs``; return the bound dimensions.

    Raises ArtefactError naming the first dataset that is missing or has the wrong shape or dtype.
    """
    bound: dict[str, int] = {}
    for name, spec in specs.items():
        if name not in shapes:
            raise ArtefactError(f"{where}: missing dataset /{name}")
        _check_one(name, shapes[name][0], shapes[name][1], spec, bound, where)
    return bound


def _check_one(name: str, shape: tuple[int, ...], dtype, spec: str, bound: dict[str, int], where: str) -> None:
    dims_text, _, kinds = spec.partition(":")
    dims = [d.strip() for d in dims_text.split(",") if d.strip()]
    if len(shape) != len(dims):
        raise ArtefactError(f"{where}: /{name} has shape {tuple(shape)}, expected ({', '.join(dims)})")
    for dim, size in zip(dims, shape):
        if dim.isdigit():
            if size != int(dim):
                raise ArtefactError(f"{where}: /{name} has shape {tuple(shape)}, expected ({', '.join(dims)})")
        elif bound.setdefault(dim, size) != size:
            raise ArtefactError(f"{where}: /{name} has {dim}={size} but another dataset has {dim}={bound[dim]}")
    if kinds and not _kind_ok(dtype, kinds):
        shown = np.dtype(dtype).name if not isinstance(dtype, str) else f"kind {dtype!r}"
        raise ArtefactError(f"{where}: /{name} has dtype {shown}, expected {_describe_kinds(kinds)}")


def _describe_kinds(kinds: str) -> str:
    names = {"f": "float", "i": "int", "u": "unsigned int", "b": "bool", "S": "byte string"}
    match = _KIND.match(kinds)
    letters, size = (match.group(1), match.group(2)) if match else (kinds, "")
    if size:
        return " or ".join(f"{names.get(k, k)}{int(size) * 8}" for k in letters)
    return " or ".join(names.get(k, k) for k in letters)


def check_intrinsic(layout: Mapping[str, tuple[tuple[int, ...], np.dtype]], where: str) -> None:
    """Check the shape and dtype of every dataset named in :data:`INTRINSIC` that ``layout`` holds.

    Each dataset is checked on its own (stages of different row counts share names); ``N`` of the
    row datasets must agree with each other.
    """
    rows: dict[str, int] = {}
    for name, rule in INTRINSIC.items():
        if name in layout:
            shape, dtype = layout[name]
            bound: dict[str, int] = {}
            _check_one(name, shape, dtype, rule.spec, bound, where)
            if "N" in bound and rows.setdefault("N", bound["N"]) != bound["N"]:
                raise ArtefactError(f"{where}: /{name} has {bound['N']} rows but other datasets have {rows['N']}")


def check_indices(name: str, values: np.ndarray, length: int, target: str, where: str) -> None:
    """Raise ArtefactError unless every value of ``values`` is a valid index 0..length-1 into ``target``."""
    if values.size == 0:
        return
    low, high = int(values.min()), int(values.max())
    if low < 0 or high >= length:
        bad = low if low < 0 else high
        raise ArtefactError(f"{where}: /{name} holds index {bad}, outside /{target} (0..{length - 1})")


def check_values(name: str, values: np.ndarray, where: str) -> None:
    """Raise ArtefactError when ``values`` read from dataset ``name`` break its :data:`INTRINSIC` bounds."""
    rule = INTRINSIC.get(name.lstrip("/"))
    if rule is None or values.dtype.kind not in "fiu" or values.size == 0:
        return
    if rule.finite and values.dtype.kind == "f" and not np.isfinite(values).all():
        raise ArtefactError(f"{where}: /{name} holds {int((~np.isfinite(values)).sum())} NaN or infinite values")
    if rule.low is not None and float(np.min(values)) < rule.low:
        raise ArtefactError(f"{where}: /{name} holds {float(np.min(values)):g}, below its least value {rule.low:g}")
    if rule.high is not None and float(np.max(values)) > rule.high:
        raise ArtefactError(f"{where}: /{name} holds {float(np.max(values)):g}, above its greatest value {rule.high:g}")


def check_relative_path(text: str, what: str, where: str) -> str:
    """Return ``text`` (a file named by ``what``, e.g. "/image row 3") if it is a plain relative path.

    Absolute paths, ``..`` components, backslashes and NUL bytes are refused: a file an artefact
    indexes lives inside it.
    """
    if not text or "\0" in text or "\\" in text or text.startswith("/") or posixpath.isabs(text):
        raise ArtefactError(f"{where}: {what} names {text!r}, which points outside the artefact (not a relative path)")
    if ".." in text.split("/") or posixpath.normpath(text).startswith(".."):
        raise ArtefactError(f"{where}: {what} names {text!r}, which points outside the artefact")
    return text
