#!/usr/bin/env bash
# Split one job into shards (as a cluster job array would) and merge them with HDF5 virtual
# datasets, without copying. Usage: examples/merge.sh [OUT] [SHARDS]
set -euo pipefail
out=${1:-merge-out}
shards=${2:-4}
mkdir -p "$out"

parts=()
for k in $(seq 1 "$shards"); do
  painctl -q sample-mesh -n 40 --balance age,gender --seed 7 --shard "$k/$shards" "$out/part$k"
  parts+=("$out/part$k")
done
painctl merge "$out/heads" "${parts[@]}"
painctl inspect "$out/heads"    # row datasets are marked (virtual)
du -sh "$out/heads" "${parts[0]}"  # the merged artefact is small: it reads the shards in place
