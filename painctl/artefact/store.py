"""Reading and atomically writing artefacts: a directory with manifest.json, data.h5 and files.

Writers build into a hidden temporary sibling of OUT and rename it into place only when complete,
so an interrupted run never leaves an OUT that looks finished; rerunning with the same inputs and
parameters is a cache hit. A writer holds an exclusive lock beside OUT while it works, and
replaces only what painctl wrote (see :class:`ArtefactWriter`).

Reading checks, before any data is used: the manifest, data.h5 against the checksums the manifest
records (naming a dataset that changed), every dataset's shape and dtype (the stage's ``require``
and :data:`painctl.artefact.schema.INTRINSIC`), index ranges, and that every file the artefact
names is inside it and present. Values (finite, in range) are checked as rows are read.
"""

from __future__ import annotations

import atexit
import datetime as _dt
import errno
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from painctl import __version__
from painctl.artefact.locks import OutputLock, pid_alive
from painctl.artefact.signals import install_term_handler
from painctl.artefact.schema import INTRINSIC, check_datasets, check_indices, check_intrinsic, check_relative_path, check_values
from painctl.errors import ArtefactError, PainctlError, UpstreamFailed

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
DATA = "data.h5"
#: Attribute marking a dataset whose first axis is the artefact's rows (merged by concatenation).
ROWS_ATTR = "painctl_rows"
STDIO = "-"
#: Where an artefact keeps copies of the inputs it read from a stream (they exist nowhere else).
BUNDLE = "inputs"


# --------------------------------------------------------------------------------------------- read


class Artefact:
    """A validated artefact directory opened for reading.

    ``manifest`` is the parsed manifest.json; datasets are read with :meth:`read` (byte strings
    come back as ``str`` arrays, values checked against their rules) and files next to data.h5
    are found with :meth:`resolve`. ``source`` is the artefact as the user named it (``-`` for
    stdin), used in messages and in the manifests of what is made from it.
    """

    def __init__(self, path: Path, manifest: dict[str, Any], source: str | None = None):
        self.path = path
        self.manifest = manifest
        self.source = str(path) if source is None else source
        # Root directory -> the file digests its manifest records (None: written before they were).
        self._recorded_files: dict[Path, dict[str, str] | None] = {}
        self._verified: set[Path] = set()

    def __repr__(self) -> str:
        return f"Artefact({self.source!r}, stage={self.stage!r})"

    @property
    def where(self) -> str:
        """How messages name this artefact: its path, or ``stdin``."""
        return "stdin" if self.source == STDIO else self.source

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

    def layout(self) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """Return dataset name -> (shape, numpy dtype) for every dataset in data.h5."""
        out: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        with self.h5() as f:
            f.visititems(lambda n, o: out.__setitem__(n, (o.shape, o.dtype)) if isinstance(o, h5py.Dataset) else None)
        return out

    def shapes(self) -> dict[str, tuple[tuple[int, ...], str]]:
        """Return dataset name -> (shape, numpy dtype kind) for every dataset in data.h5."""
        return {name: (shape, dtype.kind) for name, (shape, dtype) in self.layout().items()}

    def has(self, name: str) -> bool:
        with self.h5() as f:
            return name in f

    def attrs(self, name: str = "/") -> dict[str, Any]:
        """Return the HDF5 attributes of ``name`` (root by default) with bytes decoded."""
        with self.h5() as f:
            return {k: _decode(v) for k, v in f[name].attrs.items()}

    def read(self, name: str, rows: Any = slice(None)) -> np.ndarray:
        """Read dataset ``name`` (optionally only ``rows`` of its first axis) as a numpy array.

        Values are checked against the dataset's rule (finite, in range) before they are returned.
        """
        try:
            with self.h5() as f:
                if name not in f:
                    raise ArtefactError(f"{self.where}: missing dataset /{name}")
                ds = f[name]
                data = ds[rows] if ds.shape else ds[()]
        except (OSError, ValueError, TypeError) as exc:
            raise ArtefactError(f"{self.where}: /{name} cannot be read ({exc.__class__.__name__})") from None
        if isinstance(data, np.ndarray):
            check_values(name, data, self.where)
        return _decode(data)

    def rows(self) -> int:
        """Number of rows (first-axis length of the row datasets)."""
        return int(self.manifest.get("rows", 0))

    def roots(self) -> list[Path]:
        """The directories files of this artefact may live in: itself, then (when merged) its shards."""
        root = self.path.resolve()
        return [root] + [(self.path / shard).resolve() for shard in self.manifest.get("shards", [])]

    def resolve(self, relpath: str, what: str = "a file", must_exist: bool = True) -> Path:
        """Return the absolute path of a file the artefact indexes (``relpath`` relative to the artefact).

        The file must lie inside the artefact (or, for a merged artefact, inside one of its shards),
        also after following links, and exist (unless ``must_exist`` is false). Raises
        ArtefactError otherwise; ``what`` names the file in that message (e.g. "/image row 3").
        """
        text = check_relative_path(str(relpath), what, self.where)
        roots = self.roots()
        for root in roots:
            candidate = (root / text).resolve()
            if not candidate.is_relative_to(root):
                raise ArtefactError(f"{self.where}: {what} ({text}) points outside the artefact (through a link)")
            if candidate.is_file():
                self._verify_file(root, candidate, what, text)
                return candidate
        if must_exist:
            raise ArtefactError(f"{self.where}: {what} ({text}) is listed in the artefact but missing")
        return roots[0] / text


    def _verify_file(self, root: Path, path: Path, what: str, text: str) -> None:
        """Compare ``path`` (a file under ``root``) with the digest its manifest recorded, once per file."""
        if path in self._verified:
            return
        if root not in self._recorded_files:
            manifest = self.manifest if root == self.roots()[0] else _painctl_manifest(root) or {}
            files = manifest.get("checksums", {}).get("files") if isinstance(manifest.get("checksums"), dict) else None
            self._recorded_files[root] = files if isinstance(files, dict) else None
        files = self._recorded_files[root]
        rel = path.relative_to(root).as_posix()
        if files is not None and not rel.startswith(BUNDLE + "/"):
            # Bundled inputs are artefacts of their own, checked against their own manifests when opened.
            recorded = files.get(rel)
            if recorded is None:
                raise ArtefactError(f"{self.where}: {what} ({text}) is not a file the artefact was written with")
            if file_digest(path) != recorded:
                raise ArtefactError(f"{self.where}: {what} ({rel}) changed after the artefact was written; rebuild or restore it")
        self._verified.add(path)


def _decode(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype.kind == "S":
        try:
            return np.char.decode(value, "utf-8")
        except UnicodeDecodeError:
            raise ArtefactError("a text dataset holds bytes that are not UTF-8") from None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def recorded_input(art: Artefact, stage: str, require: Mapping[str, str] | None = None) -> Artefact | None:
    """Return the input of ``art`` that stage ``stage`` made (the first its manifest records),
    opened and checked against the recorded digest, or None when it records none.

    Looked for in ``art``'s own ``inputs/`` copy (a streamed input), then at the recorded absolute
    path, then at the recorded path relative to ``art``: never relative to the working directory.
    Raises ArtefactError, naming where it looked, when the input is recorded but not found.
    """
    records = [r for r in art.manifest.get("inputs", []) if isinstance(r, dict) and r.get("stage") == stage]
    if not records:
        return None
    record = records[0]
    places = []
    names: dict[Path, str] = {}
    if isinstance(record.get("bundled"), str):
        # A directory inside the artefact: resolve() checks it stays inside; its manifest says it is there.
        bundled = Path(art.resolve(f"{record['bundled']}/{MANIFEST}", what=f"its {stage} input")).parent
        places.append(bundled)
        # Named by where the user can find it, never by the temporary directory a stream unpacked to.
        names[bundled] = f"{art.where}/{record['bundled']}" if art.source != STDIO else f"stdin ({record['bundled']})"
    if isinstance(record.get("path"), str) and record["path"] != STDIO and os.path.isabs(record["path"]):
        places.append(Path(record["path"]))
    if isinstance(record.get("relative"), str):
        places.append(Path(os.path.normpath(Path(os.path.abspath(art.path)).parent / record["relative"])))
    for place in places:
        if (place / MANIFEST).is_file():
            found = open_artefact(place, stage=stage, require=require, name=names.get(place))
            if found.digest != record.get("digest"):
                raise ArtefactError(f"{found.where}: is not the {stage} artefact {art.where} was made from (its content changed since)")
            return found
    looked = ", ".join(names.get(p, str(p)) for p in places) or "nowhere (the manifest gives no path)"
    raise ArtefactError(f"{art.where}: was made from a {stage} artefact that is no longer where it was ({looked})")


def open_artefact(path: str | os.PathLike, stage: str | Sequence[str] | None = None, require: Mapping[str, str] | None = None,
                  name: str | None = None) -> Artefact:
    """Open and validate the artefact at ``path`` (``-`` reads one streamed on stdin).

    ``stage`` restricts which stages are accepted; ``require`` maps dataset names to specs (see
    :mod:`painctl.artefact.schema`). Checks the manifest, data.h5's checksums, the shapes, dtypes
    and index ranges of known datasets, and that every file the artefact names is inside it and
    present (and, for files whose digests the manifest records, unchanged). Raises ArtefactError
    with one clear sentence on any problem. ``name`` is how messages name the artefact when its
    path is not the user's (an input bundled inside a streamed artefact).
    """
    source = str(path) if name is None else name
    if str(path) == STDIO:
        path = _receive_stdin()
    path = Path(path)
    where = "stdin" if source == STDIO else source
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
        raise ArtefactError(f"{where}: {MANIFEST} is not valid JSON ({exc.__class__.__name__})") from None
    _check_manifest(manifest, where)
    if stage is not None:
        allowed = (stage,) if isinstance(stage, str) else tuple(stage)
        if manifest["stage"] not in allowed:
            raise ArtefactError(f"{where}: is a {manifest['stage']!r} artefact, expected {' or '.join(map(repr, allowed))}")
    for shard in manifest.get("shards", []):
        # A virtual dataset reads a missing source as fill values: refuse instead of returning zeros.
        if not (path / shard / DATA).is_file():
            raise ArtefactError(f"{where}: merged from shard {shard}, which is missing (keep shards next to the merged artefact)")
    art = Artefact(path, manifest, source)
    try:
        _verify_checksums(art)
        layout = art.layout()
        check_intrinsic(layout, where)
        if require:
            check_datasets(layout, require, where)
        _check_indices_and_files(art, layout)
    except ArtefactError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise ArtefactError(f"{where}: {DATA} cannot be read, it is missing, truncated or damaged ({exc.__class__.__name__})") from None
    return art


def _check_manifest(manifest: Any, where: str) -> None:
    if not isinstance(manifest, dict):
        raise ArtefactError(f"{where}: {MANIFEST} is not a JSON object")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ArtefactError(f"{where}: unknown artefact schema version {version!r} (this painctl reads {SCHEMA_VERSION})")
    expected = {"stage": str, "digest": str, "params": dict, "inputs": list, "rows": int}
    for key, kind in expected.items():
        if key not in manifest or not isinstance(manifest[key], kind) or isinstance(manifest[key], bool):
            raise ArtefactError(f"{where}: {MANIFEST} lacks a valid {key!r} field")
    if manifest["rows"] < 0:
        raise ArtefactError(f"{where}: {MANIFEST} gives a negative row count")
    shards = manifest.get("shards", [])
    if not isinstance(shards, list) or not all(isinstance(s, str) for s in shards):
        raise ArtefactError(f"{where}: {MANIFEST} has a malformed 'shards' field")
    for shard in shards:
        if Path(shard).is_absolute() or "\0" in shard:
            raise ArtefactError(f"{where}: {MANIFEST} names shard {shard!r}, not a relative path")
    checksums = manifest.get("checksums")
    if checksums is not None and not (
        isinstance(checksums, dict) and isinstance(checksums.get(DATA), str) and isinstance(checksums.get("datasets"), dict)
        and (checksums.get("files") is None or (isinstance(checksums["files"], dict) and all(isinstance(v, str) for v in checksums["files"].values())))
    ):
        raise ArtefactError(f"{where}: {MANIFEST} has a malformed 'checksums' field")


def _check_indices_and_files(art: Artefact, layout: Mapping[str, tuple[tuple[int, ...], np.dtype]]) -> None:
    """Index datasets must index existing entries; path datasets must name present files inside."""
    with art.h5() as f:
        for name, rule in INTRINSIC.items():
            if name not in layout:
                continue
            shape, dtype = layout[name]
            if (rule.finite or rule.low is not None) and int(np.prod(shape, dtype=np.int64)) * dtype.itemsize <= _CHECK_ON_OPEN_BYTES:
                check_values(name, f[name][()], art.where)
            if rule.index_of:
                target, _, axis = rule.index_of.partition("@")
                if target in layout:
                    check_indices(name, f[name][()], layout[target][0][int(axis or 0)], target, art.where)
            if rule.paths:
                values = _decode(f[name][()])
                for row, text in enumerate(np.atleast_1d(values).tolist()):
                    if text:  # an empty name means "no file for this row"
                        art.resolve(text, what=f"/{name} row {row}")


#: Datasets up to this size have their values checked when the artefact is opened; larger ones as
#: their rows are read (so a stage never pays for a pass over data it does not use).
_CHECK_ON_OPEN_BYTES = 64 << 20

_stdin_dirs: list[str] = []


def _receive_stdin() -> Path:
    """Unpack an artefact streamed as tar on stdin into a temporary directory."""
    if sys.stdin is None or sys.stdin.isatty():
        raise ArtefactError("'-' reads an artefact streamed on stdin, but stdin is a terminal")
    tmp = tempfile.mkdtemp(prefix="painctl-stdin-")
    _stdin_dirs.append(tmp)
    stream = sys.stdin.buffer
    if hasattr(stream, "peek") and not stream.peek(1):
        # The stage before us in the pipe wrote nothing: it failed and has said why on stderr.
        raise UpstreamFailed("stdin: the upstream stage failed (it sent no artefact)")
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            tar.extractall(tmp, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise ArtefactError(f"stdin: not a streamed artefact ({exc.__class__.__name__})") from None
    entries = [p for p in Path(tmp).iterdir()]
    if len(entries) != 1 or not entries[0].is_dir():
        raise ArtefactError("stdin: not a streamed artefact (expected one directory in the stream)")
    return entries[0]


@atexit.register
def _cleanup_stdin() -> None:
    for tmp in _stdin_dirs:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------------------- checksums


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dataset_digests(path: Path, known: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return dataset name -> sha256 (hex, 16 digits) over its dtype, shape, attributes and values.

    The root group's attributes are under ``/``. Reads every dataset once, in blocks of rows, but
    those in ``known`` (name -> digest, e.g. from :class:`RowDigest` while they were written).
    """
    out: dict[str, str] = {}
    known = known or {}
    with h5py.File(path, "r") as f:
        out["/"] = _attrs_digest(f.attrs).hexdigest()[:16]
        names: list[str] = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        for name in sorted(names):
            if name in known:
                out[name] = known[name]
                continue
            ds = f[name]
            digest = _dataset_head(ds)
            if ds.shape is None:
                pass
            elif ds.shape == ():
                digest.update(np.asarray(ds[()]).tobytes())
            else:
                step = max(1, (16 << 20) // max(1, int(np.prod(ds.shape[1:], dtype=np.int64)) * ds.dtype.itemsize))
                for start in range(0, ds.shape[0], step):
                    digest.update(_value_bytes(ds[start : start + step]))
            out[name] = digest.hexdigest()[:16]
    return out


def _dataset_head(ds) -> "hashlib._Hash":
    # What a dataset's digest hashes before its values: its attributes, dtype and shape.
    digest = _attrs_digest(ds.attrs)
    digest.update(f"{ds.dtype.str}|{ds.shape}".encode())
    return digest


def _value_bytes(block: np.ndarray):
    # The C-order bytes of a block, without a copy where numpy exports them as a buffer (object
    # arrays do not: their tobytes() is what the digest has always hashed).
    block = np.ascontiguousarray(block)
    return block.tobytes() if block.dtype.hasobject else block.reshape(-1).view(np.uint8)


class RowDigest:
    """Write the rows of a dataset in order and hash them as they go, so that the manifest's
    digest of the dataset (:func:`dataset_digests`) needs no second read of it.

    Make it once the dataset's attributes are final; rows never written (skipped, or after the
    last written) are hashed as the dataset's fill value, which is what reading them gives. If
    the dataset's attributes, shape or dtype change afterwards, or a row is written out of
    order, the digest is computed from the file as usual: same digest, only slower. Rows must
    be written through :meth:`write` alone.
    """

    def __init__(self, ds: h5py.Dataset) -> None:
        if ds.shape is None or len(ds.shape) == 0 or ds.dtype.hasobject:
            raise ValueError(f"{ds.name}: only datasets of rows of fixed-size values are hashed while written")
        self.ds, self.name = ds, ds.name.lstrip("/")
        self._shape, self._dtype = ds.shape, ds.dtype
        self._head = _attrs_digest(ds.attrs).hexdigest()
        self._digest = _dataset_head(ds)
        self._next = 0  # the first row not hashed yet
        self._valid = True
        self._fill: np.ndarray | None = None
        _streamed.setdefault(_file_key(ds.file.filename), {})[self.name] = self

    def write(self, row: int, value: np.ndarray) -> None:
        """Write ``value`` (one row: the dataset's row shape and exactly its dtype) as row ``row``."""
        value = np.asarray(value)
        if value.dtype != self._dtype or value.shape != self._shape[1:]:
            raise ValueError(f"{self.name}: row of {value.dtype}{value.shape}, not {self._dtype}{self._shape[1:]}")
        self.ds[row] = value
        if row < self._next:
            self._valid = False
        if not self._valid:
            return
        self._fill_to(row)
        self._digest.update(_value_bytes(value))
        self._next = row + 1

    def _fill_to(self, stop: int) -> None:
        while self._next < stop:
            if self._fill is None:
                self._fill = np.full(self._shape[1:], self.ds.fillvalue, self._dtype)
            self._digest.update(_value_bytes(self._fill))
            self._next += 1

    def result(self) -> str | None:
        """The dataset's digest as :func:`dataset_digests` gives it, or None when it must be read (see above)."""
        ds = self.ds
        if not self._valid or not ds.id.valid or ds.shape != self._shape or ds.dtype != self._dtype or _attrs_digest(ds.attrs).hexdigest() != self._head:
            return None
        self._fill_to(self._shape[0])
        return self._digest.hexdigest()[:16]


#: Data files being written -> their datasets hashed while written (name -> RowDigest).
_streamed: dict[str, dict[str, RowDigest]] = {}


def _file_key(filename: str) -> str:
    return os.path.realpath(filename)


def streamed_digests(h5: h5py.File) -> dict[str, str]:
    """Return name -> digest of the datasets of the open ``h5`` hashed while written (see
    :class:`RowDigest`) that are still valid, and forget them; call it before closing the file."""
    found = _streamed.pop(_file_key(h5.filename), {})
    out = {}
    for name, rows in found.items():
        digest = rows.result() if name in h5 and h5[name].id == rows.ds.id else None
        if digest is not None:
            out[name] = digest
    return out


def _attrs_digest(attrs) -> "hashlib._Hash":
    digest = hashlib.sha256()
    for key in sorted(attrs.keys()):
        value = attrs[key]
        value = value.tolist() if isinstance(value, np.ndarray) else value
        digest.update(f"{key}={value!r};".encode())
    return digest


def _verify_checksums(art: Artefact) -> None:
    """Compare data.h5 (and, when merged, each shard's) with the checksums its manifest records."""
    _verify_one(art.path, art.manifest, art.where)
    for shard in art.manifest.get("shards", []):
        shard_dir = art.path / shard
        try:
            shard_manifest = json.loads((shard_dir / MANIFEST).read_text())
        except (OSError, ValueError):
            raise ArtefactError(f"{art.where}: shard {shard} has no readable {MANIFEST}") from None
        if isinstance(shard_manifest, dict):
            _verify_one(shard_dir, shard_manifest, f"{art.where} (shard {shard})")


def _verify_one(directory: Path, manifest: Mapping[str, Any], where: str) -> None:
    checksums = manifest.get("checksums")
    if not isinstance(checksums, dict):  # written before painctl recorded checksums
        return
    data = directory / DATA
    if not data.is_file():
        raise ArtefactError(f"{where}: {DATA} is missing")
    if file_sha256(data) == checksums.get(DATA):
        return
    try:
        now = dataset_digests(data)
    except (OSError, ValueError, KeyError, RuntimeError):
        raise ArtefactError(f"{where}: {DATA} changed after it was written and cannot be read (truncated or damaged)") from None
    recorded = checksums.get("datasets", {})
    changed = [n for n in sorted(set(now) | set(recorded)) if now.get(n) != recorded.get(n)]
    if not changed:
        raise ArtefactError(f"{where}: {DATA} changed after it was written (its layout, not its datasets); rebuild it")
    described = []
    for name in changed[:3]:
        label = "the root attributes" if name == "/" else f"/{name}"
        described.append(f"{label} {'was added' if name not in recorded else 'was removed' if name not in now else 'differs'}")
    more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
    raise ArtefactError(f"{where}: {DATA} changed after it was written ({', '.join(described)}{more}); rebuild or restore it")


# -------------------------------------------------------------------------------------------- write


def content_digest(directory: Path, hashes: Mapping[str, bytes] | None = None) -> str:
    """Return the sha256 over every file of an artefact except its manifest, in path order.

    ``hashes`` (from :func:`file_hashes`) saves reading the files a second time.
    """
    outer = hashlib.sha256()
    # In path order part by part (as pathlib sorts), so digests of artefacts written before stay valid.
    for rel, inner in sorted((hashes if hashes is not None else file_hashes(directory)).items(), key=lambda item: item[0].split("/")):
        outer.update(rel.encode() + b"\0" + inner)
    return outer.hexdigest()


def file_hashes(directory: Path) -> dict[str, bytes]:
    """Return relative path -> sha256 digest (32 bytes) of every file under ``directory`` except its manifest."""
    out = {}
    for file in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = file.relative_to(directory).as_posix()
        if rel != MANIFEST:
            out[rel] = _sha256(file).digest()
    return out


#: Hex digits of a file's sha256 recorded per file (128 bits: any edit shows; the manifest stays small).
FILE_DIGEST_HEX = 32


def file_digest(path: Path) -> str:
    """Return the digest the manifest records for one file of an artefact: its sha256, first 32 hex digits."""
    return _sha256(path).hexdigest()[:FILE_DIGEST_HEX]


def recorded_file_digests(hashes: Mapping[str, bytes]) -> dict[str, str]:
    """The per-file digests a manifest records: every file but data.h5 (checked by its own
    checksums) and bundled inputs (artefacts with manifests of their own)."""
    return {rel: digest.hex()[:FILE_DIGEST_HEX] for rel, digest in sorted(hashes.items())
            if rel != DATA and not rel.startswith(BUNDLE + "/")}


def _sha256(path: Path) -> "hashlib._Hash":
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest


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

    Before any work it refuses: an OUT that is, holds or lies inside an input; the working
    directory; a directory it cannot write; and an existing OUT unless it is a painctl artefact
    (replaced only with ``force``; a plain file or a foreign directory never). While it works it
    holds the lock ``.<OUT>.painctl-lock`` beside OUT, so a second writer of OUT is refused.

    ``out == "-"`` builds in a temporary directory and streams the result to stdout as tar
    (refused when stdout is a terminal).
    """

    def __init__(self, out: str | os.PathLike, stage: str, params: Mapping[str, Any], inputs: Iterable[Artefact] = (), force: bool = False):
        self.stage = stage
        self.params = _jsonable(dict(params))
        self.inputs = list(inputs)
        self.force = force
        self.streaming = str(out) == STDIO
        self.dir: Path | None = None
        self.h5: h5py.File | None = None
        self.manifest: dict[str, Any] = {}
        self._lock: OutputLock | None = None
        if self.streaming:
            if sys.stdout is None or sys.stdout.isatty():
                raise PainctlError("refusing to stream an artefact to a terminal; pipe it into another painctl stage or give a directory as OUT")
            tmp = tempfile.mkdtemp(prefix="painctl-out-")
            _temporaries.append(tmp)
            # Built in a private temporary directory; messages and manifests name it "-", never the temporary.
            self._target = Path(tmp) / "artefact"
            self.path = Path(STDIO)
            self.cached = False
            return
        self.path = self._target = _output_path(out)
        check_output_place(self.path, self.inputs)
        if not _writable(self.path.parent):
            # A cache hit needs no write access; anything else does.
            if self._check_existing():
                self.cached = True
                return
            raise PainctlError(f"{self.path.parent}: cannot write the output here (permission denied or read-only)")
        OutputLock.check(self.path)  # refuse at once if another run is writing OUT
        self.cached = self._check_existing()

    @property
    def where(self) -> str:
        """How messages name the output: its path, or ``stdout`` when it is streamed."""
        return "stdout" if self.streaming else str(self.path)

    @property
    def place(self) -> Path:
        """The directory the output is built in, for disk-space checks (the temporary directory when streamed)."""
        return Path(tempfile.gettempdir()) if self.streaming else Path(os.path.abspath(self.path)).parent

    def _identity(self) -> dict[str, Any]:
        return {"stage": self.stage, "params": self.params, "inputs": [a.digest for a in self.inputs]}

    def _check_existing(self) -> bool:
        """True for a cache hit; False when OUT may be (re)built; raises when OUT must be kept."""
        out = self.path
        existing = existing_artefact(out, self.force)
        if existing is None:
            return False
        same_stage = existing.get("stage") == self.stage
        same_params = existing.get("params") == self.params
        same_inputs = [i.get("digest") if isinstance(i, dict) else None for i in existing.get("inputs", [])] == [a.digest for a in self.inputs]
        if same_stage and same_params and same_inputs:
            if existing.get("digest") == content_digest(out) and not self.force:
                return True
            if self.force:
                return False
            raise PainctlError(f"{out} exists but its content does not match its manifest (damaged?); use {{force=True}} to rebuild it", params=("force=True",))
        if self.force:
            return False
        if not same_stage:
            what = f"a {existing.get('stage')!r} artefact, not {self.stage!r}"
        elif not same_params:
            what = f"a {self.stage!r} artefact made with other parameters ({_params_difference(existing.get('params'), self.params)})"
        else:
            what = f"a {self.stage!r} artefact made from other inputs"
        raise PainctlError(f"{out} already holds {what}; use {{force=True}} to replace it", params=("force=True",))

    def __enter__(self) -> "ArtefactWriter":
        if self.cached:
            raise RuntimeError("ArtefactWriter entered although the output is cached")
        parent = self._target.parent
        if not parent.is_dir():
            raise PainctlError(f"{parent}: no such directory for the output")
        if not self.streaming:
            self._lock = OutputLock(self.path)
            try:
                # Another run may have written OUT since we looked: check again under the lock.
                if self._check_existing():
                    raise PainctlError(f"{self.path}: was written by another painctl run meanwhile; rerun to use it")
            except BaseException:
                self._release()
                raise
        _remove_stale_temporaries(self._target)
        try:
            self.dir = hidden_temporary_dir(self._target, parent)
            self.h5 = h5py.File(self.dir / DATA, "w")
        except OSError as exc:
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
            self._release()
            raise PainctlError(f"{parent}: cannot write the output here ({exc.strerror or exc.__class__.__name__})") from None
        install_term_handler()
        return self

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.dir is not None and self.h5 is not None
        try:
            self._finish(exc_type)
        except OSError as failure:
            shutil.rmtree(self.dir, ignore_errors=True)
            if self.streaming and isinstance(failure, BrokenPipeError):
                raise  # the stage reading the pipe went away; it says why, this one exits quietly
            if exc_type is None:
                raise PainctlError(f"{self.path}: could not be written ({failure.strerror or failure.__class__.__name__})") from None
        finally:
            self._release()
        if exc_type is not None and issubclass(exc_type, OSError) and getattr(exc, "errno", None) in _DISK_ERRORS:
            raise PainctlError(f"{self.path}: could not be written ({exc.strerror})") from None

    def _input_records(self) -> list[dict[str, Any]]:
        """How the manifest names the inputs so that later stages find them from anywhere.

        An input on disk is recorded by its absolute path and its path relative to this artefact
        (so a tree moved as a whole still resolves). An input that came through a pipe (or lies
        inside one that did) exists nowhere else: it is copied in under ``inputs/``, once, and
        recorded there (see :func:`recorded_input`).
        """
        bundles: dict[str, str] = {}  # absolute path of a streamed input -> its copy, relative to us
        records = []
        for art in self.inputs:
            record: dict[str, Any] = {"stage": art.stage, "digest": art.digest}
            where = os.path.abspath(art.path)
            outer = next((p for p in bundles if where == p or where.startswith(p + os.sep)), None)
            if outer is not None:  # e.g. the rig inside the render-views artefact that came on stdin
                record.update(path=STDIO, bundled=Path(bundles[outer], os.path.relpath(where, outer)).as_posix())
            elif art.source == STDIO or any(where.startswith(os.path.abspath(t) + os.sep) for t in _stdin_dirs):
                bundle = (Path(BUNDLE) / f"{art.stage}-{art.digest[:16]}").as_posix()
                if not (self.dir / bundle).exists():
                    shutil.copytree(art.path, self.dir / bundle, symlinks=False)
                bundles[where] = bundle
                record.update(path=STDIO, bundled=bundle)
            else:
                record.update(path=where)
                if not self.streaming:
                    record["relative"] = os.path.relpath(where, os.path.abspath(self._target.parent))
            records.append(record)
        return records

    def _finish(self, exc_type) -> None:
        rows = _row_count(self.h5) if exc_type is None else 0
        # While the file is open: checks that what was hashed as it was written still stands.
        streamed = streamed_digests(self.h5) if exc_type is None else _streamed.pop(_file_key(self.h5.filename), None)
        self.h5.close()
        if exc_type is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            return
        data = self.dir / DATA
        records = self._input_records()
        hashes = file_hashes(self.dir)  # one pass over the files: the content digest and the per-file digests
        self.manifest = {
            "painctl_version": __version__,
            "schema_version": SCHEMA_VERSION,
            "stage": self.stage,
            "params": self.params,
            "inputs": records,
            "rows": int(rows) if rows is not None else 0,
            "digest": content_digest(self.dir, hashes),
            "checksums": {DATA: hashes[DATA].hex(), "datasets": dataset_digests(data, streamed), "files": recorded_file_digests(hashes)},
            "entries": sorted(p.name for p in self.dir.iterdir()) + [MANIFEST],
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **self.manifest,
        }
        self.manifest["entries"] = sorted(set(self.manifest["entries"]))
        tmp_manifest = self.dir / (MANIFEST + ".part")
        tmp_manifest.write_text(json.dumps(self.manifest, indent=2, sort_keys=True) + "\n")
        tmp_manifest.rename(self.dir / MANIFEST)
        _replace_dir(self.dir, self._target)
        if self.streaming:
            _send_stdout(self._target)


_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}
_temporaries: list[str] = []


@atexit.register
def _cleanup_temporaries() -> None:
    for tmp in _temporaries:
        shutil.rmtree(tmp, ignore_errors=True)


def _output_path(out: str | os.PathLike) -> Path:
    path = Path(out)
    # '.', '..' and 'x/..' have no name of their own to build a sibling from.
    return path if path.name not in ("", ".", "..") else Path(os.path.abspath(path))


def _writable(directory: Path) -> bool:
    return directory.is_dir() and os.access(directory, os.W_OK | os.X_OK)


def check_output_place(out: Path, inputs: Iterable[Artefact] = ()) -> None:
    """Refuse an output ``out`` that is, holds or lies inside an input, or holds the working directory.

    Also refuses an output whose parent directory is missing. Raises PainctlError naming the clash.
    """
    real = Path(os.path.realpath(out))
    if not Path(os.path.abspath(out)).parent.is_dir():
        raise PainctlError(f"{Path(out).parent}: no such directory for the output")
    cwd = Path.cwd().resolve()
    if cwd == real or cwd.is_relative_to(real):
        raise PainctlError(f"{out}: is the working directory (or holds it); give the name of a new directory as OUT")
    for art in inputs:
        if art.source == STDIO:
            continue
        for root in art.roots():
            if real == root:
                raise PainctlError(f"{out}: is the input {art.where}; write the output to another directory")
            if real.is_relative_to(root):
                raise PainctlError(f"{out}: lies inside the input {art.where}; write the output outside it")
            if root.is_relative_to(real):
                raise PainctlError(f"{out}: holds the input {art.where}, which replacing it would delete")
    for parent in real.parents:
        if _painctl_manifest(parent) is not None:
            raise PainctlError(f"{out}: lies inside the artefact {parent}; write the output outside it")


def existing_artefact(out: Path, force: bool) -> dict[str, Any] | None:
    """Return the manifest of the painctl artefact at ``out``, or None when ``out`` may be written.

    None for a missing ``out``, or an empty directory with ``force``. Raises PainctlError for what
    painctl must not replace: a file, a link, a directory without painctl's manifest, or one
    holding entries painctl did not write (a user's file dropped into an artefact).
    """
    if not out.exists() and not out.is_symlink():
        return None
    if out.is_symlink():
        raise PainctlError(f"{out}: is a symbolic link; painctl replaces only artefact directories it wrote (remove the link yourself)")
    if not out.is_dir():
        raise PainctlError(f"{out}: is a file, not an artefact; painctl will not replace it, with or without {{force=True}} (move it away yourself)", params=("force=True",))
    try:
        entries = sorted(p.name for p in out.iterdir())
    except OSError as exc:
        raise PainctlError(f"{out}: cannot be read ({exc.strerror})") from None
    if not entries:
        if force:
            return None
        raise PainctlError(f"{out}: is an empty directory; use {{force=True}} to write the artefact into its place", params=("force=True",))
    manifest = _painctl_manifest(out)
    if manifest is None:
        raise PainctlError(f"{out}: is a directory that painctl did not write (no painctl {MANIFEST}); "
                           f"painctl will not replace it, with or without {{force=True}}", params=("force=True",))
    known = manifest.get("entries")
    if isinstance(known, list):
        foreign = [e for e in entries if e not in known]
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise PainctlError(f"{out}: holds {shown}, which painctl did not write; move it out first "
                               f"(painctl replaces only what it wrote)")
    return manifest


def _painctl_manifest(directory: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or not all(k in manifest for k in ("stage", "digest", "schema_version", "painctl_version")):
        return None
    return manifest


def _params_difference(old: Any, new: Mapping[str, Any]) -> str:
    if not isinstance(old, dict):
        return "unreadable parameters there"
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    shown = [f"{k}: {json.dumps(new.get(k))} here, {json.dumps(old.get(k))} there" for k in keys[:3]]
    return "; ".join(shown) + (f"; and {len(keys) - 3} more" if len(keys) > 3 else "")


# ------------------------------------------------------------------------------------ single files


class FileOutput:
    """Write one output file atomically, under the same rules as artefacts.

    ``ours(path)`` says whether an existing file is one painctl wrote (a PNG's text chunk, a CSV's
    header); only such a file is replaced, and only with ``force``. Use as a context manager: it
    yields a temporary sibling to write, renamed over ``path`` on success and removed on failure.
    """

    def __init__(self, out: str | os.PathLike, force: bool, ours: Callable[[Path], bool], what: str = "file"):
        self.path = _output_path(out)
        self.force = force
        check_output_place(self.path)
        if self.path.is_symlink() or self.path.is_dir():
            raise PainctlError(f"{self.path}: is a {'link' if self.path.is_symlink() else 'directory'}; give the name of a {what} to write")
        if self.path.exists():
            if not force:
                raise PainctlError(f"{self.path}: already exists; use {{force=True}} to replace it", params=("force=True",))
            if not ours(self.path):
                raise PainctlError(f"{self.path}: was not written by painctl; painctl will not replace it, with or without {{force=True}}", params=("force=True",))
        if not _writable(self.path.parent):
            raise PainctlError(f"{self.path.parent}: cannot write the output here (permission denied or read-only)")
        OutputLock.check(self.path)
        self._lock: OutputLock | None = None
        self.tmp = self.path.with_name(f".{self.path.name}.painctl-tmp-{os.getpid()}")

    def __enter__(self) -> Path:
        self._lock = OutputLock(self.path)
        install_term_handler()
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                try:
                    os.replace(self.tmp, self.path)
                except OSError as failure:
                    raise PainctlError(f"{self.path}: could not be written ({failure.strerror})") from None
        finally:
            if self.tmp.exists():
                self.tmp.unlink()
            if self._lock is not None:
                self._lock.release()


#: Marker file of a plain directory painctl wrote (an export in another dataset's layout).
DIRECTORY_MARK = ".painctl-output.json"


class DirectoryOutput:
    """Write a directory that is not an artefact (e.g. an export in another dataset's layout) atomically.

    Same rules as :class:`ArtefactWriter`: lock beside OUT, built in a hidden sibling and renamed
    into place; an existing OUT is replaced only with ``force`` and only if painctl wrote it (its
    marker file ``.painctl-output.json`` lists what it holds and nothing else was added).
    """

    def __init__(self, out: str | os.PathLike, force: bool, inputs: Iterable[Artefact] = (), what: str = "output"):
        self.path = _output_path(out)
        self.what = what
        check_output_place(self.path, inputs)
        if self.path.exists() or self.path.is_symlink():
            if not force:
                raise PainctlError(f"{self.path}: already exists; use {{force=True}} to replace it", params=("force=True",))
            _check_marked_directory(self.path)
        if not _writable(self.path.parent):
            raise PainctlError(f"{self.path.parent}: cannot write the output here (permission denied or read-only)")
        OutputLock.check(self.path)
        self.dir: Path | None = None

    @property
    def where(self) -> str:
        """How messages name the output: its path (a plain directory is never streamed)."""
        return str(self.path)

    @property
    def place(self) -> Path:
        """The directory the output is built in, for disk-space checks."""
        return Path(os.path.abspath(self.path)).parent

    def __enter__(self) -> Path:
        self._lock = OutputLock(self.path)
        _remove_stale_temporaries(self.path)
        try:
            self.dir = hidden_temporary_dir(self.path, self.path.parent)
        except OSError as exc:
            self._lock.release()
            raise PainctlError(f"{self.path.parent}: cannot write the output here ({exc.strerror})") from None
        install_term_handler()
        return self.dir

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.dir is not None
        try:
            if exc_type is None:
                entries = sorted(p.name for p in self.dir.iterdir()) + [DIRECTORY_MARK]
                mark = {"painctl_version": __version__, "what": self.what, "entries": sorted(entries)}
                (self.dir / DIRECTORY_MARK).write_text(json.dumps(mark, indent=2) + "\n")
                _replace_dir(self.dir, self.path)
        except OSError as failure:
            raise PainctlError(f"{self.path}: could not be written ({failure.strerror})") from None
        finally:
            if self.dir.exists():
                shutil.rmtree(self.dir, ignore_errors=True)
            self._lock.release()


def _check_marked_directory(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        raise PainctlError(f"{path}: is {'a symbolic link' if path.is_symlink() else 'a file'}; painctl will not replace it, with or without {{force=True}}", params=("force=True",))
    entries = sorted(p.name for p in path.iterdir())
    if not entries:
        return
    try:
        mark = json.loads((path / DIRECTORY_MARK).read_text())
        known = mark["entries"]
    except (OSError, ValueError, KeyError, TypeError):
        raise PainctlError(f"{path}: is a directory that painctl did not write; painctl will not replace it, with or without {{force=True}}", params=("force=True",)) from None
    foreign = [e for e in entries if e not in known]
    if foreign:
        raise PainctlError(f"{path}: holds {', '.join(foreign[:3])}, which painctl did not write; move it out first")


# ------------------------------------------------------------------------------------ copies

_FICLONE = 0x40049409  # linux/fs.h: share the source's blocks (btrfs, XFS, ...)


def copy_file(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` as an independent file: a reflink where the filesystem has them, else bytes.

    Never a hard link: editing the copy must not edit the source artefact.
    """
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        try:
            fcntl.ioctl(fout.fileno(), _FICLONE, fin.fileno())
            return
        except OSError:
            pass
    shutil.copyfile(src, dst)


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


def hidden_temporary_dir(out: Path, parent: Path) -> Path:
    """Create the hidden sibling directory OUT is built in, with the mode ``mkdir`` would give it.

    ``tempfile.mkdtemp`` makes a 0700 directory, and the rename keeps that mode, so every finished
    artefact would be unreadable to colleagues sharing the disk; the umask decides instead.
    """
    path = Path(tempfile.mkdtemp(prefix=f".{out.name}.painctl-tmp-{os.getpid()}-", dir=parent))
    umask = os.umask(0o022)
    os.umask(umask)
    os.chmod(path, 0o777 & ~umask)
    return path


def _remove_stale_temporaries(out: Path) -> None:
    """Remove temporaries left by interrupted runs writing ``out`` (their process is gone)."""
    for prefix in (f".{out.name}.painctl-tmp-", f".{out.name}.painctl-old-"):
        for stale in out.parent.glob(prefix + "*"):
            pid_text = stale.name[len(prefix):].split("-")[0]
            if pid_text.isdigit() and int(pid_text) != os.getpid() and not pid_alive(int(pid_text)):
                shutil.rmtree(stale, ignore_errors=True)


def _send_stdout(path: Path) -> None:
    try:
        if sys.stdout.isatty():
            raise PainctlError("refusing to stream an artefact to a terminal; pipe it into another painctl stage")
        with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as tar:
            tar.add(path, arcname=path.name, filter=_normalise_tarinfo)
        sys.stdout.buffer.flush()
    finally:
        # Also when the reader went away early (`| head -c 100`): no full copy left in /tmp.
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
        chunks = (rows_per_chunk(array.shape[0], array[0:1].nbytes),) + array.shape[1:]
    ds = h5.create_dataset(name, data=array, chunks=chunks, compression=compression if chunks else None)
    if rows:
        ds.attrs[ROWS_ATTR] = 1
    for key, value in (attrs or {}).items():
        ds.attrs[key] = value
    return ds


#: Row datasets are chunked in blocks of about this many bytes along their first axis: a row read
#: touches one chunk, and a chunk is small enough to cache.
CHUNK_BYTES = 1 << 20


def rows_per_chunk(rows: int, row_bytes: int) -> int:
    """Rows per chunk of a row dataset of ``rows`` rows of ``row_bytes`` bytes each (at least 1)."""
    return max(1, min(rows, CHUNK_BYTES // max(1, row_bytes)))


def create_rows(h5: h5py.File | h5py.Group, name: str, shape: tuple[int, ...], dtype: Any, chunk_rows: int | None = None,
                compression: str | None = None, attrs: Mapping[str, Any] | None = None) -> h5py.Dataset:
    """Create an empty row dataset ``name`` of ``shape`` (first axis: the artefact's rows) to fill in place.

    Chunked as :func:`write_dataset` chunks (about 1 MiB), or ``chunk_rows`` rows per chunk (1 for
    images read one at a time); ``compression`` (gzip, lzf) applies when there are rows at all.
    """
    chunks = None
    if shape[0]:
        row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * np.dtype(dtype).itemsize
        chunks = (chunk_rows or rows_per_chunk(shape[0], row_bytes),) + tuple(shape[1:])
    ds = h5.create_dataset(name, shape=shape, dtype=dtype, chunks=chunks, compression=compression if chunks else None)
    ds.attrs[ROWS_ATTR] = 1
    for key, value in (attrs or {}).items():
        ds.attrs[key] = value
    return ds


def copy_attrs(source: Any, target: Any, skip: Iterable[str] = ()) -> None:
    """Copy the HDF5 attributes of ``source`` onto ``target`` as stored (byte strings stay bytes).

    Both are h5py objects (file, group, dataset) or their ``.attrs``; names in ``skip`` are left out
    (:data:`ROWS_ATTR`, when a dataset that is not a row dataset takes another's attributes).
    """
    src, dst = getattr(source, "attrs", source), getattr(target, "attrs", target)
    skip = set(skip)
    for key in src:
        if key not in skip:
            dst[key] = src[key]
