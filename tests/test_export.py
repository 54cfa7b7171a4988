"""export --format 3dpain: the released layout (meshes_inpainted/, pain-only annotations, identities
from 0000), labels, round trip through our reader, atomic refusal over an existing OUT."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from painctl.datasets import load_frames
from painctl.datasets.threedpain import base_name
from painctl.vitpain.pairs import find_references
from tests.test_heatmap import heat  # noqa: F401  (module fixtures reused)
from tests.test_render_views import read, rig  # noqa: F401


def test_layout_and_labels(painctl, heat, tmp_path):  # noqa: F811
    views, out = heat
    result = painctl("export", "--format", "3dpain", str(out), str(tmp_path / "x"))
    assert result.code == 0, result.stderr
    root = tmp_path / "x"
    assert not (root / "images").exists()
    images = sorted(p.name for p in (root / "meshes_inpainted").iterdir())
    assert len(images) == 18 and "flame_sample_0000_neutral_view_000.png" in images and "flame_sample_0001_pain_2_view_002.png" in images
    assert not any(name.startswith("flame_sample_0002") for name in images)  # 2 identities: 0000 and 0001
    assert sorted(p.name for p in (root / "heatmaps").iterdir()) == images
    d = read(views)
    notes = sorted(p.name for p in (root / "annotations").iterdir())
    # Pain faces only: the authors' loader finds neutral images by name (a neutral JSON doubles them).
    assert notes == [f"flame_sample_000{i}_pain_{j}_annotations.json" for i in (0, 1) for j in (1, 2)]
    for name in notes:
        labels = json.loads((root / "annotations" / name).read_text())
        assert list(labels) == ["AU4", "AU6", "AU7", "AU9", "AU10", "AU43", "PSPI"]
        assert labels["PSPI"] == labels["AU4"] + max(labels["AU6"], labels["AU7"]) + max(labels["AU9"], labels["AU10"]) + labels["AU43"]
        assert labels["PSPI"] > 0
    # Every image's base (cut as the release's loader cuts it) is a pain base with a JSON or a neutral one.
    bases = {base_name(Path(n).stem) for n in images}
    assert bases == {n[: -len("_annotations.json")] for n in notes} | {"flame_sample_0000_neutral", "flame_sample_0001_neutral"}
    # The frontal image of pain face 1 of identity 0 is the first pain row's frontal image.
    i = int(np.flatnonzero(~d["is_neutral"] & (d["view"] == b"yaw+0_pitch+0"))[0])
    assert (views / d["image"][i].decode()).read_bytes() == (root / "meshes_inpainted" / "flame_sample_0000_pain_1_view_000.png").read_bytes()


def test_export_round_trips_through_our_reader(painctl, heat, tmp_path):  # noqa: F811
    """Our export, read back by our 3D-Pain reader: the same frames, labels, views and neutral pairs as
    the artefact it came from (compared by image bytes)."""
    _, out = heat
    assert painctl("export", str(out), str(tmp_path / "x")).code == 0
    source, exported = load_frames(out), load_frames(tmp_path / "x")
    assert len(source) == len(exported) == 18
    by_bytes = {f.image.read_bytes(): f for f in exported}
    assert len(by_bytes) == 18  # every rendered image is distinct, so bytes identify a frame
    subjects, views = {}, {}
    for f in source:
        g = by_bytes[f.image.read_bytes()]
        assert g.is_neutral == f.is_neutral and g.pspi == f.pspi
        np.testing.assert_array_equal(g.au, f.au)
        assert subjects.setdefault(f.subject, g.subject) == g.subject  # one exported identity per source identity
        assert views.setdefault(f.view, g.view) == g.view
        assert g.heatmap is not None and g.heatmap.read_bytes() == f.heatmap.read_bytes()
    assert len(set(subjects.values())) == 2 and sorted(set(views.values())) == ["view_000", "view_001", "view_002"]
    # Same-view neutral references: the same image pairs on both sides.
    pairs = lambda frames: {(frames[i].image.read_bytes(), frames[j].image.read_bytes()) for i, refs in enumerate(find_references(frames)) for j in refs}  # noqa: E731
    assert pairs(source) == pairs(exported)


def test_views_without_heatmaps_and_refusal(painctl, heat, rig, tmp_path):  # noqa: F811
    views, _ = heat
    assert painctl("export", str(views), str(tmp_path / "y")).code == 0
    assert not (tmp_path / "y" / "heatmaps").exists() and not (tmp_path / "y" / "textured_meshes").exists()
    result = painctl("export", str(views), str(tmp_path / "y"))
    assert result.code == 1 and "already exists" in result.stderr
    assert painctl("export", "--force", "--prefix", "anny_sample", str(views), str(tmp_path / "y")).code == 0
    assert (tmp_path / "y" / "annotations" / "anny_sample_0000_pain_1_annotations.json").is_file()
    assert (tmp_path / "y" / "meshes_inpainted" / "anny_sample_0000_neutral_view_000.png").is_file()
    result = painctl("export", str(rig), str(tmp_path / "z"))
    assert result.code == 1 and "expected 'render-views' or 'heatmap'" in result.stderr and not (tmp_path / "z").exists()
