#!/usr/bin/env bash
# Build the docs site into site/ (warnings are errors: a broken link or reference fails), then
# print the page to open. Creates .venv and installs the docs tools on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! .venv/bin/python -c "import mkdocs, material, mkdocstrings_handlers.python" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet -c constraints.txt -e '.[docs]'
fi
.venv/bin/python scripts/gen_docs.py
NO_MKDOCS_2_WARNING=1 .venv/bin/python -m mkdocs build --strict --quiet --site-dir site
echo "docs: file://$PWD/site/index.html"
