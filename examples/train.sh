#!/usr/bin/env bash
# Train ViTPain (tiny backbone, CPU) on a small 3D-Pain-layout tree, resume a stopped run, then
# train a heatmap teacher and distil it into an RGB student. Usage: examples/train.sh DATA [OUT]
# DATA: a painctl render-views/heatmap artefact, a 3D-Pain tree or UNBC-McMaster as distributed.
set -euo pipefail
data=${1:?usage: examples/train.sh DATA [OUT]}
out=${2:-train-out}

painctl train --epochs 4 --batch-size 16 --image-size 64 "$data" "$out/run"
# Rerunning the same command resumes after the last finished epoch (here: nothing left to do).
painctl train --epochs 4 --batch-size 16 --image-size 64 "$data" "$out/run"
# A larger --epochs continues the finished run from its last checkpoint (other changed options are refused).
painctl train --epochs 6 --batch-size 16 --image-size 64 "$data" "$out/run"
python - "$out/run/best/training.json" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
print("best epoch", info["best_epoch"], "of", info["epochs"], "- validation subjects:", ", ".join(info["val_subjects"]))
for h in info["history"]:
    print(f"  epoch {h['epoch']}: train loss {h['train_loss']:.4f}, val loss {h.get('val_loss', float('nan')):.4f}, val PCC {h.get('val_pcc', float('nan')):.3f}")
PY

# Cross-modal distillation, when DATA has heatmaps.
if painctl train --input heatmap --epochs 3 "$data" "$out/teacher" 2>/dev/null; then
  painctl train --teacher "$out/teacher/best" --epochs 4 "$data" "$out/student"
fi
# Multi-GPU / multi-node: accelerate launch --multi_gpu --num_processes 4 -m painctl train "$data" "$out/run"
