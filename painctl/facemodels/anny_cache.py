"""anny's model cache shared by processes: one builds a model while the others wait, and a cache
file cut short is removed before anny reads it.

anny writes each built model straight to its final name in ``ANNY_CACHE_DIR`` (``v*/*.safetensors``)
and loads any file of that name it finds. So on a fresh machine a second painctl process (a shard,
a test worker, render-views beside sample-mesh) could load a file the first is still writing, and a
build interrupted mid-write would leave a file every later run fails on.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: The lock file painctl holds while anny builds or loads its models, under the cache directory.
LOCK_NAME = "painctl-meta/anny-build.lock"


@contextmanager
def anny_building(root: Path | None = None) -> Iterator[None]:
    """Hold anny's cache (``root``, default :func:`~painctl.facemodels.anny_cache_root`) for one
    ``anny.Anny(...)`` call: wait for any other painctl process that
    holds it (anny builds a missing model in a minute, loads a cached one in about a second), then
    remove the cache files cut short (:func:`drop_incomplete`). A cache directory painctl cannot
    write is read-only to everyone, so it is used as it is, without a lock.
    """
    if root is None:
        from painctl.facemodels import anny_cache_root

        root = anny_cache_root()
    try:
        (root / LOCK_NAME).parent.mkdir(parents=True, exist_ok=True)
        lock = open(root / LOCK_NAME, "a")
    except OSError:
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        drop_incomplete(root)
        yield


def drop_incomplete(root: Path) -> list[Path]:
    """Remove the safetensors files under ``root``'s ``v*`` folders whose header does not parse or
    does not cover the file (safetensors' own check); return the paths removed. Files painctl
    cannot remove are left for anny to report."""
    from safetensors import SafetensorError, safe_open

    from painctl import console

    removed = []
    for path in sorted(root.glob("v*/*.safetensors")):
        try:
            with safe_open(str(path), framework="np"):
                continue
        except SafetensorError:
            pass
        except OSError:
            continue  # unreadable here: not ours to judge
        try:
            path.unlink()
        except OSError:
            continue
        console.info(f"removed {path}: an interrupted build of anny's model left it incomplete; building it again")
        removed.append(path)
    return removed
