"""export --format 3dpain: the released layout, labels, atomic refusal over an existing OUT."""

from __future__ import annotations

import json

import numpy as np

from tests.test_heatmap import heat  # noqa: F401  (module fixtures reused)
from tests.test_render_views import read, rig  # noqa: F401


def test_layout_and_labels(painctl, heat, tmp_path):  # noqa: F811
    views, out = heat
    result = painctl("export", "--format", "3dpain", str(out), str(tmp_path / "x"))
    assert result.code == 0, result.stderr
    images = sorted(p.name for p in (tmp_path / "x" / "images").iterdir())
    assert len(images) == 18 and "flame_sample_0001_neutral_view_000.png" in images and "flame_sample_0002_pain_2_view_002.png" in images
    assert sorted(p.name for p in (tmp_path / "x" / "heatmaps").iterdir()) == images
    d = read(views)
    notes = sorted((tmp_path / "x" / "annotations").iterdir())
    assert len(notes) == 6
    for path in notes:
        labels = json.loads(path.read_text())
        assert list(labels) == ["AU4", "AU6", "AU7", "AU9", "AU10", "AU43", "PSPI"]
        assert labels["PSPI"] == labels["AU4"] + max(labels["AU6"], labels["AU7"]) + max(labels["AU9"], labels["AU10"]) + labels["AU43"]
        assert (labels["PSPI"] == 0) == ("neutral" in path.name)
    # The frontal image of pain face 1 of identity 1 is the first pain row's frontal image.
    i = int(np.flatnonzero(~d["is_neutral"] & (d["view"] == b"yaw+0_pitch+0"))[0])
    assert (views / d["image"][i].decode()).read_bytes() == (tmp_path / "x" / "images" / "flame_sample_0001_pain_1_view_000.png").read_bytes()


def test_views_without_heatmaps_and_refusal(painctl, heat, rig, tmp_path):  # noqa: F811
    views, _ = heat
    assert painctl("export", str(views), str(tmp_path / "y")).code == 0
    assert not (tmp_path / "y" / "heatmaps").exists()
    result = painctl("export", str(views), str(tmp_path / "y"))
    assert result.code == 1 and "already exists" in result.stderr
    assert painctl("export", "--force", "--prefix", "anny_sample", str(views), str(tmp_path / "y")).code == 0
    assert (tmp_path / "y" / "annotations" / "anny_sample_0001_neutral_annotations.json").is_file()
    result = painctl("export", str(rig), str(tmp_path / "z"))
    assert result.code == 1 and "expected 'render-views' or 'heatmap'" in result.stderr and not (tmp_path / "z").exists()
