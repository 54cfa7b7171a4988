#!/usr/bin/env bash
# Look inside an artefact, as a table and as JSON, and through a pipe. Usage: examples/inspect.sh [OUT]
set -euo pipefail
out=${1:-inspect-out}
mkdir -p "$out"

painctl -q sample-mesh -n 12 --balance gender,ethnicity "$out/heads"
painctl inspect "$out/heads"
painctl inspect --json "$out/heads" | python -c 'import json, sys; info = json.load(sys.stdin); print(info["rows"], "rows;", info["counts"]["ethnicity"])'
# A stage streamed straight into inspect (nothing written to disk).
painctl -q sample-mesh -n 8 - | painctl inspect -
# Not an artefact: one line on stderr, exit status 1.
painctl inspect "$out" || echo "exit status $?"
