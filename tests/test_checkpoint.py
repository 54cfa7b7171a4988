"""Checkpoints: safetensors round trip, only trainable tensors stored, hostile and foreign files refused."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from safetensors import safe_open

from painctl.errors import PainctlError
from painctl.vitpain.checkpoint import load_checkpoint, save_checkpoint
from painctl.vitpain.config import ModelConfig
from painctl.vitpain.model import build_model
from test_vitpain_model import save_hub_model


def _outputs(model, x):
    with torch.no_grad():
        return model.eval()(x, x.flip(-1))


def test_round_trip_tiny(tmp_path):
    torch.manual_seed(0)
    config = ModelConfig(image_size=32)
    model = build_model(config)
    save_checkpoint(model, config, tmp_path / "ckpt", {"train_subjects": ["a"], "epoch": 3})
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["config.json", "model.safetensors", "training.json"]
    loaded, loaded_config, extra = load_checkpoint(tmp_path / "ckpt")
    assert loaded_config == config and extra == {"train_subjects": ["a"], "epoch": 3}
    (tmp_path / "run").mkdir()
    (tmp_path / "ckpt").rename(tmp_path / "run" / "best")  # a training run's OUT means its best checkpoint
    assert load_checkpoint(tmp_path / "run")[2]["epoch"] == 3
    x = torch.rand(2, 3, 32, 32)
    for key in ("pspi", "logits", "au"):
        torch.testing.assert_close(_outputs(loaded, x)[key], _outputs(model, x)[key])


def test_hub_backbone_checkpoint_stores_adapters_and_heads_not_frozen_weights(tmp_path):
    save_hub_model(tmp_path / "dino")
    torch.manual_seed(0)
    config = ModelConfig(backbone=str(tmp_path / "dino"), image_size=32)
    model = build_model(config)
    with torch.no_grad():  # make the adapters non-trivial so the round trip means something
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.1)
    save_checkpoint(model, config, tmp_path / "ckpt")
    with safe_open(str(tmp_path / "ckpt" / "model.safetensors"), "pt") as fh:
        names = list(fh.keys())
    encoder_names = [n for n in names if n.startswith(("pain_encoder", "neutral_encoder"))]
    assert encoder_names and all("lora_" in n for n in encoder_names)
    assert any(n.startswith("cross_attention") for n in names)
    stored = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert stored["backbone"]["source"] == str(tmp_path / "dino") and stored["backbone"]["mean"] == [0.3, 0.2, 0.1]
    loaded = load_checkpoint(tmp_path / "ckpt")[0]
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(_outputs(loaded, x)["pspi"], _outputs(model, x)["pspi"])


class Payload:
    """Unpickling this would create a marker file: the proof that a loader executed code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture
def checkpoint(tmp_path):
    config = ModelConfig(image_size=32)
    torch.manual_seed(0)
    return save_checkpoint(build_model(config), config, tmp_path / "ckpt")


def test_hostile_pickle_weights_are_refused_without_running_them(tmp_path, checkpoint, painctl):
    marker = tmp_path / "pwned"
    (checkpoint / "model.safetensors").write_bytes(pickle.dumps({"w": Payload(marker)}))
    with pytest.raises(PainctlError, match="not a safetensors file"):
        load_checkpoint(checkpoint)
    torch.save({"w": Payload(marker)}, tmp_path / "evil.pt")  # a torch.save pickle passed as the checkpoint
    with pytest.raises(PainctlError, match="is a file"):
        load_checkpoint(tmp_path / "evil.pt")
    (checkpoint / "model.safetensors").write_bytes((tmp_path / "evil.pt").read_bytes())
    res = painctl("predict", "--checkpoint", checkpoint, "--neutral", tmp_path / "evil.pt", tmp_path / "evil.pt")
    assert res.code == 1 and res.stderr.startswith("painctl: error:") and "safetensors" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not marker.exists()


def test_other_architectures_are_refused(tmp_path, checkpoint):
    save_hub_model(tmp_path / "dino")
    with pytest.raises(PainctlError, match="Hugging Face dinov3_vit model, not a painctl ViTPain checkpoint"):
        load_checkpoint(tmp_path / "dino")
    # A ViTPain config whose weights were made for another architecture (single-image vs paired).
    data = json.loads((checkpoint / "config.json").read_text())
    data["model"]["reference"] = False
    (checkpoint / "config.json").write_text(json.dumps(data))
    with pytest.raises(PainctlError, match="does not match the ViTPain architecture"):
        load_checkpoint(checkpoint)
    data["model"]["heads"] = "many"
    data["model"]["surprise"] = 1
    (checkpoint / "config.json").write_text(json.dumps(data))
    with pytest.raises(PainctlError, match="unknown field"):
        load_checkpoint(checkpoint)
    (checkpoint / "config.json").write_text("{not json")
    with pytest.raises(PainctlError, match="not valid JSON"):
        load_checkpoint(checkpoint)
    with pytest.raises(PainctlError, match="no such directory"):
        load_checkpoint(tmp_path / "nothing")
