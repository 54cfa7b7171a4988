#!/usr/bin/env bash
# Pain-region heatmaps aligned with the renders, and the per-AU / per-PSPI statistics figure.
set -euo pipefail
out=${1:-heatmap-example}
painctl sample-mesh -n 4 --seed 1 "$out/heads"
painctl rig --pspi 2,8,14 --per-identity 3 "$out/heads" "$out/pain"
painctl render-views "$out/pain" "$out/views"
painctl heatmap "$out/views" "$out/heat"
echo "open $out/heat/stats.png and $out/heat/heatmaps/"
