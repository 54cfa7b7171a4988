"""ViTPain model: backbones (tiny, DINOv3 and DINOv2 from local dirs), LoRA, fusion, pairing, augmentation, loss."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from painctl.datasets.frames import Frame
from painctl.errors import PainctlError
from painctl.vitpain.backbone import resolve_backbone
from painctl.vitpain.config import ModelConfig
from painctl.vitpain.model import build_model
from painctl.vitpain.pairs import find_references, paired_augment, sample_weights
from painctl.vitpain.training import vitpain_loss

MEAN, STD = [0.3, 0.2, 0.1], [0.5, 0.6, 0.7]


def save_hub_model(path, kind="dinov3", preprocessor=True):
    """A tiny randomly initialised DINOv3/DINOv2 saved like a hub model, with non-ImageNet statistics."""
    import transformers

    torch.manual_seed(1)
    if kind == "dinov3":
        config = transformers.DINOv3ViTConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                              patch_size=16, num_register_tokens=4, image_size=32)
        model = transformers.DINOv3ViTModel(config)
    else:
        config = transformers.Dinov2Config(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                           patch_size=16, image_size=32)
        model = transformers.Dinov2Model(config)
    model.save_pretrained(path)
    if preprocessor:
        (path / "preprocessor_config.json").write_text(json.dumps({"image_mean": MEAN, "image_std": STD, "size": {"height": 32, "width": 32}}))
    return model


def test_tiny_forward_uses_dinov3_with_registers_and_heads_ranges():
    import transformers

    torch.manual_seed(0)
    model = build_model(ModelConfig(image_size=32))
    assert isinstance(model.pain_encoder, transformers.DINOv3ViTModel)
    assert model.pain_encoder.config.num_register_tokens == 4 and model.prefix_tokens == 5
    x = torch.rand(3, 3, 32, 32)
    tokens = model.encode(model.pain_encoder, x)
    assert tokens.shape == (3, 1 + 4 + 4, 64)  # CLS, 4 registers, 2x2 patches
    out = model(x, torch.rand(3, 3, 32, 32))
    assert out["pspi"].shape == (3,) and ((out["pspi"] > 0) & (out["pspi"] < 1)).all()
    assert out["logits"].shape == (3, 3) and out["au"].shape == (3, 6) and (out["au"] >= 0).all()
    # The tiny backbone is trained in full: every encoder weight is trainable (but the mask token,
    # which only masked-image pretraining uses).
    assert all(p.requires_grad != ("mask_token" in n) for n, p in model.pain_encoder.named_parameters())


def test_encoders_have_separate_weights_and_reference_matters():
    torch.manual_seed(0)
    model = build_model(ModelConfig(image_size=32))
    pain_params = {p.data_ptr() for p in model.pain_encoder.parameters()}
    assert not pain_params & {p.data_ptr() for p in model.neutral_encoder.parameters()}
    x = torch.rand(2, 3, 32, 32)
    a, b = model(x, torch.rand(2, 3, 32, 32)), model(x, torch.rand(2, 3, 32, 32))
    assert not torch.allclose(a["pspi"], b["pspi"])
    single = build_model(ModelConfig(image_size=32, reference=False))
    assert single.neutral_encoder is None and not hasattr(single, "cross_attention")
    assert single(x)["pspi"].shape == (2,)


def test_au_queries_read_patch_tokens_only():
    torch.manual_seed(0)
    model = build_model(ModelConfig(image_size=32, reference=False)).eval()
    seen = {}

    def hook(module, args, output):
        seen["keys"] = args[1].shape

    model.au_attention.register_forward_hook(hook)
    model(torch.rand(2, 3, 32, 32))
    assert seen["keys"] == (2, 4, 64)  # 2x2 patches, no CLS, no registers


@pytest.mark.parametrize("kind", ["dinov3", "dinov2"])
def test_hub_backbone_from_local_dir_is_frozen_with_lora_and_uses_its_statistics(tmp_path, kind):
    saved = save_hub_model(tmp_path / kind, kind)
    spec = resolve_backbone(str(tmp_path / kind))
    assert spec.pretrained and list(spec.mean) == MEAN and list(spec.std) == STD
    model = build_model(ModelConfig(backbone=str(tmp_path / kind), image_size=32))
    assert model.prefix_tokens == (5 if kind == "dinov3" else 1)
    trainable = [n for n, p in model.pain_encoder.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable} == {"q_proj", "v_proj"}
    # Pretrained weights were loaded, and LoRA starts as the identity (B = 0): the encoder equals the
    # saved model run on the input normalised with the preprocessor's mean/std (not ImageNet's).
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        ours = model.encode(model.pain_encoder, x)
        reference = saved.eval()(pixel_values=(x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)).last_hidden_state
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)
    names = {n for n in model.trainable_state_dict()}
    assert not any(n.startswith("pain_encoder") and "lora_" not in n for n in names)


def test_hub_backbone_errors_name_what_is_missing(tmp_path):
    with pytest.raises(PainctlError, match="not in the local Hugging Face cache"):
        resolve_backbone("nobody/no-such-dinov3")
    save_hub_model(tmp_path / "m", preprocessor=False)
    with pytest.raises(PainctlError, match="preprocessor_config.json"):
        resolve_backbone(str(tmp_path / "m"))
    (tmp_path / "m" / "model.safetensors").unlink()
    with pytest.raises(PainctlError, match="no weights"):
        resolve_backbone(str(tmp_path / "m"))
    (tmp_path / "vit").mkdir()
    (tmp_path / "vit" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(PainctlError, match="bert model"):
        resolve_backbone(str(tmp_path / "vit"))


def _frame(subject, pspi, view="", neutral=False, name=None):
    return Frame(image=f"/x/{name or f'{subject}_{view}_{pspi}'}.png", subject=subject, pspi=pspi, view=view, is_neutral=neutral, key=name or "")


def test_references_same_subject_and_view_neutral_with_documented_fallback(capsys):
    frames = [
        _frame("a", 0, "v1", neutral=True), _frame("a", 0, "v2", neutral=True), _frame("a", 4, "v1"), _frame("a", 4, "v2"),
        _frame("b", 0, "v1", name="b0"), _frame("b", 0, "v1", name="b0bis"), _frame("b", 3, "v1"),
        _frame("c", 2, "v1"), _frame("c", 5, "v1"),
    ]
    refs = find_references(frames)
    assert refs[2] == [0] and refs[3] == [1]  # same identity, same view, the neutral render
    assert refs[4] == [5] and refs[5] == [4]  # never its own reference when another exists
    assert refs[6] == [4, 5]
    assert refs[8] == [7]  # no PSPI-0 frame: the subject's lowest-PSPI frame, with a warning
    assert "subject c has no PSPI-0 frame" in capsys.readouterr().err
    with pytest.raises(PainctlError, match="subject c has no PSPI-0 frame"):
        find_references(frames, fallback="error")
    anonymous = [_frame("", 0, name="ref1"), _frame("", 0, name="ref2")]
    assert find_references([_frame("", 0, name="img")], anonymous) == [[0, 1]]
    with pytest.raises(PainctlError, match="no neutral reference"):
        find_references([_frame("z", 3)], [_frame("a", 0)])


def test_paired_augmentation_shares_one_geometric_transform():
    img = torch.zeros(3, 32, 32)
    img[:, 4:14, 6:20] = 1.0
    rng = np.random.default_rng
    pain, neutral = paired_augment(img, img.clone(), rng(3), photometric=False)
    torch.testing.assert_close(pain, neutral)  # same transform on both
    assert not torch.allclose(pain, img)  # and it did transform
    other, _ = paired_augment(img, img.clone(), rng(4), photometric=False)
    assert not torch.allclose(other, pain)
    # Colour jitter is drawn per image; the geometry stays shared (edges in the same places).
    pain_j, neutral_j = paired_augment(img, img.clone(), rng(3), photometric=True)
    assert not torch.allclose(pain_j, neutral_j)
    edges = lambda t: (t.mean(0) > t.mean(0).mean()).float()  # noqa: E731
    assert (edges(pain_j) != edges(neutral_j)).float().mean() < 0.02
    # Reproducible from the seed.
    torch.testing.assert_close(paired_augment(img, img.clone(), rng(3))[0], pain_j)


def test_loss_masks_unknown_aus_and_weights_pain_frames():
    out = {"pspi": torch.tensor([0.5, 0.25]), "logits": torch.zeros(2, 3), "au": torch.full((2, 6), 0.9)}
    batch = {"pspi": torch.tensor([0.5, 0.25]), "pain_labels": torch.zeros(2, 3), "au": torch.zeros(2, 6), "au_mask": torch.zeros(2, 6, dtype=torch.bool)}
    loss, parts = vitpain_loss(out, batch, au_weight=1.0)
    assert parts["au"] == 0 and parts["pspi"] == 0
    assert loss.item() == pytest.approx(np.log(2), rel=1e-5)  # BCE of logit 0
    batch["au_mask"][0, 0] = True
    assert vitpain_loss(out, batch, au_weight=0.1)[1]["au"] == pytest.approx(0.81)
    weights = sample_weights([_frame("a", 0), _frame("a", 1), _frame("a", 0.5), _frame("a", 7)])
    assert weights.tolist() == [1.0, 2.0, 1.0, 2.0]


def test_hub_id_resolves_from_the_local_cache_only(tmp_path):
    import subprocess
    import sys

    snapshot = tmp_path / "hub" / "models--painctl--tiny-dinov3" / "snapshots" / "0123abc"
    save_hub_model(snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0123abc")
    code = (
        "from painctl.vitpain.config import ModelConfig; from painctl.vitpain.model import build_model; "
        "m = build_model(ModelConfig(backbone='painctl/tiny-dinov3', image_size=32)); "
        "print(m.spec.source, m.pixel_mean.flatten().tolist(), m.prefix_tokens)"
    )
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    source, mean, prefix = res.stdout.rsplit(" ", 1)[0].split(" ", 1)[0], res.stdout.split("[")[1].split("]")[0], res.stdout.split()[-1]
    assert source == "painctl/tiny-dinov3" and prefix == "5"
    assert [round(float(v), 4) for v in mean.split(",")] == MEAN
