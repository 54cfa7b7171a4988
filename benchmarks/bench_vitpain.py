"""ViTPain speed on this machine, and the learning check on generated data.

    .venv/bin/python benchmarks/bench_vitpain.py                    # speed: tiny and ViT-S/16-sized DINOv3
    .venv/bin/python benchmarks/bench_vitpain.py --learning-check DATA [--minutes 15]

Speed: training pairs per second (forward + backward + AdamW step on in-memory pairs, medians over
repeated steps) and predict latency per image (one pain + one neutral image, batch 1 and batch 32),
for the embedded tiny backbone (64 px, trained in full) and a DINOv3 configuration the size of
ViT-S/16 (hidden 384, 12 layers, 6 heads, 4 registers, 224 px; random weights, frozen with LoRA as
a pretrained one would be, so no download is needed).

Learning check: DATA is generated data that painctl.datasets.load_frames reads (render-views or
heatmap artefact, or a 3D-Pain export) with at least 250 identities; 200 train (10% of them held
out by identity for model selection) and 50 other identities are tested. The tiny model is trained
for as many epochs as fit in --minutes (estimated from a timed first epoch), at lr 3e-4 without
augmentation (the demo's recipe: see examples/demo.sh), and must reach PCC >= 0.8 and AUROC at
PSPI >= 1 of at least 0.75 on the 50 held-out identities. Give every identity the same PSPI levels
(a level list as long as --per-identity): `--pspi 1-16 --per-identity 4` deals levels 1-4 to one
identity and 5-8 to the next, so PSPI becomes a property of the person, a shortcut a model can learn
without looking at the expression. The data:

    painctl sample-mesh -n 250 --balance age,gender,ethnicity --seed 7 lc/heads
    painctl rig --pspi 1,2,3,4,6,8,11,14 --per-identity 8 --seed 7 lc/heads lc/pain
    painctl render-views --size 128 lc/pain lc/views      # 3 views, 6,750 images
    .venv/bin/python benchmarks/bench_vitpain.py --learning-check lc/views
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from painctl.vitpain.backbone import BackboneSpec, TINY_MEAN, TINY_STD
from painctl.vitpain.config import ModelConfig
from painctl.vitpain.model import build_model

VITS16 = {
    "model_type": "dinov3_vit",
    "hidden_size": 384,
    "intermediate_size": 1536,
    "num_hidden_layers": 12,
    "num_attention_heads": 6,
    "patch_size": 16,
    "num_register_tokens": 4,
    "image_size": 224,
}


def _median_time(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_model(name: str, config: ModelConfig, spec: BackboneSpec | None, train_batch: int, repeats: int) -> None:
    torch.manual_seed(0)
    model = build_model(config, spec, load_weights=False)
    size = config.image_size
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    print(f"\n{name}: {size} px, {total / 1e6:.2f} M parameters, {trainable / 1e6:.3f} M trainable")
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    pain, neutral = torch.rand(train_batch, 3, size, size), torch.rand(train_batch, 3, size, size)
    target = torch.rand(train_batch)

    def step():
        out = model(pain, neutral)
        loss = ((out["pspi"] - target) ** 2).mean() + out["logits"].mean() * 0 + out["au"].mean() * 0
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    model.train()
    t = _median_time(step, repeats)
    print(f"  train: {train_batch / t:8.1f} pairs/s   (batch {train_batch}, median step {t * 1e3:.0f} ms over {repeats})")
    model.eval()
    for batch in (1, 32):
        x, y = torch.rand(batch, 3, size, size), torch.rand(batch, 3, size, size)

        def forward():
            with torch.no_grad():
                model(x, y)

        t = _median_time(forward, repeats if batch == 1 else max(2, repeats // 2))
        print(f"  predict: {t / batch * 1e3:8.2f} ms per image (batch {batch}, model forward only)")


def bench_pipeline(size: int = 64, n: int = 256) -> None:
    """Data pipeline alone: paired loading (images decoded once, cached) + reference choice + augmentation."""
    from PIL import Image

    from painctl.datasets.frames import Frame
    from painctl.vitpain.pairs import ImageCache, PairDataset, find_references

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        frames = []
        for i in range(n):
            path = Path(tmp) / f"{i}.png"
            Image.fromarray(rng.integers(0, 255, (size * 2, size * 2, 3)).astype(np.uint8)).save(path)
            frames.append(Frame(image=path, subject=f"s{i // 8}", pspi=float(i % 8 > 1) * (i % 8), key=str(i)))
        data = PairDataset(frames, frames, find_references(frames), ImageCache(size), augment=True)
        start = time.perf_counter()
        for i in range(n):
            data[i]
        first = time.perf_counter() - start
        data.set_epoch(1)
        start = time.perf_counter()
        for i in range(n):
            data[i]
        later = time.perf_counter() - start
    print(f"  data pipeline ({size} px, pairing + shared geometric + per-image colour augmentation): "
          f"{n / later:8.1f} pairs/s once decoded, {n / first:.1f} pairs/s in the first epoch (PNG decoding)")


def speed(repeats: int) -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; timings are medians (shared machine: expect noise)")
    bench_model("tiny (embedded DINOv3, hidden 64, 4 layers)", ModelConfig(), None, 32, repeats)
    bench_pipeline()
    vits = BackboneSpec("vits16-sized (random)", dict(VITS16), TINY_MEAN, TINY_STD, pretrained=True)
    bench_model("ViT-S/16-sized DINOv3 (frozen + LoRA r=8 on q/v)", ModelConfig(backbone="vits16", image_size=224), vits, 8, max(3, repeats // 3))


def learning_check(data: Path, minutes: float, train_ids: int, test_ids: int, seed: int, image_size: int, batch_size: int) -> int:
    from painctl.datasets import load_frames
    from painctl.vitpain.config import TrainConfig
    from painctl.vitpain.inference import predict_frames
    from painctl.vitpain.training import split_validation, train_model

    frames = load_frames(data)
    subjects = sorted({f.subject for f in frames})
    if len(subjects) < train_ids + test_ids:
        print(f"learning check needs {train_ids + test_ids} identities, {data} has {len(subjects)}", file=sys.stderr)
        return 2
    order = np.random.default_rng(seed).permutation(len(subjects))
    train_set = {subjects[i] for i in order[:train_ids]}
    test_set = {subjects[i] for i in order[train_ids : train_ids + test_ids]}
    pool = [f for f in frames if f.subject in train_set]
    test = [f for f in frames if f.subject in test_set]
    train, val = split_validation(pool, 0.1, seed)
    print(f"learning check: {len(train)} train frames, {len(val)} validation frames ({train_ids} identities), {len(test)} test frames ({test_ids} identities)")
    model_config = ModelConfig(image_size=image_size)
    from painctl.vitpain.pairs import ImageCache

    start = time.perf_counter()
    cache = ImageCache(image_size)
    for frame in train + val:
        cache.get(frame)
    decode = time.perf_counter() - start  # every train_model call decodes the images once more
    with tempfile.TemporaryDirectory() as tmp:
        probe = TrainConfig(epochs=50, batch_size=batch_size, lr_heads=3e-4, seed=seed, augment=False)
        t0 = time.perf_counter()
        train_model(train, val, model_config, probe, Path(tmp) / "probe", stop_after=1, progress=False)
        first = time.perf_counter() - t0
    steady = max(first - decode, 1.0)
    left = minutes * 60 - (time.perf_counter() - start) - decode
    epochs = max(1, min(60, int(left / (steady * 1.1))))
    print(f"image decoding {decode:.0f} s, one epoch {steady:.0f} s after it; training {epochs} epochs to stay within {minutes:g} min")
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(epochs=epochs, batch_size=batch_size, lr_heads=3e-4, seed=seed, augment=False)
        t0 = time.perf_counter()
        best = train_model(train, val, model_config, config, Path(tmp) / "run")
        took = time.perf_counter() - t0
        pred = predict_frames(best, test, test)
    truth = np.array([f.pspi for f in test])
    pcc = float(np.corrcoef(pred.pspi, truth)[0, 1])
    mae = float(np.abs(pred.pspi - truth).mean())
    from sklearn.metrics import roc_auc_score

    pain = truth >= 1
    auroc = float(roc_auc_score(pain, pred.prob[:, 0])) if 0 < pain.sum() < len(pain) else float("nan")
    passed = pcc >= 0.8 and auroc >= 0.75
    total = time.perf_counter() - start
    print(f"training {took / 60:.1f} min, {total / 60:.1f} min in all; held-out identities: PCC {pcc:.3f}, MAE {mae:.2f} PSPI, "
          f"AUROC@PSPI>=1 {auroc:.3f} -> {'PASS' if passed else 'FAIL'} (goal PCC >= 0.8, AUROC >= 0.75)")
    return 0 if passed else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10, help="timed repetitions per figure")
    parser.add_argument("--learning-check", type=Path, metavar="DATA", help="run the learning check on generated DATA instead")
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--train-ids", type=int, default=200)
    parser.add_argument("--test-ids", type=int, default=50)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.learning_check:
        return learning_check(args.learning_check, args.minutes, args.train_ids, args.test_ids, args.seed, args.image_size, args.batch_size)
    speed(args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
