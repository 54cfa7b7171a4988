#!/usr/bin/env bash
# What can this machine run? Run first on a new (GPU) box. Usage: examples/doctor.sh [DINOV3_DIR]
set -euo pipefail

# One line per part: ok / missing / FAIL, and under each missing part the line that installs it
# or points painctl to it. Exit status 0 when the embedded defaults work.
painctl doctor
# A local copy of a model instead of the Hugging Face cache (KIND: prior, controlnet, inpaint, hunyuan, dinov3).
if [ -n "${1:-}" ]; then painctl doctor --model "dinov3=$1"; fi
# For scripts: is a GPU there, and do the defaults work?
painctl doctor --json | python -c 'import json, sys; r = json.load(sys.stdin); c = {x["name"]: x for x in r["checks"]}; print("defaults work:", r["defaults_work"], "- CUDA:", c["CUDA"]["detail"])'
