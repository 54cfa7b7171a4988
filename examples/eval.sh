#!/usr/bin/env bash
# Cross-validate ViTPain by subject and print the metrics table. Usage: examples/eval.sh [DATA] [OUT]
# DATA: UNBC-McMaster as distributed (Images/, Frame_Labels/, AAM_landmarks/), a 3D-Pain tree or a
# painctl render-views artefact. Without DATA a tiny UNBC-layout tree (6 drawn subjects) is made.
set -euo pipefail
out=${2:-eval-out}
data=${1:-}
if [ -z "$data" ]; then
  data="$out/tiny-unbc"
  python - "$data" <<'PY'
import sys
sys.path.insert(0, "tests")
from unbc_tree import make_unbc_tree
make_unbc_tree(sys.argv[1], n_subjects=6, n_sequences=1, n_frames=8)
PY
fi

# 3 folds, tiny backbone, 1 epoch: minutes on a CPU. For the paper's protocol on UNBC use --folds 5
# and a real backbone (--backbone facebook/dinov3-vits16-pretrain-lvd1689m) with more epochs.
painctl eval --folds 3 --epochs 1 --image-size 32 --batch-size 16 --force "$data" "$out/report"
ls "$out/report"
# Without OUT (as in 'painctl eval --folds 5 unbc/'): the table on stdout, the report in a new
# directory named after the data and today's date in the working directory (never an existing one).
data_abs=$(cd "$data" && pwd)
(cd "$out" && painctl eval --folds 3 --checkpoint report/fold-1/best "$data_abs")

# Evaluate-only mode on fixed folds, averaging 2 neutral references per frame. DEMONSTRATION ONLY:
# fold 1's model was trained on the other folds' subjects, so these numbers are optimistic; in real use
# pass a checkpoint trained on other data (e.g. synthetic) and --calibration with other subjects.
python - "$out/report/report.json" "$out/folds.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
json.dump({"folds": [f["test_subjects"] for f in report["folds"]]}, open(sys.argv[2], "w"))
PY
painctl eval --checkpoint "$out/report/fold-1/best" --folds-file "$out/folds.json" --shots 2 --force "$data" "$out/rescored"
