#!/usr/bin/env bash
# Paired neutral/pain renders from three views, then a larger variant with a noise background.
set -euo pipefail
out=${1:-views-example}
painctl sample-mesh -n 4 --balance gender --seed 1 "$out/heads"
painctl rig --pspi 4,10 --per-identity 2 "$out/heads" "$out/pain"
painctl render-views "$out/pain" "$out/views"
painctl render-views --views 0/0,45/10 --size 512 --background noise --seed 2 "$out/pain" "$out/views512"
painctl inspect "$out/views"
