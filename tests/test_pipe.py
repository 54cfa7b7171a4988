"""The stages pipe as the design promises: the linear pipe a user types runs end to end, references
between artefacts never depend on the working directory, and a failure upstream is said once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PAINCTL = f"{sys.executable} -m painctl"


def sh(command: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=cwd, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})


@pytest.mark.slow
def test_the_linear_pipe_runs_as_typed_and_its_result_stands_alone(tmp_path):
    from painctl.artefact import open_artefact
    from painctl.stages.heatmap import rig_of_views
    from painctl.stages.render_views import texture_for

    p = PAINCTL
    done = sh(f"{p} sample-mesh -n 2 - | {p} render-neutral --size 128 - - | {p} texture --size 256 - - | {p} rig --pspi 8 - - "
              f"| {p} render-views --size 64 - - | {PAINCTL} heatmap - heat/", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("painctl: error") == 0
    # Every stage's summary names stdout (or heat/), never the temporary directory a stream passes through.
    assert len([line for line in done.stderr.splitlines() if line.endswith(("stdout", "(stdout)"))]) == 5, done.stderr
    assert "/tmp/painctl-" not in done.stderr and "/tmp/painctl-" not in "".join(m.read_text() for m in (tmp_path / "heat").rglob("manifest.json"))
    heat = open_artefact(tmp_path / "heat", stage="heatmap")
    assert heat.rows() == 2 * 2 * 3  # identities x (neutral, PSPI 8) x views
    # Everything it was made from travels inside it: the rig, and the texture the views were rendered with.
    os.chdir(tmp_path.parent)
    views = open_artefact(next((tmp_path / "heat" / "inputs").glob("render-views-*")))
    rig = rig_of_views(heat)
    assert rig.stage == "rig" and str(tmp_path / "heat") in str(rig.path)
    texture = texture_for(rig)
    assert texture is not None and texture.stage == "texture"
    assert views.params["texture"] is True  # render-views took the texture from its input
    # Later stages work on it from any directory.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    sheet = sh(f"{PAINCTL} -q contact-sheet ../heat ../sheet.png && {PAINCTL} -q export --format 3dpain ../heat ../export", elsewhere)
    assert sheet.returncode == 0, sheet.stderr
    assert (tmp_path / "export" / "textured_meshes").is_dir() and (tmp_path / "sheet.png").is_file()


def test_references_between_artefacts_never_depend_on_the_working_directory(tmp_path):
    work = tmp_path / "project"
    work.mkdir()
    p = f"{PAINCTL} -q"
    made = sh(f"{p} sample-mesh -n 1 heads && {p} rig --pspi 4 heads pain && {p} render-views --size 48 --views 0/0 pain views", work)
    assert made.returncode == 0, made.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    heat = sh(f"{p} heatmap ../project/views ../project/heat", elsewhere)
    assert heat.returncode == 0, heat.stderr
    # The whole tree moved together still resolves (paths relative to the artefact).
    (tmp_path / "project").rename(tmp_path / "moved")
    again = sh(f"{p} heatmap views heat2", tmp_path / "moved")
    assert again.returncode == 0, again.stderr


def test_a_failure_upstream_is_said_once(tmp_path):
    p = PAINCTL
    done = sh(f"{p} -q sample-mesh -n 2 --seed nope - | {p} rig --pspi 8 - - | {p} render-views - out/", tmp_path)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 2, lines  # the failing stage's reason, then one line from the end of the pipe
    assert "--seed" in lines[0] and lines[1] == "painctl: error: stdin: the upstream stage failed (it sent no artefact)"
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()
