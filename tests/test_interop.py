"""Interop with the authors' release: their dataset layout trains and evaluates, their split file is
honoured, and their Lightning ViTPain checkpoint converts without running pickle code and reproduces
their forward pass.

Everything here is built from the facts (../shared/FACTS.md and the authors' parameter names and
shapes): a tree in the released naming, a split CSV, and a Lightning checkpoint with their key names,
shapes and structure at tiny sizes. The reference forward below is written from their architecture's
description, on the raw timm/peft-named tensors, independently of painctl's model code.
"""

from __future__ import annotations

import json
import math
import sys
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from painctl.datasets import load_frames
from painctl.datasets.splits import read_split_csv, split_by_base
from painctl.errors import PainctlError
from tests.test_train import face_image

WIDTH, LAYERS, MLP, REGISTERS, PATCH, RANK, ALPHA = 128, 2, 256, 4, 16, 8, 16
SCALE = ALPHA / RANK


# ----------------------------------------------------------------------------- the released layout


def released_tree(root: Path, identities: int = 6, levels=(1, 2, 3), views: int = 2, size: int = 32) -> Path:
    """A tree as released: meshes_inpainted/ with pain images named ..._textured_view_NNN_inpainted.jpg
    and neutral images ..._view_NNN.png, annotations/ for pain bases only, some without PSPI."""
    (root / "meshes_inpainted").mkdir(parents=True)
    (root / "annotations").mkdir()
    for i in range(identities):
        subject = f"flame_sample_{i:04d}"
        for v in range(views):
            Image.fromarray(face_image(1000 * i + v, 0, size)).save(root / "meshes_inpainted" / f"{subject}_neutral_view_{v:03d}.png")
        for j, level in enumerate(levels, 1):
            au4 = min(level, 5)
            labels = {"AU4": au4, "AU6": 0, "AU7": level - au4, "AU9": 0, "AU10": 0, "AU43": 0}
            if j % 2:
                labels["PSPI"] = level
            (root / "annotations" / f"{subject}_pain_{j}_annotations.json").write_text(json.dumps(labels))
            for v in range(views):
                Image.fromarray(face_image(1000 * i + v, level, size)).save(
                    root / "meshes_inpainted" / f"{subject}_pain_{j}_textured_view_{v:03d}_inpainted.jpg", quality=95)
    return root


def split_file(path: Path, train=range(4), val=(4,), test=(5,), extra=("flame_sample_0099_pain_1,2",), levels=3) -> Path:
    rows = ["annotation_base_name,split"]
    for split, ids in ((0, train), (1, val), (2, test)):
        rows += [f"flame_sample_{i:04d}_pain_{j},{split}" for i in ids for j in range(1, levels + 1)]
    path.write_text("\n".join(rows + list(extra)) + "\n")
    return path


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return released_tree(tmp_path_factory.mktemp("released") / "pain_faces")


def test_released_tree_pairs_pain_with_same_view_neutral(tree):
    frames = load_frames(tree)
    assert len(frames) == 6 * 4 * 2
    from painctl.vitpain.pairs import find_references

    refs = find_references(frames, fallback="error")
    for frame, options in zip(frames, refs):
        if not frame.is_neutral:
            assert [frames[j].key for j in options] == [f"{frame.subject}_neutral_{frame.view}.png"]
    assert {f.pspi for f in frames if not f.is_neutral} == {1, 2, 3}  # PSPI computed where the JSON has none


def test_split_csv_by_base_name(tree, tmp_path, capsys):
    from painctl import console

    console.verbosity = 0
    train, val, test = split_by_base(load_frames(tree), split_file(tmp_path / "s.csv"))
    assert {f.subject for f in train} == {f"flame_sample_{i:04d}" for i in range(4)}
    assert {f.subject for f in val} == {"flame_sample_0004"} and {f.subject for f in test} == {"flame_sample_0005"}
    assert len(train) == 4 * 8 and sum(f.is_neutral for f in test) == 2  # neutral faces go with their identity
    err = capsys.readouterr().err
    assert "1 of 19 base names" in err and "flame_sample_0099_pain_1" in err and err.count("note:") == 1
    # Train/val/test names work as well as the authors' 0/1/2.
    (tmp_path / "n.csv").write_text("annotation_base_name,split\nflame_sample_0000_pain_1,train\nflame_sample_0001_pain_1,test\n")
    assert read_split_csv(tmp_path / "n.csv") == {"flame_sample_0000_pain_1": "train", "flame_sample_0001_pain_1": "test"}


@pytest.mark.parametrize(
    "text, message",
    [
        ("annotation_base_name,split\nflame_sample_0000_pain_1,0\nflame_sample_0000_pain_2,2\n",
         r"identity flame_sample_0000 is in more than one split \(flame_sample_0000_pain_2 in test, flame_sample_0000_pain_1 in train\)"),
        ("base,fold\nflame_sample_0000_pain_1,0\n", "expected a CSV with columns annotation_base_name,split"),
        ("annotation_base_name,split\nflame_sample_0000_pain_1,7\n", r"line 2: split must be 0/1/2 or train/val/test"),
        ("annotation_base_name,split\nflame_sample_0000_pain_1,0\nflame_sample_0000_pain_1,1\n", "listed in both train and val"),
    ],
)
def test_split_csv_refusals(tree, tmp_path, text, message):
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(PainctlError, match=message):
        split_by_base(load_frames(tree), tmp_path / "bad.csv")


@pytest.fixture(scope="module")
def trained(tree, tmp_path_factory):
    from painctl.cli import main

    root = tmp_path_factory.mktemp("run")
    split = split_file(root / "split.csv")
    try:
        main(["-q", "train", "--split-csv", str(split), "--epochs", "1", "--batch-size", "8", "--image-size", "32", str(tree), str(root / "run")])
    except SystemExit as exc:
        assert exc.code in (0, None)
    return root / "run" / "best", split


def test_their_tree_trains_on_the_split(trained):
    best, _ = trained
    info = json.loads((best / "training.json").read_text())
    assert info["train_subjects"] == [f"flame_sample_{i:04d}" for i in range(4)]
    assert info["val_subjects"] == ["flame_sample_0004"] and info["n_train_frames"] == 32 and info["n_val_frames"] == 8


@pytest.mark.slow
def test_their_tree_evaluates_on_the_split_with_both_scorings(painctl, tree, trained, tmp_path):
    _, split = trained
    result = painctl("eval", "--split-csv", split, "--epochs", "1", "--batch-size", "8", "--image-size", "32", tree, tmp_path / "r")
    assert result.code == 0, result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    (fold,) = report["folds"]
    assert fold["test_subjects"] == ["flame_sample_0005"] and fold["val_subjects"] == ["flame_sample_0004"]
    assert fold["train_subjects"] == [f"flame_sample_{i:04d}" for i in range(4)] and fold["n_test_frames"] == 8
    assert report["split"] == "fixed train/validation/test split"
    # AUROC/F1 from the binary heads and from the PSPI regression output, both reported and named.
    rows = (tmp_path / "r" / "predictions.csv").read_text().splitlines()[1:]
    true = np.array([float(r.split(",")[3]) for r in rows])
    pred = np.array([float(r.split(",")[10]) for r in rows])
    from sklearn.metrics import roc_auc_score

    assert fold["metrics"]["auroc_reg_1"] == pytest.approx(roc_auc_score(true >= 1, pred), abs=1e-6)
    cut = fold["pspi_cuts"][0]
    assert fold["metrics"]["f1_reg_1"] == pytest.approx(2 * np.sum((pred >= cut) & (true >= 1)) / (np.sum(pred >= cut) + np.sum(true >= 1)))
    assert "| AUROC @ PSPI>=1 (PSPI regression) |" in result.stdout and "| AUROC @ PSPI>=1 |" in result.stdout


def test_split_csv_needs_a_threedpain_tree(painctl, tmp_path):
    from unbc_tree import make_unbc_tree

    unbc = make_unbc_tree(tmp_path / "UNBC", n_subjects=2, n_sequences=1, n_frames=3)
    split = split_file(tmp_path / "s.csv")
    result = painctl("train", "--split-csv", split, unbc, tmp_path / "run")
    assert result.code == 2 and "every DATA must be a 3D-Pain tree" in result.stderr


# ------------------------------------------------------------------------- the authors' checkpoint


def _lora(prefix: str, shape_out: int, shape_in, gen, state: dict, bias: bool, conv: bool = False) -> None:
    """peft's names for a LoRA-wrapped Linear/Conv2d: base_layer (the frozen weight), lora_A, lora_B."""
    if conv:
        state[f"{prefix}.base_layer.weight"] = torch.randn(shape_out, 3, PATCH, PATCH, generator=gen) * 0.05
        state[f"{prefix}.lora_A.default.weight"] = torch.randn(RANK, 3, PATCH, PATCH, generator=gen) * 0.05
        state[f"{prefix}.lora_B.default.weight"] = torch.randn(shape_out, RANK, 1, 1, generator=gen) * 0.05
    else:
        state[f"{prefix}.base_layer.weight"] = torch.randn(shape_out, shape_in, generator=gen) / math.sqrt(shape_in)
        state[f"{prefix}.lora_A.default.weight"] = torch.randn(RANK, shape_in, generator=gen) / math.sqrt(shape_in)
        state[f"{prefix}.lora_B.default.weight"] = torch.randn(shape_out, RANK, generator=gen) * 0.05
    if bias:
        state[f"{prefix}.base_layer.bias"] = torch.randn(shape_out, generator=gen) * 0.02


def authors_state_dict(seed: int = 0, reference: bool = True) -> OrderedDict:
    """A state_dict with the key names and shapes of the authors' ViTPain (timm DINOv3 under peft LoRA on
    'qkv' and 'proj', their heads), at a tiny width."""
    gen = torch.Generator().manual_seed(seed)
    state: OrderedDict = OrderedDict()
    d = WIDTH
    for enc in ("vit_model",) + (("neutral_encoder",) if reference else ()):
        m = f"{enc}.base_model.model"
        state[f"{m}.cls_token"] = torch.randn(1, 1, d, generator=gen) * 0.5
        state[f"{m}.reg_token"] = torch.randn(1, REGISTERS, d, generator=gen) * 0.5
        _lora(f"{m}.patch_embed.proj", d, 3, gen, state, bias=True, conv=True)
        for i in range(LAYERS):
            b = f"{m}.blocks.{i}"
            state[f"{b}.norm1.weight"] = 1 + 0.1 * torch.randn(d, generator=gen)
            state[f"{b}.norm1.bias"] = 0.1 * torch.randn(d, generator=gen)
            _lora(f"{b}.attn.qkv", 3 * d, d, gen, state, bias=False)
            _lora(f"{b}.attn.proj", d, d, gen, state, bias=True)
            state[f"{b}.gamma_1"] = 0.5 + 0.1 * torch.randn(d, generator=gen)
            state[f"{b}.norm2.weight"] = 1 + 0.1 * torch.randn(d, generator=gen)
            state[f"{b}.norm2.bias"] = 0.1 * torch.randn(d, generator=gen)
            state[f"{b}.mlp.fc1.weight"] = torch.randn(MLP, d, generator=gen) / math.sqrt(d)
            state[f"{b}.mlp.fc1.bias"] = 0.02 * torch.randn(MLP, generator=gen)
            state[f"{b}.mlp.fc2.weight"] = torch.randn(d, MLP, generator=gen) / math.sqrt(MLP)
            state[f"{b}.mlp.fc2.bias"] = 0.02 * torch.randn(d, generator=gen)
            state[f"{b}.gamma_2"] = 0.5 + 0.1 * torch.randn(d, generator=gen)
        state[f"{m}.norm.weight"] = 1 + 0.1 * torch.randn(d, generator=gen)
        state[f"{m}.norm.bias"] = 0.1 * torch.randn(d, generator=gen)

    def linear(name, n_out, n_in):
        state[f"{name}.weight"] = torch.randn(n_out, n_in, generator=gen) / math.sqrt(n_in)
        state[f"{name}.bias"] = 0.05 * torch.randn(n_out, generator=gen)

    def norm(name):
        state[f"{name}.weight"] = 1 + 0.1 * torch.randn(d, generator=gen)
        state[f"{name}.bias"] = 0.1 * torch.randn(d, generator=gen)

    if reference:
        state["neutral_cross_attn.in_proj_weight"] = torch.randn(3 * d, d, generator=gen) / math.sqrt(d)
        state["neutral_cross_attn.in_proj_bias"] = 0.05 * torch.randn(3 * d, generator=gen)
        linear("neutral_cross_attn.out_proj", d, d)
        norm("neutral_norm")
    norm("pspi_head.0")
    linear("pspi_head.2", 512, d)
    linear("pspi_head.5", 256, 512)
    linear("pspi_head.8", 128, 256)
    linear("pspi_head.11", 1, 128)
    for level in ("1", "2", "3"):
        norm(f"pspi_binary_heads.{level}.0")
        linear(f"pspi_binary_heads.{level}.2", 1, d)
    norm("au_shared_features.0")
    linear("au_shared_features.2", 512, d)
    state["au_queries"] = torch.randn(6, d, generator=gen)
    linear("au_head", 1, 512)
    return state


def _fake_lightning_module():
    """Lightning's AttributeDict under its real module path, so the pickle names it as Lightning's does."""
    names = ["pytorch_lightning", "pytorch_lightning.utilities", "pytorch_lightning.utilities.parsing"]
    modules = {n: types.ModuleType(n) for n in names}

    class AttributeDict(dict):
        pass

    AttributeDict.__module__ = "pytorch_lightning.utilities.parsing"
    AttributeDict.__qualname__ = "AttributeDict"
    modules["pytorch_lightning.utilities.parsing"].AttributeDict = AttributeDict
    return modules, AttributeDict


def write_lightning_checkpoint(path: Path, state: OrderedDict, reference: bool = True, payload=None, zipped: bool = True) -> Path:
    """torch.save a dict with the structure of a PyTorch Lightning 2.x checkpoint around ``state``."""
    modules, attribute_dict = _fake_lightning_module()
    saved = {n: sys.modules.get(n) for n in modules}
    sys.modules.update(modules)
    try:
        hparams = attribute_dict(model_name="timm/vit_test_patch16_dinov3.sat493m", num_classes=1, num_au_features=6, learning_rate=1e-4,
                                 weight_decay=0.1, max_epochs=150, au_loss_weight=1.0, pspi_loss_weight=1.0, dropout_rate=0.5,
                                 lora_rank=RANK, lora_alpha=ALPHA, test_stage_name="test", use_neutral_reference=reference)
        first = next(iter(state.values()))
        data = {
            "epoch": 141, "global_step": 52122, "pytorch-lightning_version": "2.5.1",
            "state_dict": state,
            "loops": {"fit_loop": {"state_dict": {}, "epoch_loop.state_dict": {"_batches_that_stepped": 52122},
                                   "epoch_progress": {"total": {"ready": 142, "completed": 141}}}},
            "callbacks": {
                "ModelCheckpoint{'monitor': 'val/regression/mae', 'mode': 'min', 'every_n_train_steps': 0, 'every_n_epochs': 1, 'train_time_interval': None}": {
                    "monitor": "val/regression/mae", "best_model_score": torch.tensor(1.859), "best_model_path": "/x/vitpain-epoch=141.ckpt",
                    "current_score": torch.tensor(1.859), "dirpath": "/x", "best_k_models": {"/x/vitpain-epoch=141.ckpt": torch.tensor(1.859)},
                    "kth_best_model_path": "", "kth_value": torch.tensor(float("inf")), "last_model_path": ""},
            },
            "optimizer_states": [{"state": {0: {"step": torch.tensor(52122.0), "exp_avg": torch.zeros_like(first), "exp_avg_sq": torch.zeros_like(first)}},
                                  "param_groups": [{"lr": 1e-5, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.1, "amsgrad": False,
                                                    "foreach": None, "maximize": False, "capturable": False, "differentiable": False,
                                                    "fused": None, "initial_lr": 1e-5, "params": [0]}]}],
            "lr_schedulers": [{"T_max": 150, "eta_min": 1e-6, "base_lrs": [1e-5, 1e-4], "last_epoch": 141, "_step_count": 142,
                               "_get_lr_called_within_step": False, "_last_lr": [1.2e-6, 1.2e-5]}],
            "native_amp_scaling_state": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000, "_growth_tracker": 7},
            "hparams_name": "kwargs",
            "hyper_parameters": hparams,
        }
        if payload is not None:
            data["extra"] = payload
        torch.save(data, path, _use_new_zipfile_serialization=zipped)
    finally:
        for n, module in saved.items():
            if module is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = module
    return path


def reference_forward(state: dict, pain: torch.Tensor, neutral: torch.Tensor | None, heads: int = 2):
    """The authors' forward pass on their raw tensors (LoRA unmerged): ImageNet-normalised input,
    patch embedding + CLS only, no position embedding, timm blocks, final norm; their heads."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def lora_linear(x, p):
        y = F.linear(x, state[f"{p}.base_layer.weight"], state.get(f"{p}.base_layer.bias"))
        return y + SCALE * F.linear(F.linear(x, state[f"{p}.lora_A.default.weight"]), state[f"{p}.lora_B.default.weight"])

    def ln(x, p, eps=1e-5):
        return F.layer_norm(x, (x.shape[-1],), state[f"{p}.weight"], state[f"{p}.bias"], eps)

    def encode(images, enc):
        m = f"{enc}.base_model.model"
        x = (images - mean) / std
        p = f"{m}.patch_embed.proj"
        y = F.conv2d(x, state[f"{p}.base_layer.weight"], state[f"{p}.base_layer.bias"], stride=PATCH)
        y = y + SCALE * F.conv2d(F.conv2d(x, state[f"{p}.lora_A.default.weight"], stride=PATCH), state[f"{p}.lora_B.default.weight"])
        tokens = y.flatten(2).transpose(1, 2)
        tokens = torch.cat([state[f"{m}.cls_token"].expand(len(x), -1, -1), tokens], 1)
        for i in range(LAYERS):
            b = f"{m}.blocks.{i}"
            h = ln(tokens, f"{b}.norm1")
            qkv = lora_linear(h, f"{b}.attn.qkv").reshape(len(x), tokens.shape[1], 3, heads, -1).permute(2, 0, 3, 1, 4)
            att = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2]).transpose(1, 2).reshape(tokens.shape)
            tokens = tokens + state[f"{b}.gamma_1"] * lora_linear(att, f"{b}.attn.proj")
            h = F.gelu(F.linear(ln(tokens, f"{b}.norm2"), state[f"{b}.mlp.fc1.weight"], state[f"{b}.mlp.fc1.bias"]))
            tokens = tokens + state[f"{b}.gamma_2"] * F.linear(h, state[f"{b}.mlp.fc2.weight"], state[f"{b}.mlp.fc2.bias"])
        return ln(tokens, f"{m}.norm")

    def lin(x, p):
        return F.linear(x, state[f"{p}.weight"], state[f"{p}.bias"])

    tokens = encode(pain, "vit_model")
    if neutral is not None:
        ref = encode(neutral, "neutral_encoder")
        attended, _ = F.multi_head_attention_forward(
            tokens.transpose(0, 1), ref.transpose(0, 1), ref.transpose(0, 1), WIDTH, 8, state["neutral_cross_attn.in_proj_weight"],
            state["neutral_cross_attn.in_proj_bias"], None, None, False, 0.0, state["neutral_cross_attn.out_proj.weight"],
            state["neutral_cross_attn.out_proj.bias"], training=False, need_weights=False)
        tokens = ln(tokens + attended.transpose(0, 1), "neutral_norm")
    cls, patches = tokens[:, 0], tokens[:, 1:]
    h = F.gelu(lin(ln(cls, "pspi_head.0"), "pspi_head.2"))
    h = F.gelu(lin(h, "pspi_head.5"))
    h = F.gelu(lin(h, "pspi_head.8"))
    pspi = torch.sigmoid(lin(h, "pspi_head.11")).squeeze(-1)
    logits = torch.stack([lin(ln(cls, f"pspi_binary_heads.{k}.0"), f"pspi_binary_heads.{k}.2").squeeze(-1) for k in "123"], -1)
    q = state["au_queries"].expand(len(cls), -1, -1)
    pooled = torch.softmax(q @ patches.transpose(1, 2) / math.sqrt(WIDTH), -1) @ patches
    au = torch.relu(lin(F.gelu(lin(ln(pooled, "au_shared_features.0"), "au_shared_features.2")), "au_head").squeeze(-1))
    return pspi, logits, au


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from painctl.cli import main

    root = tmp_path_factory.mktemp("authors")
    state = authors_state_dict()
    ckpt = write_lightning_checkpoint(root / "vitpain-epoch=141-val_regression_mae=1.859.ckpt", state)
    try:
        main(["-q", "convert-checkpoint", "--image-size", "32", str(ckpt), str(root / "converted")])
    except SystemExit as exc:
        assert exc.code in (0, None)
    return state, ckpt, root / "converted"


def test_converted_checkpoint_reproduces_the_authors_forward(converted):
    from painctl.vitpain.authors import set_forward
    from painctl.vitpain.checkpoint import load_checkpoint

    state, ckpt, out = converted
    model, config, extra = load_checkpoint(out)
    assert config.architecture == "authors" and config.reference and config.image_size == 32
    assert extra["trained_forward"] == {**extra["trained_forward"], "name": "authors", "rotary_position_embedding": False, "register_tokens": False,
                                        "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    assert extra["converted_from"]["epoch"] == 141 and extra["converted_from"]["hyper_parameters"]["lora_rank"] == RANK
    assert model.spec.prefix_tokens == 1 + REGISTERS and model.spec.config["num_attention_heads"] == 2
    gen = torch.Generator().manual_seed(5)
    pain, neutral = torch.rand(3, 3, 32, 32, generator=gen), torch.rand(3, 3, 32, 32, generator=gen)
    set_forward(model, "authors")
    with torch.no_grad():
        ours = model(pain, neutral)
        pspi, logits, au = reference_forward(state, pain, neutral)
    torch.testing.assert_close(ours["pspi"], pspi, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(ours["logits"], logits, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(ours["au"] * torch.tensor([5, 5, 5, 5, 5, 1.0]), au, atol=2e-5, rtol=1e-4)
    # The backbone's own forward (RoPE, register tokens, its own statistics) is another function.
    set_forward(model, "model")
    with torch.no_grad():
        assert not torch.allclose(model(pain, neutral)["pspi"], pspi, atol=1e-3)


def test_predict_and_eval_on_the_converted_checkpoint(painctl, converted, tree, trained, tmp_path):
    _, _, out = converted
    images = tree / "meshes_inpainted"
    result = painctl("predict", "-c", out, "--forward", "authors", "-n", images / "flame_sample_0000_neutral_view_000.png",
                     "--json", images / "flame_sample_0000_pain_3_textured_view_000_inpainted.jpg")
    assert result.code == 0, result.stderr
    row = json.loads(result.stdout)
    assert 0 <= row["pspi"] <= 16 and all(0 <= row[k] <= 1 for k in ("p_pspi_ge_1", "p_pspi_ge_2", "p_pspi_ge_3"))
    # Without --forward authors the backbone's own forward runs, with a note saying how to reproduce theirs.
    result = painctl("predict", "-c", out, "-n", images / "flame_sample_0000_neutral_view_000.png", "--json",
                     images / "flame_sample_0000_pain_3_textured_view_000_inpainted.jpg")
    assert result.code == 0 and "--forward authors" in result.stderr and json.loads(result.stdout)["pspi"] != row["pspi"]
    _, split = trained
    result = painctl("eval", "--checkpoint", out, "--forward", "authors", "--split-csv", split, tree, tmp_path / "r")
    assert result.code == 0, result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["forward"] == "authors" and report["mode"] == "checkpoint"
    assert report["folds"][0]["test_subjects"] == ["flame_sample_0005"] and "validation subjects" in report["calibration"]


def test_forward_authors_is_refused_for_painctl_checkpoints(painctl, tree, trained, tmp_path):
    best, _ = trained
    images = tree / "meshes_inpainted"
    result = painctl("predict", "-c", best, "--forward", "authors", "-n", images / "flame_sample_0000_neutral_view_000.png",
                     images / "flame_sample_0000_pain_1_textured_view_000_inpainted.jpg")
    assert result.code == 1 and "--forward authors reproduces the authors' forward pass for checkpoints converted" in result.stderr
    assert "Traceback" not in result.stderr


class _Hostile:
    """Pickles as a call of os.system: loading it without weights_only would run the command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("zipped", [True, False])
def test_hostile_checkpoint_is_refused_unrun(painctl, tmp_path, zipped):
    marker = tmp_path / "pwned"
    ckpt = write_lightning_checkpoint(tmp_path / "evil.ckpt", authors_state_dict(reference=False), reference=False, payload=_Hostile(marker), zipped=zipped)
    result = painctl("convert-checkpoint", ckpt, tmp_path / "out")
    assert result.code == 1 and "refusing to load: it refers to posix.system" in result.stderr
    assert result.stderr.count("\n") == 1 and not marker.exists() and not (tmp_path / "out").exists()


def test_other_bad_checkpoints(painctl, tmp_path):
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint at all")
    result = painctl("convert-checkpoint", tmp_path / "junk.ckpt", tmp_path / "o")
    assert result.code == 1 and "not a PyTorch checkpoint" in result.stderr
    torch.save({"weights": torch.zeros(2)}, tmp_path / "plain.pt")
    result = painctl("convert-checkpoint", tmp_path / "plain.pt", tmp_path / "o")
    assert result.code == 1 and "not a PyTorch Lightning checkpoint (no state_dict)" in result.stderr
    state = authors_state_dict(reference=False)
    state.pop("vit_model.base_model.model.blocks.1.gamma_2")
    result = painctl("convert-checkpoint", write_lightning_checkpoint(tmp_path / "cut.ckpt", state, reference=False), tmp_path / "o")
    assert result.code == 1 and "blocks.1 has no gamma_2" in result.stderr
    assert not (tmp_path / "o").exists()


def test_single_image_checkpoint_and_refusal_over_out(painctl, tmp_path):
    ckpt = write_lightning_checkpoint(tmp_path / "single.ckpt", authors_state_dict(reference=False), reference=False)
    assert painctl("convert-checkpoint", "--image-size", "32", ckpt, tmp_path / "o").code == 0
    from painctl.vitpain.checkpoint import load_checkpoint

    model, config, _ = load_checkpoint(tmp_path / "o")
    assert not config.reference and model.neutral_encoder is None
    result = painctl("convert-checkpoint", ckpt, tmp_path / "o")
    assert result.code == 1 and "already exists" in result.stderr


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_an_existing_out_is_refused_without_force_and_replaced_with_it(painctl, tmp_path):
    ckpt = write_lightning_checkpoint(tmp_path / "single.ckpt", authors_state_dict(reference=False), reference=False)
    out = tmp_path / "o"
    assert painctl("convert-checkpoint", "--image-size", "32", ckpt, out).code == 0
    first = _files(out)
    assert {"config.json", "model.safetensors", "training.json"} <= set(first)
    result = painctl("convert-checkpoint", "--image-size", "48", ckpt, out)
    assert result.code == 1 and result.stderr == f"painctl: error: {out}: already exists; use --force to replace it\n"
    assert _files(out) == first
    result = painctl("convert-checkpoint", "--force", "--image-size", "48", ckpt, out)
    assert result.code == 0, result.stderr
    assert result.stdout == f"{out}\n" and f"pain encoder, 2 layers, width {WIDTH}" in result.stderr
    from painctl.vitpain.checkpoint import read_config

    assert read_config(out)[0].image_size == 48 and _files(out)["model.safetensors"] == first["model.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o", "single.ckpt"]  # no temporary, no old copy
    # A directory painctl did not write is never replaced, force or not.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    result = painctl("convert-checkpoint", "--force", ckpt, tmp_path / "mine")
    assert result.code == 1 and "painctl did not write" in result.stderr and (tmp_path / "mine" / "notes.txt").read_text() == "keep"


@pytest.mark.parametrize("zipped", [True, False])
def test_a_truncated_checkpoint_leaves_nothing_behind(painctl, tmp_path, zipped):
    whole = write_lightning_checkpoint(tmp_path / "whole.ckpt", authors_state_dict(reference=False), reference=False, zipped=zipped)
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    result = painctl("convert-checkpoint", cut, tmp_path / "o")
    assert result.code == 1 and result.stderr.startswith(f"painctl: error: {cut}: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and "not a PyTorch checkpoint" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.ckpt", "whole.ckpt"]
    # Over an existing OUT with --force, the old checkpoint stays as it was.
    assert painctl("convert-checkpoint", "--image-size", "32", whole, tmp_path / "o").code == 0
    before = _files(tmp_path / "o")
    result = painctl("convert-checkpoint", "--force", cut, tmp_path / "o")
    assert result.code == 1 and result.stderr.count("\n") == 1 and _files(tmp_path / "o") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.ckpt", "o", "whole.ckpt"]


def test_a_missing_file_or_bad_image_size_is_one_line(painctl, tmp_path):
    result = painctl("convert-checkpoint", tmp_path / "none.ckpt", tmp_path / "o")
    assert result.code == 1 and result.stderr == f"painctl: error: {tmp_path / 'none.ckpt'}: no such checkpoint file\n"
    from painctl.errors import BadValue
    from painctl.stages.convert_checkpoint import convert_checkpoint

    with pytest.raises(BadValue, match="^image_size must be an integer of at least 16, got 8$"):
        convert_checkpoint(tmp_path / "none.ckpt", tmp_path / "o", image_size=8)
    assert not (tmp_path / "o").exists()


def test_the_estimate_refuses_before_the_file_is_read(tmp_path, monkeypatch):
    import painctl.stages.convert_checkpoint as stage
    from painctl.stages.convert_checkpoint import convert_checkpoint

    # A truncated file: were it read before the estimate, its own error would come first.
    whole = write_lightning_checkpoint(tmp_path / "whole.ckpt", authors_state_dict(reference=False), reference=False)
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(whole.read_bytes()[:4096])
    monkeypatch.setattr(stage, "MEMORY_PER_FILE_BYTE", 1e12)  # petabytes for this file: no machine has them
    with pytest.raises(PainctlError, match=r"^this conversion needs about .* of memory, .*; pass big_ok=True to try anyway$"):
        convert_checkpoint(cut, tmp_path / "o")
    with pytest.raises(PainctlError, match="not a PyTorch checkpoint"):
        convert_checkpoint(cut, tmp_path / "o", big_ok=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.ckpt", "whole.ckpt"]


def test_eval_usage_errors(painctl, tree, tmp_path):
    split = split_file(tmp_path / "s.csv")
    (tmp_path / "f.json").write_text('[["flame_sample_0000"], ["flame_sample_0001"]]')
    result = painctl("eval", "--split-csv", split, "--folds-file", tmp_path / "f.json", tree, tmp_path / "r")
    assert result.code == 2 and "--split-csv and --folds-file both fix the split" in result.stderr
    result = painctl("eval", "--forward", "authors", "--split-csv", split, tree, tmp_path / "r")
    assert result.code == 2 and "--forward applies to --checkpoint only" in result.stderr
    assert not (tmp_path / "r").exists()


def test_older_peft_names_convert_to_the_same_weights(painctl, converted, tmp_path):
    """peft before 0.7 kept a wrapped module's weight under its own name (qkv.weight, no base_layer)."""
    from painctl.vitpain.checkpoint import load_checkpoint

    state, _, out = converted
    old = OrderedDict((k.replace(".base_layer.", "."), v) for k, v in state.items())
    ckpt = write_lightning_checkpoint(tmp_path / "old.ckpt", old)
    assert painctl("convert-checkpoint", "--image-size", "32", ckpt, tmp_path / "o").code == 0
    a, b = load_checkpoint(out)[0].state_dict(), load_checkpoint(tmp_path / "o")[0].state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_pspi_cuts_maximise_f1_on_the_regression_output():
    from painctl.evaluation.metrics import calibrate_pspi_cuts, evaluate

    rng = np.random.default_rng(0)
    true = rng.integers(0, 8, 200).astype(float)
    pred = true + rng.normal(0, 1.5, 200)
    cuts = calibrate_pspi_cuts(true, pred)
    for level, cut in zip((1, 2, 3), cuts):
        f1 = lambda c: 2 * np.sum((pred >= c) & (true >= level)) / (np.sum(pred >= c) + np.sum(true >= level))  # noqa: E731
        assert f1(cut) >= max(f1(c) for c in np.linspace(-5, 12, 400)) - 1e-12
    out = evaluate(true, pred, np.zeros((200, 3)), np.zeros((200, 6)), np.zeros((200, 6)), [0.5] * 3, cuts)
    assert out["cut_reg_1"] == cuts[0] and out["auroc_reg_1"] > 0.8 and out["auroc_1"] == 0.5  # the heads' scores are constant here
    assert calibrate_pspi_cuts(np.zeros(5), np.arange(5.0)) == [1.0, 2.0, 3.0]  # no positives: the level itself
