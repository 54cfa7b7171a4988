#!/usr/bin/env bash
# The whole 3DPain-style generation chain for N identities (10 pain faces each, 3 views).
#   examples/generate.sh OUT N            on one machine
#   examples/generate.sh OUT N K/M        the K-th of M shards (job arrays; see generate.slurm);
#                                         then join: painctl merge OUT/heat OUT/shard-*/heat
set -euo pipefail
out=${1:?usage: generate.sh OUT N [K/M]}
n=${2:?usage: generate.sh OUT N [K/M]}
shard=${3:-1/1}
seed=${SEED:-1}
part="$out/shard-${shard%/*}"
[ "$shard" = 1/1 ] && part="$out"
mkdir -p "$part"
# The demographic balance is dealt over all N before the shard is cut, so the shards together are
# exactly the identities of one unsharded run; every later stage works on its shard's identities.
painctl sample-mesh -n "$n" --balance age,gender,ethnicity --seed "$seed" --shard "$shard" "$part/heads"
painctl render-neutral "$part/heads" "$part/neutral"
painctl texture "$part/neutral" "$part/textures"
painctl rig --pspi 1-16 --per-identity 10 --seed "$seed" "$part/heads" "$part/pain"
painctl render-views --texture "$part/textures" "$part/pain" "$part/views"
painctl heatmap "$part/views" "$part/heat"
echo "done: $part/heat"
