"""painctl train / train_model: subject-disjoint selection, resume, refusal, fine-tuning, heatmap teacher, learning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from painctl.datasets.frames import Frame
from painctl.errors import PainctlError
from painctl.vitpain.checkpoint import load_checkpoint
from painctl.vitpain.config import ModelConfig, TrainConfig
from painctl.vitpain.inference import predict_frames
from painctl.vitpain.training import train_model

LEVELS = (0, 2, 5, 9)


def face_image(identity_rng_seed: int, pspi: float, size: int = 32) -> np.ndarray:
    """A stand-in face: an identity-specific noisy background whose central patch brightens with PSPI."""
    base = np.random.default_rng(identity_rng_seed).integers(40, 200, (size, size, 3)).astype(np.float32)
    lo, hi = size // 4, 3 * size // 4
    base[lo:hi, lo:hi] = np.clip(base[lo:hi, lo:hi] * 0.3 + pspi * 14, 0, 255)
    return base.astype(np.uint8)


def make_threedpain(root: Path, identities: int = 6, levels=LEVELS, views=("view_000",), size: int = 32) -> Path:
    """Write a tiny tree in the released 3D-Pain layout (images/, annotations/, heatmaps/)."""
    for sub in ("images", "annotations", "heatmaps"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(identities):
        subject = f"flame_sample_{i:04d}"
        for level in levels:
            base = f"{subject}_neutral" if level == 0 else f"{subject}_pain_{level}"
            au4 = min(level, 5)
            au6 = min(level - au4, 5)
            labels = {"AU4": au4, "AU6": au6, "AU7": 0, "AU9": level - au4 - au6, "AU10": 0, "AU43": 0, "PSPI": level}
            (root / "annotations" / f"{base}_annotations.json").write_text(json.dumps(labels))
            for v, view in enumerate(views):
                Image.fromarray(face_image(1000 * i + v, level, size)).save(root / "images" / f"{base}_{view}.png")
                heat = np.zeros((size, size), np.float32)
                heat[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = level / 16
                np.save(root / "heatmaps" / f"{base}_{view}.npy", heat)
    return root


def make_frames(root: Path, identities: int = 6, levels=LEVELS, size: int = 32) -> list[Frame]:
    make_threedpain(root, identities, levels, size=size)
    from painctl.datasets import load_frames

    return load_frames(root)


def split(frames, val_ids=("0004",), test_ids=("0005",)):
    val = [f for f in frames if f.subject[-4:] in val_ids]
    test = [f for f in frames if f.subject[-4:] in test_ids]
    train = [f for f in frames if f not in val and f not in test]
    return train, val, test


CFG = ModelConfig(image_size=32)


def test_train_selects_on_validation_subjects_and_records_them(tmp_path):
    train, val, test = split(make_frames(tmp_path / "data"))
    best = train_model(train, val, CFG, TrainConfig(epochs=2, batch_size=8), tmp_path / "run", progress=False)
    assert best == tmp_path / "run" / "best"
    info = json.loads((best / "training.json").read_text())
    assert info["val_subjects"] == ["flame_sample_0004"]
    assert set(info["train_subjects"]) == {f.subject for f in train}
    assert "flame_sample_0005" not in info["train_subjects"] + info["val_subjects"]  # test subject never seen
    assert [h["epoch"] for h in info["history"]] == [1, 2]
    assert info["best_epoch"] == min(info["history"], key=lambda h: h["val_loss"])["epoch"]
    assert info["metrics"]["epoch"] == info["best_epoch"]
    model, config, extra = load_checkpoint(best)
    assert config == CFG and extra["best_epoch"] == info["best_epoch"]
    pred = predict_frames(model, test, test)
    assert pred.pspi.shape == (len(test),) and np.all((pred.pspi >= 0) & (pred.pspi <= 16))
    with pytest.raises(PainctlError, match="validation subjects must differ"):
        train_model(train, train[:3], CFG, TrainConfig(epochs=1), tmp_path / "bad", progress=False)


@pytest.mark.slow
def test_interrupted_run_resumes_and_matches_an_uninterrupted_one(tmp_path, capsys):
    train, val, _ = split(make_frames(tmp_path / "data"))
    cfg = TrainConfig(epochs=2, batch_size=8, seed=3)
    straight = train_model(train, val, CFG, cfg, tmp_path / "a", progress=False)
    train_model(train, val, CFG, cfg, tmp_path / "b", stop_after=1)  # "killed" after epoch 1
    first = json.loads((tmp_path / "b" / "last" / "training.json").read_text())
    assert first["epoch"] == 1
    capsys.readouterr()
    # Killed in the middle of swapping in a new last/: the previous one is recovered.
    (tmp_path / "b" / "last").rename(tmp_path / "b" / ".last.old-123")
    train_model(train, val, CFG, cfg, tmp_path / "b")
    assert "resuming" in capsys.readouterr().err
    done = json.loads((tmp_path / "b" / "last" / "training.json").read_text())
    assert [h["epoch"] for h in done["history"]] == [1, 2]
    # Same result as never stopping, up to float noise (Adam turns rounding-level gradient noise
    # on near-zero gradients into lr-sized steps, so compare outputs and losses, not raw weights).
    straight_history = json.loads((tmp_path / "a" / "last" / "training.json").read_text())["history"]
    assert done["history"][0] == straight_history[0]
    assert done["history"][1]["train_loss"] == pytest.approx(straight_history[1]["train_loss"], rel=3e-4)  # 1e-4 held for one epoch order, not for every seed
    test = split(make_frames(tmp_path / "data"))[2]
    pa = predict_frames(tmp_path / "a" / "last", test, test)
    pb = predict_frames(tmp_path / "b" / "last", test, test)
    np.testing.assert_allclose(pa.pspi, pb.pspi, atol=2e-3)
    assert json.loads((straight / "training.json").read_text())["best_epoch"] == json.loads((tmp_path / "b" / "best" / "training.json").read_text())["best_epoch"]
    # Finished: a rerun does nothing; other parameters than the epoch count are refused without force.
    train_model(train, val, CFG, cfg, tmp_path / "b")
    assert "up to date" in capsys.readouterr().err
    with pytest.raises(PainctlError, match="pass force=True to start over"):  # a library error names the parameter
        train_model(train, val, CFG, TrainConfig(epochs=3, batch_size=8, lr_heads=5e-4), tmp_path / "b", progress=False)
    # A hostile optimiser state in a run being resumed is refused without running it.
    train_model(train, val, CFG, TrainConfig(epochs=3, batch_size=8), tmp_path / "c", progress=False, stop_after=1)
    from test_checkpoint import Payload

    torch.save({"optimizer": Payload(tmp_path / "pwned")}, tmp_path / "c" / "last" / "optimizer.pt")
    with pytest.raises(PainctlError, match="unusable optimiser state"):
        train_model(train, val, CFG, TrainConfig(epochs=3, batch_size=8), tmp_path / "c", progress=False)
    assert not (tmp_path / "pwned").exists()


def test_init_fine_tunes_from_a_checkpoint_of_the_same_architecture(tmp_path):
    train, val, _ = split(make_frames(tmp_path / "data"))
    first = train_model(train, val, CFG, TrainConfig(epochs=1, batch_size=8), tmp_path / "pre", progress=False)
    tuned = train_model(train, val, CFG, TrainConfig(epochs=1, batch_size=8, lr_heads=1e-9, lr_lora=1e-9), tmp_path / "ft", init=first, progress=False)
    a, b = load_checkpoint(first)[0].state_dict(), load_checkpoint(tuned)[0].state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a)  # started from the checkpoint (tiny lr)
    with pytest.raises(PainctlError, match="another architecture"):
        train_model(train, val, ModelConfig(image_size=32, reference=False), TrainConfig(epochs=1), tmp_path / "x", init=first, progress=False)


def test_heatmap_teacher_and_distilled_student(tmp_path):
    train, val, _ = split(make_frames(tmp_path / "data"))
    teacher = train_model(train, val, ModelConfig(image_size=32, input="heatmap", reference=False), TrainConfig(epochs=1, batch_size=8), tmp_path / "t", progress=False)
    student = train_model(train, val, CFG, TrainConfig(epochs=1, batch_size=8, teacher=teacher, distill_weight=0.5), tmp_path / "s", progress=False)
    history = json.loads((student / "training.json").read_text())["history"]
    assert history[0]["train_distill"] > 0
    with pytest.raises(PainctlError, match="must be trained with input='heatmap'"):
        train_model(train, val, CFG, TrainConfig(epochs=1, teacher=student), tmp_path / "s2", progress=False)


def test_tiny_model_learns_pspi_on_held_out_identities(tmp_path):
    frames = make_frames(tmp_path / "data", identities=10, levels=(0, 1, 2, 4, 6, 9, 12))
    train, val, test = split(frames, val_ids=("0008",), test_ids=("0009",))
    best = train_model(train, val, CFG, TrainConfig(epochs=6, batch_size=8, lr_heads=1e-3, augment=False), tmp_path / "run", progress=False)
    pred = predict_frames(best, test, test)
    truth = np.array([f.pspi for f in test])
    assert np.corrcoef(pred.pspi, truth)[0, 1] > 0.8


def test_cli_train_end_to_end_and_bad_input(tmp_path, painctl):
    data = make_threedpain(tmp_path / "data")
    res = painctl("train", data, tmp_path / "run", "--epochs", "1", "--batch-size", "8", "--image-size", "32", "--val-fraction", "0.34",
                  "--no-augment")
    assert res.code == 0, res.stderr
    assert res.stdout.strip() == str(tmp_path / "run" / "best")
    info = json.loads((tmp_path / "run" / "best" / "training.json").read_text())
    assert info["run"]["train"]["augment"] is False
    assert len(info["val_subjects"]) == 2 and not set(info["val_subjects"]) & set(info["train_subjects"])
    assert len(info["train_subjects"]) + len(info["val_subjects"]) == 6
    again = painctl("train", data, tmp_path / "run", "--epochs", "2", "--image-size", "32")
    assert again.code == 1 and again.stderr.startswith("painctl: error:") and "--force" in again.stderr
    bad = painctl("train", data, tmp_path / "x", "--image-size", "30")
    assert bad.code == 1 and "multiple of 16" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    missing = painctl("train", data, tmp_path / "y", "--backbone", "nobody/nothing-here")
    assert missing.code == 1 and "not in the local Hugging Face cache" in missing.stderr


def test_unbc_frames_turn_on_weighted_sampling_and_low_au_weight(tmp_path):
    from painctl.vitpain.training import _epoch_order

    frames = []
    for s, subject in enumerate(("042-ll042", "043-jh043", "047-jl047")):
        seq = tmp_path / "Images" / subject / f"{subject[4:]}t1aaaff"
        seq.mkdir(parents=True)
        for k, level in enumerate((0, 0, 0, 3)):
            path = seq / f"{subject[4:]}t1aaaff{k + 1:03d}.png"
            Image.fromarray(face_image(s, level)).save(path)
            frames.append(Frame(image=path, subject=subject, pspi=float(level), key=f"{subject}/{k}"))
    train, val = frames[:8], frames[8:]
    best = train_model(train, val, CFG, TrainConfig(epochs=1, batch_size=4), tmp_path / "run", progress=False)
    info = json.loads((best / "training.json").read_text())
    assert info["weighted_sampling"] is True and info["au_weight"] == 0.1
    # Weight 2 for PSPI >= 1: a pain frame is drawn about twice as often as a neutral one.
    from painctl.vitpain.pairs import sample_weights

    draws = np.bincount(sum((_epoch_order(sample_weights(train), len(train), 0, e) for e in range(400)), []), minlength=8)
    pain = np.array([f.pspi >= 1 for f in train])
    assert 1.7 < draws[pain].mean() / draws[~pain].mean() < 2.3


def test_distributed_launch_trains_on_two_processes(tmp_path):
    """`accelerate launch` (and torchrun) run the same command in several processes; on this CPU box
    torchrun gives two gloo processes, `accelerate launch --cpu` one process through Accelerator."""
    import shutil
    import subprocess
    import sys

    pytest.importorskip("accelerate")
    data = make_threedpain(tmp_path / "data")
    common = ["-m", "painctl", "-q", "train", str(data), "--epochs", "1", "--batch-size", "4", "--image-size", "32"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517"]
    res = subprocess.run([*torchrun, *common, str(tmp_path / "ddp")], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(tmp_path / "ddp" / "best")  # reported once, by the main process
    info = json.loads((tmp_path / "ddp" / "best" / "training.json").read_text())
    assert info["processes"] == 2 and info["epoch"] == 1
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    launch = [accelerate, "launch", "--cpu", "--num_processes", "1", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    res = subprocess.run([*launch, *common, str(tmp_path / "acc")], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "acc" / "best" / "training.json").read_text())["epoch"] == 1


def test_killed_training_process_resumes(tmp_path):
    import signal
    import subprocess
    import sys

    data = make_threedpain(tmp_path / "data", identities=6)
    args = [sys.executable, "-m", "painctl", "train", str(data), str(tmp_path / "run"), "--epochs", "3", "--batch-size", "2", "--image-size", "32"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for line in proc.stderr:
        if line.startswith("epoch 1/3"):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    done = json.loads((tmp_path / "run" / "last" / "training.json").read_text())["epoch"]
    assert done in (1, 2)
    res = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert f"resuming {tmp_path / 'run'} after epoch {done}/3" in res.stderr.replace("\n", " ")
    history = json.loads((tmp_path / "run" / "last" / "training.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]


def test_pretrained_backbone_trains_only_lora_and_heads(tmp_path):
    from test_vitpain_model import save_hub_model

    saved = save_hub_model(tmp_path / "dinov2", "dinov2")
    train, val, test = split(make_frames(tmp_path / "data"))
    config = ModelConfig(backbone=str(tmp_path / "dinov2"), image_size=32)
    best = train_model(train, val, config, TrainConfig(epochs=1, batch_size=8, lr_lora=1e-3), tmp_path / "run", progress=False)
    info = json.loads((best / "training.json").read_text())
    assert info["lr_backbone"] == 1e-3 and info["lr_heads"] == 1e-4
    model = load_checkpoint(best)[0]
    frozen = saved.state_dict()
    for name, value in model.pain_encoder.state_dict().items():
        if "lora_" not in name:
            torch.testing.assert_close(value, frozen[name.replace(".base_layer", "")])  # rebuilt from the backbone dir
    lora_b = [p for n, p in model.neutral_encoder.named_parameters() if "lora_B" in n]
    assert lora_b and all(p.abs().sum() > 0 for p in lora_b)  # the adapters (zero at start) were trained
    assert predict_frames(model, test, test).pspi.shape == (len(test),)
