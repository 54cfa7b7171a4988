"""Shared fixtures: run painctl in-process or as a real subprocess, and build the anny model once."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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
    from painctl.cli import main

    try:
        main([*args])
    except SystemExit as exc:
        assert exc.code in (0, None), f"painctl {' '.join(args)} exited {exc.code}"


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
