"""Kandinsky 2.2 inpainting and offline loading, with tiny random pipelines built from configs."""

import numpy as np
import pytest

from painctl.errors import PainctlError

pytest.importorskip("diffusers")


@pytest.fixture(scope="module")
def tiny_inpaint(tmp_path_factory):
    from tiny_pipelines import build_inpaint

    return build_inpaint(tmp_path_factory.mktemp("models") / "inpaint")


def test_inpaint_fills_only_the_mask(tiny_inpaint):
    from painctl.diffusion.inpaint import inpaint

    rng = np.random.default_rng(0)
    images = rng.random((2, 64, 64, 3)).astype(np.float32)
    masks = np.zeros((2, 64, 64), bool)
    masks[0, :, :20] = True
    masks[1, 40:, :] = True
    out = inpaint(images, masks, ["a photo of a man", "a photo of a woman"], model=str(tiny_inpaint), steps=2, seed=3)
    assert out.shape == images.shape and out.dtype == np.float32
    assert np.all((out >= 0) & (out <= 1))
    np.testing.assert_allclose(out[~masks], images[~masks], atol=1e-6)
    # The masked part is the decoder's, not the input.
    assert np.abs(out[masks] - images[masks]).mean() > 0.05
    again = inpaint(images, masks, ["a photo of a man", "a photo of a woman"], model=str(tiny_inpaint), steps=2, seed=3)
    np.testing.assert_array_equal(out, again)


def test_inpaint_bad_model_path(tmp_path):
    from painctl.diffusion.inpaint import inpaint

    with pytest.raises(PainctlError, match="no such model directory"):
        inpaint(np.zeros((1, 64, 64, 3)), np.ones((1, 64, 64), bool), ["x"], model=str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(PainctlError, match="model_index.json is missing"):
        inpaint(np.zeros((1, 64, 64, 3)), np.ones((1, 64, 64), bool), ["x"], model=str(tmp_path / "empty"))


def test_hub_id_not_in_cache_is_one_clear_error(tmp_path, monkeypatch):
    from painctl.diffusion.loading import load_pipeline

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PainctlError, match="cannot load KandinskyV22InpaintPipeline offline"):
        load_pipeline("KandinskyV22InpaintPipeline", "nobody/no-such-model", "--model")


def test_inpaint_shape_checks():
    from painctl.diffusion.inpaint import inpaint

    with pytest.raises(PainctlError, match="masks must have shape"):
        inpaint(np.zeros((1, 64, 64, 3)), np.ones((1, 32, 64), bool), ["x"], model="unused")
    with pytest.raises(PainctlError, match="multiple of 8"):
        inpaint(np.zeros((1, 60, 64, 3)), np.ones((1, 60, 64), bool), ["x"], model="unused")


def test_missing_component_wrong_pipeline_and_pickled_weights_are_named(tiny_inpaint, tmp_path, painctl):
    import shutil

    from painctl.diffusion.loading import load_pipeline

    with pytest.raises(PainctlError, match="is a KandinskyV22InpaintPipeline pipeline, expected a KandinskyV22ControlnetPipeline"):
        load_pipeline("KandinskyV22ControlnetPipeline", str(tiny_inpaint), "--model")
    broken = tmp_path / "no-movq"
    shutil.copytree(tiny_inpaint, broken)
    shutil.rmtree(broken / "movq")
    with pytest.raises(PainctlError, match=r"component 'movq' \(VQModel\) is missing"):
        load_pipeline("KandinskyV22InpaintPipeline", str(broken), "--model")
    pickled = tmp_path / "pickled"
    shutil.copytree(tiny_inpaint, pickled)
    for weights in (pickled / "unet").glob("*.safetensors"):
        weights.rename(weights.with_suffix(".bin"))
    with pytest.raises(PainctlError, match="component 'unet' .* no .safetensors weights"):
        load_pipeline("KandinskyV22InpaintPipeline", str(pickled), "--model")
