#!/usr/bin/env bash
# Paired neutral/pain renders from three views in rooms (with segmentation, depth and normal maps),
# a larger variant with a noise background, and one with every scene and camera effect off.
set -euo pipefail
out=${1:-views-example}
painctl sample-mesh -n 4 --balance gender --seed 1 "$out/heads"
painctl rig --pspi 4,10 --per-identity 2 "$out/heads" "$out/pain"
painctl render-views "$out/pain" "$out/views"
painctl render-views --views 0/0,45/10 --size 512 --background noise --seed 2 "$out/pain" "$out/views512"
# Every scene and camera effect off: grey background, studio lights, the fixed pinhole, no maps.
painctl render-views --background plain --camera-model none --pose-jitter 0 --lighting studio --no-maps "$out/pain" "$out/views-plain"
ls "$out/views/segmentation" "$out/views/depth" "$out/views/normals" | head
painctl inspect "$out/views"
