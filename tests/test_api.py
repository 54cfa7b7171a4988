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


@pytest.mark.parametrize(
    "call, param, message",
    [
        (lambda out: painctl.sample_mesh(out, n=0), "n", "n must be a positive number of identities, got 0"),
        (lambda out: painctl.sample_mesh(out, n=2, age_groups="young:40-18"), "age_groups", "age_groups: 'young:40-18' has LOW above HIGH"),
        (lambda out: painctl.rig("nowhere", out, pspi=8, per_identity=0), "per_identity", "per_identity must be at least 1, got 0"),
        (lambda out: painctl.rig("nowhere", out, pspi=8, asymmetry=9), "asymmetry", "asymmetry must be between 0 and 5 FACS levels, got 9"),
        (lambda out: painctl.rig("nowhere", out, pspi="3-99"), "pspi", "pspi: 17 is outside 0-16"),
        (lambda out: painctl.render_views("nowhere", out, pose_jitter=30), "pose_jitter", "pose_jitter must be 0-15 degrees, got 30"),
        (lambda out: painctl.export("nowhere", out, prefix="a b"), "prefix", "prefix must use letters, digits, _ and - only, got 'a b'"),
    ],
)
def test_api_errors_name_the_parameter_as_python_spells_it(tmp_path, call, param, message):
    from painctl.errors import BadValue

    with pytest.raises(BadValue) as info:
        call(tmp_path / "out")
    assert str(info.value) == message and param in info.value.params and "--" not in str(info.value)
    assert not (tmp_path / "out").exists()
