#!/usr/bin/env bash
# The demo behind `make demo`: the whole generation chain on a handful of identities with the
# embedded defaults (anny, CPU renderer, shaded skin), a contact sheet to look at, then a small
# ViTPain run (tiny backbone) trained and cross-validated on the result.
set -euo pipefail
out=${1:-demo-out}
mkdir -p "$out"
q=()   # add -q here to silence progress

painctl "${q[@]}" sample-mesh -n 12 --balance age,gender,ethnicity --seed 1 --export obj "$out/heads"
texture=()
if painctl texture --help >/dev/null 2>&1; then
  painctl "${q[@]}" render-neutral "$out/heads" "$out/neutral"
  painctl "${q[@]}" texture "$out/neutral" "$out/textures"
  texture=(--texture "$out/textures")
fi
painctl "${q[@]}" rig --pspi 2,4,8,12 --per-identity 4 --seed 1 "$out/heads" "$out/pain"
painctl "${q[@]}" render-views --size 224 "${texture[@]}" "$out/pain" "$out/views"
painctl "${q[@]}" heatmap "$out/views" "$out/heatmaps"
painctl "${q[@]}" contact-sheet --force "$out/heatmaps" "$out/contact-sheet.png"
painctl "${q[@]}" export --force --format 3dpain "$out/views" "$out/3dpain"
painctl "${q[@]}" train --epochs 3 --image-size 64 "$out/heatmaps" "$out/model"
painctl "${q[@]}" eval --folds 3 --epochs 3 --image-size 64 "$out/heatmaps" "$out/eval"

cat <<MSG

Open these:
  $out/contact-sheet.png               identities (rows) by neutral, PSPI levels and heatmap (columns)
  $out/heatmaps/                        per-image heatmaps and the per-AU / per-PSPI statistics figure
  $out/textures/                        textured meshes (OBJ+MTL) for any mesh viewer
  $out/heads/meshes/                    the raw identities as OBJ
  $out/heatmaps/stats.png               displacement per AU and per PSPI level in UV space
  $out/eval/summary.md                  cross-validation metrics; ROC, calibration and scatter PNGs beside it
  $out/model/                           a ViTPain checkpoint (try: painctl predict --checkpoint $out/model ...)
MSG
