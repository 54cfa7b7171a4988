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
# Every task samples all N identities (seconds; same seed, same bytes) so that the shards of the
# later stages index identities globally and merge into exactly one unsharded run.
painctl sample-mesh -n "$n" --balance age,gender,ethnicity --seed "$seed" "$part/heads"
painctl render-neutral --shard "$shard" "$part/heads" "$part/neutral"
painctl texture "$part/neutral" "$part/textures"
painctl rig --pspi 1-16 --per-identity 10 --seed "$seed" --shard "$shard" "$part/heads" "$part/pain"
painctl render-views --texture "$part/textures" "$part/pain" "$part/views"
painctl heatmap "$part/views" "$part/heat"
echo "done: $part/heat"
