#!/usr/bin/env bash
# UV textures and textured OBJ meshes from neutral faces. Usage: examples/texture.sh [OUT]
set -euo pipefail
out=${1:-texture-out}
mkdir -p "$out"
painctl sample-mesh -n 4 --seed 2 "$out/heads"
painctl render-neutral --size 512 "$out/heads" "$out/neutral"
painctl texture --size 1024 "$out/neutral" "$out/textured"
painctl inspect "$out/textured"
ls "$out/textured/textures"   # <id>.png, <id>.obj, <id>.mtl: open the .obj in any viewer
