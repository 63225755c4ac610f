#!/usr/bin/env bash
# The default demo end to end: reverse digits, GRU attention seq2seq, 300 cross-entropy steps
# then REINFORCE with a leave-one-out baseline; prints the validation result and a plot path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
run=${1:-runs/demo-$(date +%Y%m%d-%H%M%S)}
.venv/bin/seqrl train --run-dir "$run"
.venv/bin/seqrl sample "$run" --greedy --n 5
.venv/bin/seqrl plot "$run" -o "$run/curves.png"
