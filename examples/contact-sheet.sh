#!/usr/bin/env bash
# One PNG to look at: identities by neutral face, PSPI levels and heatmap.
set -euo pipefail
out=${1:-sheet-example}
painctl sample-mesh -n 6 --balance age,gender,ethnicity --seed 1 "$out/heads"
painctl rig --pspi 2,6,10,14 --per-identity 4 "$out/heads" "$out/pain"
painctl render-views "$out/pain" "$out/views"
painctl heatmap "$out/views" "$out/heat"
painctl contact-sheet --force "$out/heat" "$out/sheet.png"
