#!/usr/bin/env bash
# On a machine with an NVIDIA GPU, in one command:
#   1. the CUDA tests (tests/gpu, which skip everywhere else)  -> benchmarks/results/gpu_tests.txt
#   2. seqrl RLOO against TRL's RLOOTrainer on a GPT-2-small-sized model (12 layers, width 768,
#      random weights from the config: nothing is downloaded), both on the GPU, fp32 and bf16,
#      BUDGET seconds each: completions/s and peak GPU memory -> benchmarks/results/gpu.{json,md}
#      and gpu_bf16.{json,md}
#
#   bash benchmarks/gpu_check.sh                 # creates .venv with scripts/setup.sh (needs PyPI)
#   PY=python3 bash benchmarks/gpu_check.sh      # a Python that already has a CUDA torch,
#                                                # transformers, trl and datasets (offline machines)
# BUDGET (default 60) sets the seconds of training per run; a full check takes about 4 x BUDGET
# plus the warm starts (about 8 minutes). Children inherit PYTHONPATH (the benchmarks prepend the
# checkout to it, never replace it), so packages brought as wheels onto PYTHONPATH are found.
# The whole suite with CUDA visible: SUITE=1 also runs `pytest -n 8` (outside tests/gpu the suite
# keeps to the CPU by its rule, see tests/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PY:-}" ]; then
  bash scripts/setup.sh
  .venv/bin/python -m pip install --quiet -c constraints.txt -e '.[bench]'
  PY=.venv/bin/python
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
BUDGET=${BUDGET:-60}
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU here'; print(torch.__version__, torch.cuda.get_device_name(0))"
"$PY" -m pytest tests/gpu -rs -q -p no:cacheprovider | tee benchmarks/results/gpu_tests.txt
if [ -n "${SUITE:-}" ]; then
  "$PY" -m pytest -n 8 -q -p no:cacheprovider | tail -5 | tee benchmarks/results/gpu_suite.txt
fi
for precision in fp32 bf16; do
  out=benchmarks/results/gpu.json
  [ "$precision" = fp32 ] || out=benchmarks/results/gpu_$precision.json
  "$PY" benchmarks/trl_comparison.py --model small --device cuda --precision "$precision" \
    --runs seqrl_rloo,trl_rloo --budget "$BUDGET" --work "runs/gpu-$precision" --out "$out"
done
