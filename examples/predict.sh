#!/usr/bin/env bash
# Score face images against a neutral image of the same person with a trained checkpoint.
# Usage: examples/predict.sh CKPT NEUTRAL IMAGE_OR_DIR... (e.g. train-out/run/best)
set -euo pipefail
ckpt=${1:?usage: examples/predict.sh CKPT NEUTRAL IMAGE_OR_DIR...}
neutral=${2:?missing neutral reference image}
shift 2

painctl predict --checkpoint "$ckpt" --neutral "$neutral" "$@"                  # table (file names; -v: full paths)
painctl predict --checkpoint "$ckpt" --neutral "$neutral" "$@" | cut -f1,2      # piped: tab-separated, full paths
painctl predict --checkpoint "$ckpt" --neutral "$neutral" --json "$@" | head -3  # JSONL
painctl predict --checkpoint "$ckpt" --neutral "$neutral" --csv predictions.csv "$@" > /dev/null
# A bare --csv (after the images) writes a new <first image>-predictions-<date>.csv here.
painctl predict --checkpoint "$ckpt" --neutral "$neutral" "$@" --csv > /dev/null
# Uncropped photos: find the face with OpenCV's Haar cascade first.
# painctl predict --checkpoint "$ckpt" --neutral "$neutral" --crop photo.jpg
echo "wrote predictions.csv"
