"""Shared fixtures: run painctl in-process or as a real subprocess, build the anny model once, and the
chains several test modules read (heads -> rig -> views -> heatmap), each built once per session."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import h5py
import pytest

ROOT = Path(__file__).resolve().parents[1]
# The anny head model is built once per machine into this cache (see Makefile) and reused.
os.environ.setdefault("ANNY_CACHE_DIR", str(ROOT / ".cache" / "anny"))
os.environ.setdefault("WARP_CACHE_PATH", str(ROOT / ".cache" / "warp"))


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def painctl(capsys):
    """Call the CLI in-process: ``painctl("inspect", path)`` -> Result(code, stdout, stderr)."""
    from painctl import console
    from painctl.cli import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            console.verbosity = 0
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return run


def cli(*args: str) -> None:
    """Run ``painctl ARGS`` in-process for a fixture and fail the test unless it exits 0."""
    from painctl import console
    from painctl.cli import main

    try:
        main([*args])
    except SystemExit as exc:
        assert exc.code in (0, None), f"painctl {' '.join(args)} exited {exc.code}"
    finally:
        # -q sets the process-wide verbosity; later tests read messages in the same process.
        console.verbosity = 0


def run_painctl(*args: str, input: bytes | None = None, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``python -m painctl ARGS`` as a real process (for pipes, signals and exit codes)."""
    return subprocess.run(
        [sys.executable, "-m", "painctl", *map(str, args)],
        input=input,
        capture_output=True,
        cwd=cwd,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def anny_model():
    """The painctl face model wrapping anny's head, built (or loaded from cache) once per session."""
    from painctl.facemodels import load_face_model

    return load_face_model("anny")


def read(path: Path) -> dict:
    """Every top-level dataset of the artefact at ``path`` as stored (byte strings stay bytes)."""
    with h5py.File(path / "data.h5") as f:
        return {k: f[k][()] for k in f if isinstance(f[k], h5py.Dataset)}


@pytest.fixture(scope="session")
def hair_rigs(tmp_path_factory) -> Path:
    """Two balanced heads rigged neutral + AU4 = 5 (``<root>/au4``) and neutral + AU43 = 1
    (``<root>/au43``), heads in ``<root>/heads``: the hair, beard and brow tests' faces."""
    root = tmp_path_factory.mktemp("hair")
    cli("-q", "sample-mesh", "-n", "2", "--balance", "gender", "--seed", "3", str(root / "heads"))
    cli("-q", "rig", "--au", "AU4=5", str(root / "heads"), str(root / "au4"))
    cli("-q", "rig", "--au", "AU43=1", str(root / "heads"), str(root / "au43"))
    return root


@pytest.fixture(scope="session")
def rig(tmp_path_factory) -> Path:
    """A rig artefact (``<root>/rig``, its heads beside it): 2 identities, PSPI 4 and 9 each (6 faces)."""
    root = tmp_path_factory.mktemp("chain")
    heads, rig = root / "heads", root / "rig"
    cli("-q", "sample-mesh", "-n", "2", str(heads))
    cli("-q", "rig", "--pspi", "4,9", "--per-identity", "2", str(heads), str(rig))
    return rig


@pytest.fixture(scope="session")
def heat(rig, tmp_path_factory) -> tuple[Path, Path]:
    """(views, heatmap) artefacts of ``rig`` at 64 px in the default three views, without the camera model."""
    root = tmp_path_factory.mktemp("heat")
    # No camera model: test_heatmap's alignment test reads RGB differences pixel by pixel, and JPEG
    # spreads a change over its 8x8 block (test_render_views checks heatmaps under the camera model);
    # studio lights, since a room's lights relight skin the expression tilts by a hair as visibly.
    cli("-q", "render-views", "--size", "64", "--jobs", "1", "--camera-model", "none", "--lighting", "studio", str(rig), str(root / "views"))
    cli("-q", "heatmap", str(root / "views"), str(root / "heat"))
    return root / "views", root / "heat"
