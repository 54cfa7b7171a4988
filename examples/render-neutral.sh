#!/usr/bin/env bash
# Neutral faces of a few balanced identities with the embedded skin model.
# Usage: examples/render-neutral.sh [OUT]
set -euo pipefail
out=${1:-render-neutral-out}
mkdir -p "$out"
painctl sample-mesh -n 6 --balance age,gender,ethnicity --seed 1 "$out/heads"
painctl render-neutral --size 512 "$out/heads" "$out/neutral"
ls "$out/neutral/images" "$out/neutral/depth"
# With the real Kandinsky 2.2 weights in the local Hugging Face cache (a GPU is advised):
#   painctl render-neutral --backend kandinsky --steps 50 "$out/heads" "$out/neutral-kd"
