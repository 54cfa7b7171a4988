#!/usr/bin/env bash
# One image to look at: identities by neutral face, PSPI levels and heatmap.
set -euo pipefail
out=${1:-sheet-example}
painctl sample-mesh -n 6 --balance age,gender,ethnicity --seed 1 "$out/heads"
painctl rig --pspi 2,6,10,14 --per-identity 4 "$out/heads" "$out/pain"
painctl render-views "$out/pain" "$out/views"
painctl heatmap "$out/views" "$out/heat"
painctl contact-sheet --force "$out/heat" "$out/sheet.png"
# Again: a cache hit. A .jpg name gets JPEG; without OUT: heat-contact-sheet.png in the working directory.
painctl contact-sheet "$out/heat" "$out/sheet.png"
painctl contact-sheet --view yaw+0_pitch+0 "$out/heat" "$out/sheet.jpg"
(cd "$out" && painctl contact-sheet heat/)
