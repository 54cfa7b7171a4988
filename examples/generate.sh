#!/usr/bin/env bash
# The whole 3DPain-style generation chain for N identities (10 pain faces each, 3 views at 224x224).
#   examples/generate.sh OUT N            on one machine: JOBS chains at once (default: every core,
#                                         at most one per 2 GB of available memory), each on its
#                                         shard of the identities, then merged into OUT/heat
#   examples/generate.sh OUT N K/M        just the K-th of M shards (job arrays; see generate.slurm);
#                                         then join: painctl merge OUT/heat OUT/shard-*/heat
# Textures are 512x512: at 224 px a view shows the face with about as many pixels as a 512 texture
# has texels on it (1024, the stage default, matches 512 px views).
set -euo pipefail
out=${1:?usage: generate.sh OUT N [K/M]}
n=${2:?usage: generate.sh OUT N [K/M]}
shard=${3:-}
seed=${SEED:-1}


if [ -z "$shard" ]; then
    # A chain peaks at about 1.8 GB (12 identities, measured: the textured render and its workers).
    by_memory=$(awk '/^MemAvailable:/ {print int($2 / (2 * 1024 * 1024))}' /proc/meminfo 2>/dev/null || true)
    jobs=${JOBS:-$(nproc)}
    [ -z "${JOBS:-}" ] && [ -n "$by_memory" ] && [ "$jobs" -gt "$by_memory" ] && jobs=$(( by_memory > 0 ? by_memory : 1 ))
    [ "$jobs" -gt "$n" ] && jobs=$n
    if [ "$jobs" -le 1 ]; then
        exec env RENDER_JOBS="${RENDER_JOBS:-}" "$0" "$out" "$n" 1/1
    fi
    # One chain per core, each single-process: whole chains in parallel keep both cores busy in
    # every stage (not only the rendering ones) and need no coordination beyond the final merge.
    pids=()
    for k in $(seq 1 "$jobs"); do
        RENDER_JOBS=1 "$0" "$out" "$n" "$k/$jobs" &
        pids+=($!)
    done
    status=0
    for pid in "${pids[@]}"; do wait "$pid" || status=1; done
    [ "$status" -eq 0 ] || { echo "generate.sh: a shard failed; rerun to resume (finished stages are cache hits)" >&2; exit 1; }
    shards=()
    for k in $(seq 1 "$jobs"); do shards+=("$out/shard-$k/heat"); done
    painctl -q merge "$out/heat" "${shards[@]}"
    echo "done: $out/heat"
    exit 0
fi

part="$out/shard-${shard%/*}"
[ "$shard" = 1/1 ] && part="$out"
mkdir -p "$part"
jobs_option=()
[ -n "${RENDER_JOBS:-}" ] && jobs_option=(--jobs "$RENDER_JOBS")
# Every task samples all N identities (seconds; same seed, same bytes) so that the shards of the
# later stages index identities globally and merge into exactly one unsharded run.
painctl -q sample-mesh -n "$n" --balance age,gender,ethnicity --seed "$seed" "$part/heads"
painctl -q render-neutral --texture-size 512 --shard "$shard" "$part/heads" "$part/neutral"
painctl -q texture --size 512 "$part/neutral" "$part/textures"
painctl -q rig --pspi 1-16 --per-identity 10 --seed "$seed" --shard "$shard" "$part/heads" "$part/pain"
painctl -q render-views "${jobs_option[@]}" --texture "$part/textures" "$part/pain" "$part/views"
painctl -q heatmap "$part/views" "$part/heat"
echo "done: $part/heat"
