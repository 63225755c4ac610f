#!/usr/bin/env bash
# The whole test suite (creates .venv and installs first if needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
