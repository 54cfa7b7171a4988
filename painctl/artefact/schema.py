"""Dataset specs: the shapes and dtypes a stage promises, checked before any data is used.

A spec is written like ``"N,V,3:f"``: comma-separated dimensions (a number is exact, a name must be
equal wherever that name appears across one check) and, after the colon, the numpy dtype kind
(``f`` float, ``i`` signed int, ``u`` unsigned, ``b`` bool, ``S`` byte string; several letters
mean any of them).
"""

from __future__ import annotations

from collections.abc import Mapping

from painctl.errors import ArtefactError

#: Datasets every mesh artefact (sample-mesh and stages that carry identities) holds.
IDENTITY = {
    "vertices": "N,V,3:f",
    "faces": "F,3:iu",
    "identity": "N:iuS",
    "age_years": "N:fiu",
    "age_group": "N:S",
    "gender": "N:S",
    "ethnicity": "N:S",
    "phenotype": "N,P:f",
}


def check_datasets(shapes: Mapping[str, tuple[tuple[int, ...], str]], specs: Mapping[str, str], where: str) -> dict[str, int]:
    """Check ``shapes`` (name -> (shape, dtype kind)) against ``specs``; return the bound dimensions.

    Raises ArtefactError naming the first dataset that is missing or has the wrong shape or dtype.
    """
    bound: dict[str, int] = {}
    for name, spec in specs.items():
        if name not in shapes:
            raise ArtefactError(f"{where}: missing dataset /{name}")
        shape, kind = shapes[name]
        dims_text, _, kinds = spec.partition(":")
        dims = [d.strip() for d in dims_text.split(",") if d.strip()]
        if len(shape) != len(dims):
            raise ArtefactError(f"{where}: /{name} has shape {tuple(shape)}, expected ({', '.join(dims)})")
        for dim, size in zip(dims, shape):
            if dim.isdigit():
                if size != int(dim):
                    raise ArtefactError(f"{where}: /{name} has shape {tuple(shape)}, expected ({', '.join(dims)})")
            elif bound.setdefault(dim, size) != size:
                raise ArtefactError(
                    f"{where}: /{name} has {dim}={size} but another dataset has {dim}={bound[dim]}"
                )
        if kinds and kind not in kinds:
            raise ArtefactError(f"{where}: /{name} has dtype kind {kind!r}, expected one of {kinds!r}")
    return bound
