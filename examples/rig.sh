#!/usr/bin/env bash
# Pain faces at exact PSPI levels: 6 identities, their neutral face and 4 pain faces each.
set -euo pipefail
out=${1:-rig-example}
painctl sample-mesh -n 6 --balance age,gender --seed 1 "$out/heads"
painctl rig --pspi 1-16 --per-identity 4 --seed 1 "$out/heads" "$out/pain"
painctl rig --au 'AU4=3,AU6=2,AU9=1,AU43=1' --asymmetry 1 "$out/heads" "$out/custom"
painctl inspect "$out/pain"
