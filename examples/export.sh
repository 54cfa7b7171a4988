#!/usr/bin/env bash
# Our renders and heatmaps in the released 3D-Pain layout (meshes_inpainted/, annotations/ for pain faces, heatmaps/),
# which the authors' loader (TaatiTeam/Pain-in-3D data/pain3d_loader.py) reads as it reads their release.
set -euo pipefail
out=${1:-export-example}
painctl sample-mesh -n 2 --seed 1 "$out/heads"
painctl rig --pspi 3,9 --per-identity 2 "$out/heads" "$out/pain"
painctl render-views "$out/pain" "$out/views"
painctl heatmap "$out/views" "$out/heat"
painctl export --format 3dpain "$out/heat" "$out/3dpain"
ls "$out/3dpain/annotations" | head
