#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: the CUDA tests (tests/gpu), which skip everywhere else.
# Writes their report to benchmarks/results/gpu_tests.txt. The GPU benchmark against TRL that
# issue 15 asks for is not written yet (see the README's "Devices and precision").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU here'; print(torch.cuda.get_device_name(0))"
.venv/bin/python -m pytest tests/gpu -rs -q | tee benchmarks/results/gpu_tests.txt
