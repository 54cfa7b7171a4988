"""export --format 3dpain: the released layout (meshes_inpainted/, pain-only annotations, identities
from 0000), labels, round trip through our reader, atomic refusal over an existing OUT."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from painctl.datasets import load_frames
from painctl.datasets.threedpain import base_name
from painctl.vitpain.pairs import find_references
from tests.conftest import read


def test_layout_and_labels(painctl, heat, tmp_path):
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


def test_export_round_trips_through_our_reader(painctl, heat, tmp_path):
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


def test_views_without_heatmaps_and_refusal(painctl, heat, rig, tmp_path):
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


def test_textured_views_export_textured_meshes(painctl, rig, tmp_path):
    """Views rendered with a texture: textured_meshes/<base>.obj is the rig row's mesh with the
    identity's texture, found through the artefacts' recorded inputs."""
    import h5py

    heads = rig.parent / "heads"
    assert painctl("-q", "render-neutral", "--size", "64", "--texture-size", "64", heads, tmp_path / "neutral").code == 0
    assert painctl("-q", "texture", "--size", "128", tmp_path / "neutral", tmp_path / "tex").code == 0
    assert painctl("-q", "render-views", "--size", "64", "--jobs", "1", "--views", "0/0", "--texture", tmp_path / "tex", rig, tmp_path / "v").code == 0
    assert painctl("export", tmp_path / "v", tmp_path / "x").code == 0
    meshes = tmp_path / "x" / "textured_meshes"
    assert sorted(p.name for p in meshes.glob("*.obj")) == [f"flame_sample_000{i}_{k}.obj" for i in (0, 1) for k in ("neutral", "pain_1", "pain_2")]
    d = read(tmp_path / "v")
    with h5py.File(rig / "data.h5") as f:
        vertices, faces = f["vertices"][()], f["faces"][()]
    row = int(d["rig_row"][np.flatnonzero(~d["is_neutral"])[0]])  # pain face 1 of identity 0
    obj = [line.split() for line in (meshes / "flame_sample_0000_pain_1.obj").read_text().splitlines()]
    v = np.array([[float(x) for x in parts[1:4]] for parts in obj if parts and parts[0] == "v"])
    from scipy.spatial import cKDTree

    expected = vertices[row][np.unique(faces)]
    assert cKDTree(expected).query(v)[0].max() < 1e-6 and cKDTree(v).query(expected)[0].max() < 1e-6  # the same points
    other = int(d["rig_row"][np.flatnonzero(~d["is_neutral"] & (d["rig_row"] != row))[0]])
    assert cKDTree(vertices[other]).query(v)[0].max() > 1e-4  # and not another face's
    assert any(parts and parts[0] == "vt" for parts in obj)
    assert "map_Kd flame_sample_0000_texture.png" in (meshes / "flame_sample_0000_pain_1.mtl").read_text()
    tex = read(tmp_path / "tex")
    assert (meshes / "flame_sample_0000_texture.png").read_bytes() == (tmp_path / "tex" / tex["texture"][0].decode()).read_bytes()


def test_base_names_match_the_authors_split_file_for_2500_identities():
    """2,500 identities with 10 pain faces each name exactly the 25,000 pain bases of the authors' split
    file (flame_sample_0000..2499 x pain_1..10), plus one neutral base per identity."""
    from painctl.stages.export import base_names

    n, k = 2500, 10
    names = base_names(np.repeat(np.arange(n) * 7 + 3, k + 1), np.arange(n * (k + 1)), np.tile([True] + [False] * k, n))
    pain = {b for b in names if "_pain_" in b}
    assert pain == {f"flame_sample_{i:04d}_pain_{j}" for i in range(n) for j in range(1, k + 1)}
    assert sum(b.endswith("_neutral") for b in names) == n and names[0] == "flame_sample_0000_neutral"
