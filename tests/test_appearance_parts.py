"""The part layer of render-views: a registered part is drawn with the head in every frame, follows the
rigged head, is recorded per image, and --without leaves it out."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from painctl.appearance import BUILDERS, Part, parse_without
from painctl.errors import PainctlError


class NoseTag(Part):
    """A small green square 1 cm in front of the nose tip, moving with the head."""


    name = "test-nose-tag"
    label = "test"

    def __init__(self, identity):
        self.tip = identity.landmarks["nose_tip"]

    def meshes(self, vertices, au):
        from painctl.renderer import Mesh

        c = vertices[self.tip] + np.array([0.0, 0.0, 0.01], np.float32)  # painctl meshes: Y up, face towards +Z
        quad = c + np.array([[-0.01, -0.01, 0], [0.01, -0.01, 0], [0.01, 0.01, 0], [-0.01, 0.01, 0]], np.float32)
        return [Mesh(quad, np.array([[0, 1, 2], [0, 2, 3]]), vertex_colors=np.tile([0.0, 1.0, 0.0], (4, 1)), shading=False)]

    def record(self):
        return {"colour": "green"}


@pytest.fixture
def nose_tag():
    BUILDERS["test-nose-tag"] = NoseTag
    yield
    del BUILDERS["test-nose-tag"]


def _green(path: Path) -> int:
    from PIL import Image

    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return int(((rgb[..., 1] > 200) & (rgb[..., 0] < 60) & (rgb[..., 2] < 60)).sum())


def test_a_registered_part_is_drawn_recorded_and_can_be_left_out(nose_tag, tmp_path):
    from painctl.artefact import open_artefact
    from painctl.cli import main
    from painctl.stages.render_views import ViewsRequest, render_views

    heads, rig = tmp_path / "heads", tmp_path / "rig"
    for args in (["-q", "sample-mesh", "-n", "1", str(heads)], ["-q", "rig", "--pspi", "6", str(heads), str(rig)]):
        try:
            main(args)
        except SystemExit as done:
            assert done.code in (0, None)
    with_tag = render_views(open_artefact(rig), tmp_path / "with", ViewsRequest(size=64, views=[(0.0, 0.0)]), jobs=1)
    without = render_views(open_artefact(rig), tmp_path / "without", ViewsRequest(size=64, views=[(0.0, 0.0)], without=("test-nose-tag",)), jobs=1)
    with h5py.File(with_tag / "data.h5") as f:
        images = [x.decode() for x in f["image"][()]]
        records = [json.loads(x) for x in f["appearance"][()]]
    assert all(r["test-nose-tag"] == {"colour": "green"} for r in records)
    assert all(_green(with_tag / im) > 4 for im in images)
    assert all(_green(without / im) == 0 for im in images)
    with h5py.File(without / "data.h5") as f:
        assert all("test-nose-tag" not in json.loads(x) for x in f["appearance"][()])


def test_without_names_only_known_parts(nose_tag):
    assert parse_without("test-nose-tag") == ("test-nose-tag",)
    assert "test-nose-tag" in parse_without("all")
    with pytest.raises(PainctlError, match="unknown part 'wings'"):
        parse_without("wings")
