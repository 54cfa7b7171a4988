"""The Python API as README documents it: the README's example runs as written, and the API's
errors name parameters, not command-line flags."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import painctl
from painctl.errors import PainctlError

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    section = README.read_text().split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_example(), str(README), "exec"), {})
    heat = painctl.open(tmp_path / "api-demo" / "heat")
    assert heat.stage == "heatmap" and heat.rows() == 2 * 3 * 3
    assert (tmp_path / "api-demo" / "sheet.png").stat().st_size > 1000


def test_stages_are_functions_of_the_package_that_return_opened_artefacts(tmp_path):
    heads = painctl.sample_mesh(tmp_path / "heads", n=1, seed=2)
    again = painctl.sample_mesh(tmp_path / "heads", n=1, seed=2)  # a cache hit returns the same artefact
    assert heads.stage == "sample-mesh" and again.path == heads.path
    pain = painctl.rig(str(heads.path), tmp_path / "pain", au="AU4=5")
    assert pain.read("au")[1].tolist() == [5, 0, 0, 0, 0, 0]
    with pytest.raises(PainctlError, match="give exactly one of pspi"):
        painctl.rig(heads, tmp_path / "p2")
    with pytest.raises(PainctlError, match="jobs must be at least 1"):
        painctl.render_views(pain, tmp_path / "v", jobs=0)
    assert not os.path.exists(tmp_path / "p2") and not os.path.exists(tmp_path / "v")
