"""Reading and atomically writing artefacts: a directory with manifest.json, data.h5 and files.

Writers build into a hidden temporary sibling of OUT and rename it into place only when complete,
so an interrupted run never leaves an OUT that looks finished; rerunning with the same inputs and
parameters is a cache hit.
"""

from __future__ import annotations

import atexit
import datetime as _dt
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from painctl import __version__
from painctl.artefact.schema import check_datasets
from painctl.errors import ArtefactError, PainctlError

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
DATA = "data.h5"
#: Attribute marking a dataset whose first axis is the artefact's rows (merged by concatenation).
ROWS_ATTR = "painctl_rows"
STDIO = "-"


# --------------------------------------------------------------------------------------------- read


class Artefact:
    """A validated artefact directory opened for reading.

    ``manifest`` is the parsed manifest.json; datasets are read with :meth:`read` (byte strings
    come back as ``str`` arrays) and files next to data.h5 are found with :meth:`resolve`.
    """

    def __init__(self, path: Path, manifest: dict[str, Any]):
        self.path = path
        self.manifest = manifest

    def __repr__(self) -> str:
        return f"Artefact({str(self.path)!r}, stage={self.stage!r})"

    @property
    def stage(self) -> str:
        return self.manifest["stage"]

    @property
    def params(self) -> dict[str, Any]:
        return self.manifest.get("params", {})

    @property
    def digest(self) -> str:
        return self.manifest["digest"]

    def h5(self) -> h5py.File:
        """Open data.h5 read-only (use as a context manager)."""
        return h5py.File(self.path / DATA, "r")

    def shapes(self) -> dict[str, tuple[tuple[int, ...], str]]:
        """Return dataset name -> (shape, numpy dtype kind) for every dataset in data.h5."""
        out: dict[str, tuple[tuple[int, ...], str]] = {}
        with self.h5() as f:
            f.visititems(lambda n, o: out.__setitem__(n, (o.shape, o.dtype.kind)) if isinstance(o, h5py.Dataset) else None)
        return out

    def has(self, name: str) -> bool:
        with self.h5() as f:
            return name in f

    def attrs(self, name: str = "/") -> dict[str, Any]:
        """Return the HDF5 attributes of ``name`` (root by default) with bytes decoded."""
        with self.h5() as f:
            return {k: _decode(v) for k, v in f[name].attrs.items()}

    def read(self, name: str, rows: Any = slice(None)) -> np.ndarray:
        """Read dataset ``name`` (optionally only ``rows`` of its first axis) as a numpy array."""
        with self.h5() as f:
            if name not in f:
                raise ArtefactError(f"{self.path}: missing dataset /{name}")
            ds = f[name]
            data = ds[rows] if ds.shape else ds[()]
        return _decode(data)

    def rows(self) -> int:
        """Number of rows (first-axis length of the row datasets)."""
        return int(self.manifest.get("rows", 0))

    def resolve(self, relpath: str) -> Path:
        """Return the absolute path of a file the artefact indexes (relative to the artefact).

        A merged artefact holds no files of its own: they are found in its shards.
        """
        path = (self.path / relpath).resolve()
        if not path.exists():
            for shard in self.manifest.get("shards", []):
                candidate = (self.path / shard / relpath).resolve()
                if candidate.exists():
                    return candidate
        return path


def _decode(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype.kind == "S":
        return np.char.decode(value, "utf-8")
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def open_artefact(path: str | os.PathLike, stage: str | Sequence[str] | None = None, require: Mapping[str, str] | None = None) -> Artefact:
    """Open and validate the artefact at ``path`` (``-`` reads one streamed on stdin).

    ``stage`` restricts which stages are accepted; ``require`` maps dataset names to specs (see
    :mod:`painctl.artefact.schema`). Raises ArtefactError with one clear sentence on any problem.
    """
    if str(path) == STDIO:
        path = _receive_stdin()
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise ArtefactError(f"{where}: no such artefact")
    if not path.is_dir():
        raise ArtefactError(f"{where}: not an artefact (expected a directory with {MANIFEST} and {DATA})")
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise ArtefactError(f"{where}: not an artefact ({MANIFEST} is missing)")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtefactError(f"{where}: {MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or "stage" not in manifest or "digest" not in manifest:
        raise ArtefactError(f"{where}: {MANIFEST} lacks the stage or digest fields")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ArtefactError(f"{where}: unknown artefact schema version {version!r} (this painctl reads {SCHEMA_VERSION})")
    if stage is not None:
        allowed = (stage,) if isinstance(stage, str) else tuple(stage)
        if manifest["stage"] not in allowed:
            raise ArtefactError(f"{where}: is a {manifest['stage']!r} artefact, expected {' or '.join(map(repr, allowed))}")
    for shard in manifest.get("shards", []):
        # A virtual dataset reads a missing source as fill values: refuse instead of returning zeros.
        if not (path / shard / DATA).is_file():
            raise ArtefactError(f"{where}: merged from shard {shard}, which is missing (keep shards next to the merged artefact)")
    art = Artefact(path, manifest)
    try:
        shapes = art.shapes()
    except (OSError, KeyError, ValueError) as exc:
        raise ArtefactError(f"{where}: {DATA} cannot be read, it is missing or truncated ({exc.__class__.__name__})") from None
    if require:
        check_datasets(shapes, require, where)
    return art


_stdin_dirs: list[str] = []


def _receive_stdin() -> Path:
    """Unpack an artefact streamed as tar on stdin into a temporary directory."""
    if sys.stdin is None or sys.stdin.isatty():
        raise ArtefactError("'-' reads an artefact streamed on stdin, but stdin is a terminal")
    tmp = tempfile.mkdtemp(prefix="painctl-stdin-")
    _stdin_dirs.append(tmp)
    try:
        with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as tar:
            tar.extractall(tmp, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise ArtefactError(f"stdin: not a streamed artefact ({exc})") from None
    entries = [p for p in Path(tmp).iterdir()]
    if len(entries) != 1 or not entries[0].is_dir():
        raise ArtefactError("stdin: not a streamed artefact (expected one directory in the stream)")
    return entries[0]


@atexit.register
def _cleanup_stdin() -> None:
    for tmp in _stdin_dirs:
        shutil.rmtree(tmp, ignore_errors=True)


# -------------------------------------------------------------------------------------------- write


def content_digest(directory: Path) -> str:
    """Return the sha256 over every file of an artefact except its manifest, in path order."""
    outer = hashlib.sha256()
    for file in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = file.relative_to(directory).as_posix()
        if rel == MANIFEST:
            continue
        inner = hashlib.sha256()
        with open(file, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                inner.update(block)
        outer.update(rel.encode() + b"\0" + inner.digest())
    return outer.hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    return value


class ArtefactWriter:
    """Build an artefact in a temporary sibling of ``out`` and rename it into place on success.

    Usage::

        writer = ArtefactWriter(out, "sample-mesh", params, inputs=[], force=False)
        if writer.cached:            # same stage, params and inputs already there
            return writer.path
        with writer:
            write_dataset(writer.h5, "vertices", verts)
            (writer.dir / "images").mkdir()
        # writer.path is complete now

    ``out == "-"`` builds in a temporary directory and streams the result to stdout as tar.
    """

    def __init__(self, out: str | os.PathLike, stage: str, params: Mapping[str, Any], inputs: Iterable[Artefact] = (), force: bool = False):
        self.stage = stage
        self.params = _jsonable(dict(params))
        self.inputs = list(inputs)
        self.force = force
        self.streaming = str(out) == STDIO
        self.path = Path(tempfile.mkdtemp(prefix="painctl-out-")) / "artefact" if self.streaming else Path(out)
        self.dir: Path | None = None
        self.h5: h5py.File | None = None
        self.manifest: dict[str, Any] = {}
        self.cached = False if self.streaming else self._check_existing()

    def _identity(self) -> dict[str, Any]:
        return {"stage": self.stage, "params": self.params, "inputs": [a.digest for a in self.inputs]}

    def _check_existing(self) -> bool:
        out = self.path
        if not out.exists() and not out.is_symlink():
            return False
        try:
            existing = json.loads((out / MANIFEST).read_text())
            same = {k: existing.get(k) for k in ("stage", "params")} == {"stage": self.stage, "params": self.params} and [
                i.get("digest") for i in existing.get("inputs", [])
            ] == [a.digest for a in self.inputs]
            intact = same and existing.get("digest") == content_digest(out)
        except (OSError, ValueError, AttributeError):
            same = intact = False
        if intact and not self.force:
            return True
        if self.force:
            return False
        if same:
            raise PainctlError(f"{out} exists but its content does not match its manifest (damaged?); use --force to rebuild it")
        raise PainctlError(f"{out} already exists with other parameters or inputs; use --force to replace it")

    def __enter__(self) -> "ArtefactWriter":
        if self.cached:
            raise RuntimeError("ArtefactWriter entered although the output is cached")
        parent = self.path.parent
        if not parent.is_dir():
            raise PainctlError(f"{parent}: no such directory for the output")
        _remove_stale_temporaries(self.path)
        self.dir = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.painctl-tmp-{os.getpid()}-", dir=parent))
        self.h5 = h5py.File(self.dir / DATA, "w")
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.dir is not None and self.h5 is not None
        rows = _row_count(self.h5) if exc_type is None else 0
        self.h5.close()
        if exc_type is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            return
        self.manifest = {
            "painctl_version": __version__,
            "schema_version": SCHEMA_VERSION,
            "stage": self.stage,
            "params": self.params,
            "inputs": [{"path": str(a.path), "stage": a.stage, "digest": a.digest} for a in self.inputs],
            "rows": int(rows) if rows is not None else 0,
            "digest": content_digest(self.dir),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **self.manifest,
        }
        tmp_manifest = self.dir / (MANIFEST + ".part")
        tmp_manifest.write_text(json.dumps(self.manifest, indent=2, sort_keys=True) + "\n")
        tmp_manifest.rename(self.dir / MANIFEST)
        _replace_dir(self.dir, self.path)
        if self.streaming:
            _send_stdout(self.path)


def _row_count(h5: h5py.File) -> int:
    lengths = set()
    h5.visititems(lambda n, o: lengths.add(o.shape[0]) if isinstance(o, h5py.Dataset) and o.attrs.get(ROWS_ATTR) else None)
    if len(lengths) > 1:
        raise RuntimeError(f"row datasets disagree on the number of rows: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def _replace_dir(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst``, moving an existing ``dst`` aside first (only reached with --force)."""
    trash = None
    if dst.exists() or dst.is_symlink():
        trash = dst.with_name(f".{dst.name}.painctl-old-{os.getpid()}")
        shutil.rmtree(trash, ignore_errors=True)
        dst.rename(trash)
    src.rename(dst)
    if trash is not None:
        if trash.is_dir() and not trash.is_symlink():
            shutil.rmtree(trash, ignore_errors=True)
        else:
            trash.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_temporaries(out: Path) -> None:
    """Remove temporaries left by interrupted runs writing ``out`` (their process is gone)."""
    for prefix in (f".{out.name}.painctl-tmp-", f".{out.name}.painctl-old-"):
        for stale in out.parent.glob(prefix + "*"):
            pid_text = stale.name[len(prefix):].split("-")[0]
            if pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text)):
                shutil.rmtree(stale, ignore_errors=True)


def _send_stdout(path: Path) -> None:
    if sys.stdout.isatty():
        raise PainctlError("refusing to stream an artefact to a terminal; pipe it into another painctl stage")
    with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as tar:
        tar.add(path, arcname=path.name, filter=_normalise_tarinfo)
    sys.stdout.buffer.flush()
    shutil.rmtree(path.parent, ignore_errors=True)


def _normalise_tarinfo(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    return info


def write_dataset(h5: h5py.File | h5py.Group, name: str, data: Any, rows: bool = True, compression: str | None = None, attrs: Mapping[str, Any] | None = None) -> h5py.Dataset:
    """Write ``data`` as dataset ``name``; ``rows=True`` marks its first axis as the artefact's rows.

    Strings are stored as fixed-length UTF-8 bytes (HDF5 virtual datasets cannot merge
    variable-length ones). Row datasets are chunked along the first axis.
    """
    array = np.asarray(data)
    if array.dtype.kind == "U":
        array = np.char.encode(array, "utf-8")
        if array.dtype.itemsize == 0:
            array = array.astype("S1")
    chunks = None
    if rows and array.ndim >= 1 and array.shape[0] > 0:
        row_bytes = max(1, array[0:1].nbytes)
        chunks = (max(1, min(array.shape[0], (1 << 20) // row_bytes)),) + array.shape[1:]
    ds = h5.create_dataset(name, data=array, chunks=chunks, compression=compression if chunks else None)
    if rows:
        ds.attrs[ROWS_ATTR] = 1
    for key, value in (attrs or {}).items():
        ds.attrs[key] = value
    return ds
