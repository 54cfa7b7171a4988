#!/usr/bin/env bash
# Convert the authors' released ViTPain checkpoint and reproduce their predictions and numbers.
# Usage: examples/convert-checkpoint.sh CKPT [PAIN_FACES] [SPLIT_CSV]
#   CKPT        vitpain-epoch=141-val_regression_mae=1.859.ckpt from Hugging Face xinlei55555/ViTPain
#               (hf download xinlei55555/ViTPain vitpain-epoch=141-val_regression_mae=1.859.ckpt --local-dir .)
#   PAIN_FACES  the released dataset (git clone https://huggingface.co/datasets/SoroushMehraban/3D-Pain pain_faces)
#   SPLIT_CSV   the authors' data/splits/uniform_data_70_20_10_split.csv (TaatiTeam/Pain-in-3D)
# Environment: OUT (default vitpain-authors), IMAGE_SIZE (default 224, as the authors trained).
set -euo pipefail
ckpt=${1:?usage: examples/convert-checkpoint.sh CKPT [PAIN_FACES] [SPLIT_CSV]}
data=${2:-}
split=${3:-}
out=${OUT:-vitpain-authors}

# Read with torch.load(weights_only=True): a checkpoint that would run code is refused, not run.
painctl convert-checkpoint --force ${IMAGE_SIZE:+--image-size "$IMAGE_SIZE"} "$ckpt" "$out"

if [[ -n "$data" ]]; then
  images="$data/meshes_inpainted"
  neutral=$(ls "$images" | grep -m1 '_neutral' )
  pain=$(ls "$images" | grep -m1 "^${neutral%%_neutral*}_pain_")
  # Their forward pass (DINOv3 without RoPE and registers, ImageNet statistics), as the model was trained:
  painctl predict -c "$out" --forward authors -n "$images/$neutral" "$images/$pain"
  if [[ -n "$split" ]]; then
    # Score the split's test identities, calibrate the F1 cuts on its validation identities; the
    # "(PSPI regression)" rows score the PSPI output, as the authors' evaluation does.
    painctl eval --force --checkpoint "$out" --forward authors --split-csv "$split" "$data" "$out-eval"
  fi
fi
